"""Bad option values and implausible plans: the prices filters name what they know, validate
runs the checks compare runs before solving, far-off figures warn with their key path, and
suggestions keep to the family of the name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tco.cli.main import main
from tco.optimizer import plan_from_dict
from tco.pricing.names import close_names, did_you_mean
from tests.conftest import plan_doc

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("args", "expected"), [
    (["--provider", "oracle"], ["--provider oracle: not a known provider",
                                ("known: aws, azure, coreweave, crusoe, gcp, lambda, "
                                 "nebius, oci, runpod")]),
    (["--gpu", "B300"], ["--gpu B300: not a known GPU class", "did you mean 'B200'?"]),
    (["--gpu", "A100"], ["did you mean 'A100-40GB' or 'A100-80GB'?"]),
    (["--region", "us-east-9"], ["--region us-east-9: not a known region"]),
])
def test_unknown_filter_values_exit_2_naming_the_known_ones(args, expected, capsys):
    assert main(["prices", "list", *args]) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, err


def test_filter_values_any_case_still_filter(capsys):
    assert main(["prices", "list", "--provider", "AWS", "--gpu", "h100", "--format",
                 "json"]) == 0
    assert '"gpu": "H100"' in capsys.readouterr().out


def test_family_first_then_likeness():
    known = ["H100", "A100-40GB", "A100-80GB", "A10", "L4", "L40S"]
    assert close_names("A100", known) == ["A100-40GB", "A100-80GB"]
    assert close_names("a10", known) == ["A10"]             # the same name in another case
    assert close_names("L4S", known) == ["L40S"]
    assert did_you_mean("zzz", known) == ""


def test_a_plan_file_suggests_the_family(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text('[plan]\nstart = "2027-01"\nmonths = 2\n[cloud]\nproviders = ["aws"]\n'
                    '[[workloads]]\nname = "t"\nkind = "training"\ngpu = "A100"\n'
                    'gpu_hours = 10\n')
    assert main(["validate", str(plan)]) == 2
    assert "did you mean 'A100-40GB' or 'A100-80GB'?" in capsys.readouterr().err


def test_validate_prints_what_compare_rules_out_before_solving(capsys):
    assert main(["validate", str(ROOT / "examples" / "llm-platform.toml")]) == 0
    out = capsys.readouterr().out
    # the LLM platform's chat services cannot be served from its one site within their
    # latency bounds: compare rules onprem-only out before building its program
    assert "onprem-only: ruled out before solving: chat-us: no L4/L40S offer within 70 ms" in out
    assert "scenarios to solve: hybrid, cloud-only, aws-only, gcp-only" in out


def test_validate_exits_1_when_no_scenario_can_work(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text('[plan]\nstart = "2027-01"\nmonths = 2\n[cloud]\nproviders = ["aws"]\n'
                    '[[workloads]]\nname = "t"\nkind = "training"\ngpu = "MI300X"\n'
                    'gpu_hours = 10\n')
    assert main(["validate", str(plan)]) == 1
    captured = capsys.readouterr()
    assert "aws-only: ruled out before solving" in captured.out
    assert "no scenario can be served" in captured.err


SITE = {"name": "dc", "location": "us-east"}
SERVER = {"name": "box", "gpu": "H100", "gpus": 8, "price_usd": 250_000.0, "power_kw": 10.0}


def warnings_of(site=None, server=None):
    doc = plan_doc({"name": "t", "kind": "training", "gpu": "H100", "gpu_hours": 10.0},
                   onprem={"sites": [{**SITE, **(site or {})}],
                           "servers": [{**SERVER, **(server or {})}]})
    return plan_from_dict(doc).warnings


def test_published_figures_do_not_warn():
    assert warnings_of({"electricity_usd_per_kwh": 0.12, "pue": 1.4}) == ()


@pytest.mark.parametrize(("site", "server", "expected"), [
    ({"electricity_usd_per_kwh": 70.0}, None,
     "onprem.sites[0].electricity_usd_per_kwh = 70 USD/kWh is above 1"),
    ({"electricity_usd_per_kwh": 0.001}, None,
     "onprem.sites[0].electricity_usd_per_kwh = 0.001 USD/kWh is below 0.01"),
    ({"pue": 3.5}, None, "onprem.sites[0].pue = 3.5 ratio is above 3"),
    ({"colo_usd_per_kw_month": 5000.0}, None, "onprem.sites[0].colo_usd_per_kw_month = 5,000"),
    (None, {"price_usd": 2_500_000.0},
     "onprem.servers[0].price_usd / gpus = 312,500 USD/GPU is above 200,000"),
    (None, {"maintenance_rate": 0.9}, "onprem.servers[0].maintenance_rate = 0.9"),
])
def test_far_off_figures_warn_with_their_key_path(site, server, expected):
    (warning,) = warnings_of(site, server)
    assert warning.startswith(expected)
    assert "published figures" in warning


def test_validate_shows_the_warning(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text('[plan]\nstart = "2027-01"\nmonths = 2\n[cloud]\nproviders = ["aws"]\n'
                    '[[onprem.sites]]\nname = "dc"\nlocation = "us-east"\n'
                    'electricity_usd_per_kwh = 70\n'
                    '[[workloads]]\nname = "t"\nkind = "training"\ngpu = "H100"\n'
                    'gpu_hours = 10\n')
    assert main(["validate", str(plan)]) == 0
    assert "electricity_usd_per_kwh = 70 USD/kWh is above 1" in capsys.readouterr().err
