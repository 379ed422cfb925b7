"""Invariants over every shipped example, solved on the bundled snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tco.optimizer import load_plan, solve
from tco.pricing import load_catalog

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))
SINGLE = {"aws-only", "gcp-only", "azure-only", "onprem-only"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(offline=True)


@pytest.fixture(scope="module", params=EXAMPLES, ids=[p.stem for p in EXAMPLES])
def result(request, catalog):
    return solve(load_plan(request.param), catalog)


def test_examples_exist():
    assert {p.stem for p in EXAMPLES} >= {"llm-platform", "inference-startup", "research-lab"}


def test_recommended_is_feasible_and_cheapest(result):
    assert result.feasible
    rec = result.recommended
    for s in result.scenarios:
        if s.feasible:
            assert rec.npv_usd <= s.npv_usd + 1e-6


def test_hybrid_never_dearer_than_any_single_venue(result):
    hybrid = result.scenario("hybrid")
    for s in result.scenarios:
        if s.name in SINGLE and s.feasible:
            assert hybrid.npv_usd <= s.npv_usd + 1e-6, s.name
    cloud = next((s for s in result.scenarios if s.name == "cloud-only"), None)
    if cloud is not None and cloud.feasible:
        for s in result.scenarios:
            if s.name.endswith("-only") and s.name != "onprem-only" and s.feasible:
                assert cloud.npv_usd <= s.npv_usd + 1e-6


def test_every_breakdown_sums_to_its_total(result):
    for s in result.scenarios:
        if not s.feasible:
            assert s.reason
            continue
        assert sum(s.breakdown.values()) == pytest.approx(s.total_usd, abs=0.01)
        assert sum(s.breakdown_npv.values()) == pytest.approx(s.npv_usd, abs=0.01)
        assert s.capex_usd + s.opex_usd + s.breakdown["residual_credit"] == pytest.approx(
            s.total_usd, abs=0.01)
        assert s.breakdown["residual_credit"] <= 0


def test_json_document_has_the_spec_keys(result):
    doc = result.to_dict()
    assert {"plan", "recommended", "scenarios", "allocations", "procurement", "commitments",
            "prices", "solver"} <= set(doc)
    assert doc["recommended"] == result.recommended_name
    for s in doc["scenarios"]:
        assert {"name", "feasible", "reason", "npv_usd", "total_usd", "capex_usd", "opex_usd",
                "breakdown"} <= set(s)
    for a in doc["allocations"]:
        assert a["gpu_hours"] > 0 and a["cost_usd"] >= 0
    assert all(p["source"] == "snapshot" for p in doc["prices"])


def test_the_research_lab_solves_under_cbc_too(catalog):
    # CBC's full solve starts from the warm start's plan, read back from CBC's solution file
    # with a rounding error past a bound (41666.66666667 against 41666.666666666664); PuLP
    # refused that start and `--solver cbc` ended in a traceback. The two solvers must agree
    # within their gaps.
    loaded = load_plan(EXAMPLES[[p.stem for p in EXAMPLES].index("research-lab")])
    by_highs = solve(loaded, catalog)
    by_cbc = solve(loaded, catalog, solver="cbc")
    for ours, theirs in zip(by_cbc.scenarios, by_highs.scenarios, strict=True):
        assert ours.solver.solver == "cbc" and ours.solver.status.value == "optimal"
        gap = ours.solver.mip_gap + theirs.solver.mip_gap
        assert ours.npv_usd == pytest.approx(theirs.npv_usd, rel=gap + 1e-9), ours.name


def test_a_scenario_that_cannot_work_is_ruled_out_before_its_program_is_built(catalog, monkeypatch):
    # the LLM platform's Azure-only scenario has no L4/L40S offer near us-east: the reason
    # comes from the venues and offers alone, and no variable or row is made for it
    import tco.optimizer.scenarios as scenarios
    from tco.optimizer.model import prepare

    plan = load_plan(EXAMPLES[[p.stem for p in EXAMPLES].index("llm-platform")]).plan
    azure = next(s for s in scenarios.scenarios_for(plan) if s.name == "azure-only")
    model = prepare(plan, catalog, azure)
    assert model.prob.vars == [] and model.prob.rows == []
    assert "chat-us: no L4/L40S offer within 70 ms of us-east in azure" in scenarios.precheck(model)

    def no_program(model, **_):
        raise AssertionError(f"{model.scenario.name}: built a program it did not need")

    monkeypatch.setattr(scenarios, "define_program", no_program)
    result = scenarios.solve_scenario(plan, catalog, azure)
    assert not result.feasible and result.reason.startswith("chat-us: no L4/L40S offer")
