"""SPEC 16: ``tco compare`` states the recommendation's margin over the next feasible scenario in
dollars and percent, and calls it a tie when the solvers' gaps cannot separate the two; a run
whose solver stopped without any plan is unproven (exit 4), not infeasible."""

from __future__ import annotations

import json

import pytest

from tco.cli import main as cli
from tco.cli.render import margin_note
from tco.optimizer.result import Decisions, Result, ScenarioResult
from tco.optimizer.solver import SolveInfo, SolveStatus


def scenario(name, npv, gap, decisions=None, status=SolveStatus.OPTIMAL, feasible=True):
    info = SolveInfo("highs", status, 1.0, None if gap is None else gap / npv,
                     None if gap is None else npv - gap, gap)
    return ScenarioResult(name, feasible, None if feasible else "no plan", npv_usd=npv,
                          total_usd=npv, solver=info,
                          decisions=decisions or Decisions(orders=((("dc", name, 0), 1),)))


def result(*scenarios):
    feasible = [s for s in scenarios if s.feasible]
    best = min(feasible, key=lambda s: s.npv_usd).name if feasible else None
    return Result("p", "2027-01", 12, tuple(scenarios), best, (), ())


def test_a_margin_beyond_both_gaps():
    # hybrid $100,000 (+-$500), onprem-only $101,000 (+-$300): $1,000 cheaper, 0.990% of
    # onprem-only's NPV, more than the $800 the two gaps allow
    r = result(scenario("hybrid", 100_000.0, 500.0), scenario("onprem-only", 101_000.0, 300.0))
    m = r.margin
    assert (m.over, m.tie) == ("onprem-only", False)
    assert m.usd == pytest.approx(1_000.0)
    assert m.share == pytest.approx(1_000.0 / 101_000.0)
    assert m.within_usd == pytest.approx(800.0)
    note = margin_note(r)
    assert "$1,000 (1.0%) cheaper than onprem-only" in note
    assert r.to_dict()["margin"] == {"over": "onprem-only", "usd": 1000.0,
                                     "share": round(1_000.0 / 101_000.0, 6), "tie": False,
                                     "within_usd": 800.0, "same": []}


def test_a_margin_within_the_gaps_is_a_tie():
    # $400 apart with gaps of $500 and $300: either may be the cheaper
    r = result(scenario("hybrid", 100_000.0, 500.0), scenario("onprem-only", 100_400.0, 300.0))
    assert r.margin.tie and r.margin.usd == pytest.approx(400.0)
    assert "a tie" in margin_note(r) and "±$800" in margin_note(r)
    # exactly at the sum of the gaps: still a tie
    assert result(scenario("hybrid", 100_000.0, 500.0),
                  scenario("onprem-only", 100_800.0, 300.0)).margin.tie


def test_an_unknown_gap_cannot_separate_two_plans():
    r = result(scenario("hybrid", 100_000.0, 500.0), scenario("onprem-only", 150_000.0, None))
    assert r.margin.tie and r.margin.within_usd is None
    assert "unknown" in margin_note(r)


def test_a_scenario_with_the_recommended_plan_itself_is_not_the_next_one():
    # cloud-only holds hybrid's very plan (same decisions, same NPV): the margin is over the
    # next scenario with another plan
    same = Decisions()
    r = result(scenario("hybrid", 100_000.0, 10.0, same),
               scenario("cloud-only", 100_000.0, 10.0, same),
               scenario("gcp-only", 120_000.0, 10.0))
    m = r.margin
    assert (m.over, m.same, m.tie) == ("gcp-only", ("cloud-only",), False)
    assert "cloud-only has the same plan" in margin_note(r)


def test_no_other_feasible_scenario_no_margin():
    r = result(scenario("hybrid", 100_000.0, 10.0),
               scenario("onprem-only", 0.0, None, feasible=False))
    assert r.margin is None and margin_note(r) is None


def test_a_solver_stopped_without_a_plan_is_unproven_not_infeasible(tmp_path, monkeypatch,
                                                                     capsys):
    # SPEC 16: a solve left without a bound has an unknown gap and is unproven (exit 4)
    stopped = ScenarioResult("hybrid", False, "the solver stopped without a plan",
                             solver=SolveInfo("highs", SolveStatus.NOT_SOLVED, 60.0, None))
    infeasible = ScenarioResult("cloud-only", False, "no offer",
                                solver=SolveInfo("highs", SolveStatus.INFEASIBLE, 1.0, None))
    r = result(stopped, infeasible)
    assert not r.feasible and r.unproven and r.unsolved == ("hybrid",)
    assert not result(infeasible).unproven

    import tco.optimizer

    monkeypatch.setattr(tco.optimizer, "solve", lambda *a, **k: r)
    plan = tmp_path / "p.toml"
    plan.write_text('[plan]\nstart = "2027-01"\nmonths = 12\n\n[[workloads]]\nname = "w"\n'
                    'kind = "training"\ngpu = "H100"\ngpu_hours = 1000\n')
    assert cli.main(["compare", str(plan), "--offline", "--format", "json"]) == 4
    out = capsys.readouterr()
    assert json.loads(out.out)["recommended"] is None
    assert "stopped without a plan in hybrid" in out.err
