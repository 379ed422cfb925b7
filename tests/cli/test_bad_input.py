"""The malformed-input catalogue: every case exits 2 with a message naming file and key,
and never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tco.cli.main import main

HEAD = '[plan]\nstart = "2027-01"\nmonths = 12\n'
TRAIN = '[[workloads]]\nname = "t"\nkind = "training"\ngpu = "H100"\ngpu_hours = 1000\n'
SITE = '[[onprem.sites]]\nname = "dc"\nlocation = "us-east"\n'
SERVER = ('[[onprem.servers]]\nname = "box"\ngpu = "H100"\ngpus = 8\nprice_usd = 1000\n'
          'power_kw = 10\nresidual_fraction = 0.1\n')

CASES = [
    ("toml syntax", '[plan\nstart = "2027-01"\n', "line 1, column 6"),
    ("unknown key with suggestion", HEAD + TRAIN.replace("gpu_hours", "gpu_hour"),
     "workloads[0].gpu_hour: unknown key; did you mean 'gpu_hours'?"),
    ("unknown top-level table", HEAD + TRAIN + "[clod]\nproviders = []\n",
     "clod: unknown key; did you mean 'cloud'?"),
    ("missing start", '[plan]\nmonths = 12\n' + TRAIN, "plan.start: required key is missing"),
    ("bad month", HEAD.replace("2027-01", "2027-13") + TRAIN,
     "plan.start: expected a month as YYYY-MM"),
    ("zero horizon", HEAD.replace("12", "0") + TRAIN, "plan.months: must be greater than 0"),
    ("negative demand", HEAD + TRAIN.replace("1000", "-5"),
     "workloads[0].gpu_hours: must be greater than 0"),
    ("training without gpu_hours", HEAD + TRAIN.replace("gpu_hours = 1000\n", ""),
     "workloads[0]: a training workload needs 'gpu_hours'"),
    ("inference without gpus",
     HEAD + '[[workloads]]\nname = "i"\nkind = "inference"\ngpu = "L4"\n',
     "workloads[0]: an inference workload needs 'gpus'"),
    ("bad kind", HEAD + TRAIN.replace('"training"', '"train"'), "workloads[0].kind"),
    ("unknown GPU class", HEAD + TRAIN.replace('"H100"', '"H10"'),
     "workloads[0].gpu: unknown GPU class 'H10'; did you mean 'H100'?"),
    ("duplicate names", HEAD + TRAIN + TRAIN, "workloads[1].name: 't' is used twice"),
    ("window outside horizon", HEAD + TRAIN + 'window = ["2026-06", "2027-02"]\n',
     "workloads[0].window[0]: 2026-06 lies outside the horizon 2027-01..2027-12"),
    ("shares do not sum to 1",
     HEAD + '[[workloads]]\nname = "i"\nkind = "inference"\ngpu = "L4"\ngpus = 2\n'
     'users = { us-east = 0.5, eu-west = 0.4 }\n',
     "workloads[0].users: shares must sum to 1, they sum to 0.9"),
    ("unknown metro",
     HEAD + '[[workloads]]\nname = "i"\nkind = "inference"\ngpu = "L4"\ngpus = 2\n'
     'users = { eu-wst = 1.0 }\n', "workloads[0].users.eu-wst: unknown metro; did you mean"),
    ("data_at unresolved", HEAD + TRAIN + 'dataset_tb = 5\ndata_at = "ashburn"\n',
     "workloads[0].data_at: 'ashburn' is neither a site"),
    ("data_at bad region", HEAD + TRAIN + 'dataset_tb = 5\ndata_at = "aws:us-east-9"\n',
     "workloads[0].data_at: 'us-east-9' is not a region of aws"),
    ("fraction out of range", HEAD + '[cloud]\ndiscounts = { aws = 1.5 }\n' + TRAIN,
     "cloud.discounts.aws: must be less than or equal to 1"),
    ("availability of 1", HEAD + TRAIN + "availability = 1.0\n",
     "workloads[0].availability: must be less than 1"),
    ("unknown provider", HEAD + '[cloud]\nproviders = ["oracle"]\n' + TRAIN,
     ("cloud.providers[0]: must be 'aws', 'gcp', 'azure', 'lambda', 'nebius', 'coreweave', "
      "'crusoe', 'runpod' or 'oci' (got 'oracle')")),
    ("existing server unresolved",
     HEAD + TRAIN + SITE + 'existing = [{ server = "hgx", count = 2 }]\n' + SERVER,
     "onprem.sites[0].existing[0].server: no server named 'hgx'"),
    ("server price not positive", HEAD + TRAIN + SITE + SERVER.replace("1000", "0"),
     "onprem.servers[0].price_usd: must be greater than 0"),
    ("unknown site location", HEAD + TRAIN + SITE.replace("us-east", "mars") + SERVER,
     "onprem.sites[0].location: unknown metro 'mars'"),
    ("negative amount", HEAD + TRAIN + "storage_tb = -1\n",
     "workloads[0].storage_tb: must be greater than or equal to 0"),
    ("latency without users", HEAD + TRAIN + "max_latency_ms = 20\n",
     "workloads[0].max_latency_ms: needs 'users'"),
    ("retention out of range", HEAD + TRAIN + SITE
     + SERVER.replace("residual_fraction = 0.1\n", "resale_retention_per_year = 1.5\n"),
     "onprem.servers[0].resale_retention_per_year: must be less than or equal to 1"),
    ("bad solver", HEAD.replace("months = 12", 'months = 12\nsolver = "gurobi"') + TRAIN,
     "plan.solver: must be 'highs' or 'cbc'"),
]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_plan_exits_2_naming_the_key(tmp_path: Path, capsys, name, text, expected):
    plan = tmp_path / "plan.toml"
    plan.write_text(text)
    for command in (["validate", str(plan)], ["compare", str(plan), "--format", "json"]):
        code = main(command)
        out = capsys.readouterr()
        assert code == 2, (name, out.err)
        assert str(plan) in out.err
        assert expected in out.err, out.err
        assert "Traceback" not in out.err
        assert out.out == ""


def test_missing_plan_file(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path / "none.toml")]) == 2
    assert "cannot read plan" in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare"])
    assert exc.value.code == 2


@pytest.mark.parametrize("doc,expected", [
    ("{not json", "invalid JSON"),
    (json.dumps({"schema": 2, "compute": []}), "'schema' must be 1"),
    (json.dumps({"schema": 1, "compute": [{"provider": "aws"}]}),
     "compute[0]: missing 'purchase'"),
    (json.dumps({"schema": 1, "compute": [{
        "provider": "aws", "region": "us-east-1", "instance_type": "x", "gpu": "L4",
        "gpu_count": 1, "purchase": "on_demand", "usd_per_hour": "cheap",
        "as_of": "2026-01-01"}]}), "compute[0]: 'usd_per_hour' = 'cheap' is not a number"),
])
def test_bad_catalog_exits_2(tmp_path: Path, capsys, doc, expected):
    plan = tmp_path / "plan.toml"
    plan.write_text(HEAD + TRAIN)
    cat = tmp_path / "cat.json"
    cat.write_text(doc)
    assert main(["compare", str(plan), "--catalog", str(cat)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(cat) in err and "Traceback" not in err


def test_init_never_overwrites(tmp_path: Path, capsys):
    target = tmp_path / "workload.toml"
    target.write_text("# mine\n")
    assert main(["init", str(target)]) == 2
    assert target.read_text() == "# mine\n"
    assert "already exists" in capsys.readouterr().err


MANY = '''[plan]
start = "2027-01"
months = 12

[cloud]
providers = ["aws"]
discounts = { aws = 7.0 }

[[workloads]]
name = "a"
kind = "training"
gpu = "H100"
gpu_hours = -5

[[workloads]]
name = "b"
kind = "training"
gpu = "H1000"
gpu_hours = 1000
window = ["2026-01", "2027-03"]
data_at = "nowhere"
'''


def test_every_error_of_a_file_in_one_run(tmp_path, capsys):
    # the values that are wrong (a discount of 7, negative demand) and the references of the
    # rest (an unknown class, a window outside the horizon, an unknown data_at), at once
    plan = tmp_path / "many.toml"
    plan.write_text(MANY)
    assert main(["validate", str(plan)]) == 2
    err = capsys.readouterr().err
    for text in ("5 problems", "cloud.discounts.aws: must be less than or equal to 1",
                 "workloads[0].gpu_hours: must be greater than 0",
                 "workloads[1].gpu: unknown GPU class 'H1000'; did you mean 'H100'?",
                 "workloads[1].window[0]: 2026-01 lies outside the horizon",
                 "workloads[1].data_at: 'nowhere' is neither a site"):
        assert text in err, (text, err)
    assert "Traceback" not in err


def test_an_absurd_magnitude_warns_with_its_key_and_the_published_range(tmp_path, capsys):
    # 9e15 GPU-hours over a year is 9e15 / 8,760 = 1.03e12 GPUs at once
    plan = tmp_path / "huge.toml"
    plan.write_text(HEAD + TRAIN.replace("gpu_hours = 1000", "gpu_hours = 9e15"))
    assert main(["validate", str(plan)]) == 0
    err = capsys.readouterr().err
    assert ("warning: workloads[0].gpu_hours / hours of its window = 1.0274e+12 GPUs is "
            "above 100,000") in err
    assert "16,384 H100" in err


def test_validate_with_a_bad_catalog_does_not_say_ok_first(tmp_path, capsys):
    plan = tmp_path / "p.toml"
    plan.write_text(HEAD + TRAIN)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1, "compute": [{"provider": "aws"}]}')
    assert main(["validate", str(plan), "--catalog", str(bad)]) == 2
    out = capsys.readouterr()
    assert "ok" not in out.out
    assert "bad.json: compute[0]: missing 'purchase'" in out.err
