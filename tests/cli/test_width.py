"""Terminal output fits the terminal, 80 columns included, piped or not: no line is wider than
``COLUMNS``, and no amount or name is broken across lines (each appears whole)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tco.cli.main import main
from tco.cli.render import usd

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    out = {}
    for name in ("research-lab", "llm-platform"):
        path = tmp_path_factory.mktemp("json") / f"{name}.json"
        assert main(["compare", str(ROOT / "examples" / f"{name}.toml"), "--offline",
                     "--format", "json", "-o", str(path)]) == 0
        out[name] = json.loads(path.read_text())
    return out


@pytest.mark.parametrize("name", ["research-lab", "llm-platform"])
@pytest.mark.parametrize("columns", [80, 100, 160])
def test_compare_fits_and_breaks_no_amount(name, columns, reports, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["compare", str(ROOT / "examples" / f"{name}.toml"), "--offline"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns
    doc = reports[name]
    words = {w for line in lines for w in line.split()}
    def shown(x):
        # the JSON keeps cents: $3,642,520.50 may print as $3,642,520 or $3,642,521
        return {usd(x - 0.005), usd(x), usd(x + 0.005)}

    for s in doc["scenarios"]:
        assert s["name"] in words or f"{s['name']}" in text
        if s["npv_usd"] is not None:
            assert shown(s["npv_usd"]) & words, (s["name"], usd(s["npv_usd"]))
    for p in doc["procurement"]:
        if p["scenario"] == doc["recommended"]:
            assert shown(p["capex_usd"]) & words
            assert p["server"] in words and p["order_month"] in words
    for r in doc["retirements"]:
        if r["scenario"] == doc["recommended"]:
            assert shown(r["resale_usd"]) & words


def test_infeasible_reasons_are_numbered_notes(reports, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    main(["compare", str(ROOT / "examples" / "llm-platform.toml"), "--offline"])
    text = capsys.readouterr().out
    infeasible = [s["name"] for s in reports["llm-platform"]["scenarios"] if not s["feasible"]]
    assert infeasible
    for k, name in enumerate(infeasible, start=1):
        assert f"no [{k}]" in text
        assert f"[{k}] {name} is not feasible:" in text


def test_a_wide_pipe_shows_every_column(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    main(["compare", str(ROOT / "examples" / "research-lab.toml"), "--offline"])
    text = capsys.readouterr().out
    for header in ("capex", "opex", "$/GPU-hour", "instance/server", "cohort", "all-in $/GPU-h"):
        assert header in text


NINE = ["aws", "gcp", "azure", "lambda", "nebius", "coreweave", "crusoe", "runpod", "oci"]


@pytest.mark.parametrize("columns", [80, 100])
def test_nine_providers_keep_the_scenario_table_readable(columns, tmp_path, monkeypatch,
                                                         capsys):
    # the GPU-cloud example with every provider named: one row per scenario, every NPV
    # whole, within the terminal's width
    text = (ROOT / "examples" / "gpu-clouds.toml").read_text()
    text = text.replace('providers = ["aws", "nebius", "lambda"]',
                        f"providers = {json.dumps(NINE)}")
    plan = tmp_path / "nine.toml"
    plan.write_text(text)
    doc_path = tmp_path / "nine.json"
    assert main(["compare", str(plan), "--offline", "--format", "json", "-o",
                 str(doc_path)]) == 0
    doc = json.loads(doc_path.read_text())
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["compare", str(plan), "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= columns
    names = [s["name"] for s in doc["scenarios"]]
    assert names == ["hybrid", "cloud-only", *(f"{p}-only" for p in NINE), "onprem-only"]
    table = lines[:lines.index(next(line for line in lines if line.startswith("onprem-only")))
                  + 1]
    for s in doc["scenarios"]:
        row = next(line for line in table if line.split() and line.split()[0] in (
            s["name"], f"{s['name']}"))
        if s["npv_usd"] is not None:
            assert {usd(s["npv_usd"] - 0.005), usd(s["npv_usd"]),
                    usd(s["npv_usd"] + 0.005)} & set(row.split()), (s["name"], row)


def test_at_80_columns_the_figures_a_decision_needs_stay_and_the_dropped_are_named(
        monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TCO_OFFLINE", "1")
    # the price list keeps each price per GPU-hour and its date
    assert main(["prices", "list", "--provider", "aws", "--gpu", "H100", "--region",
                 "us-east-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("provider"))
    assert "$/GPU-hour" in header
    assert "as of" in header
    assert any("6.8800" in line and "on_demand" in line for line in lines)
    notice = " ".join(" ".join(lines[:4]).split())
    assert "not shown at 80 columns:" in notice.lower() and "$/hour" in notice
    # the scenario table keeps NPV, Δ NPV, $/GPU-hour and the gap, and names what it drops
    assert main(["compare", str(ROOT / "examples" / "research-lab.toml"), "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("scenario"))
    for column in ("NPV", "Δ NPV", "$/GPU-hour", "gap"):
        assert column in header, header
    title = " ".join(" ".join(lines[1:7]).split())
    assert "not shown at 80 columns: total, capex, opex" in title
