"""The whole-number search and the placements' probing: what each proves is checked against
solves made here, option by option or to optimality.

- ``search`` finds a plain solve's optimum, with a valid bound.
- Probing a placement (a single-venue workload's venue) in the relaxation rules out a venue
  that cannot take the workload whole, and raises the bound to the least of the options'
  relaxations.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tco.optimizer import load_plan
from tco.optimizer.build import build, define_program, prepare
from tco.optimizer.decisions import fix
from tco.optimizer.model import linear
from tco.optimizer.program import GE, LE, Program
from tco.optimizer.result import Decisions
from tco.optimizer.scenarios import committed_npv, scenarios_for
from tco.optimizer.solver import SolverName, SolveStatus, run, search
from tco.optimizer.warmstart import warm_start
from tco.pricing import load_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def snapshot():
    return load_catalog(offline=True)


def _fixed_charges() -> Program:
    """Three plants with a fixed charge each and a linear cost, a demand of 17.5 met in whole
    lots of 2.5 from them: a program whose relaxation is weak, so that a search has to
    branch."""
    prob = Program("plants")
    supply, used = [], []
    for k, (fixed, unit, cap) in enumerate([(40.0, 3.0, 10.0), (25.0, 4.0, 8.0),
                                            (10.0, 5.5, 12.0)]):
        lots = prob.var(f"lots{k}", 0, cap / 2.5, integer=True)
        on = prob.binary(f"on{k}")
        prob.add(linear([(lots, 2.5), (on, -cap)]), LE, 0.0, f"open{k}")
        supply.append((lots, 2.5))
        used.append((on, fixed))
        used.append((lots, 2.5 * unit))
    prob.add(linear(supply), GE, 17.5, "demand")
    prob.objective = linear(used)
    return prob


def test_search_finds_the_plain_solves_optimum_and_a_valid_bound():
    plain = _fixed_charges()
    run(plain, "highs", None, 0.0)
    prob = _fixed_charges()
    info = search(prob, "highs", None, 0.0)
    assert info.status == SolveStatus.OPTIMAL
    assert prob.cost() == pytest.approx(plain.cost(), rel=1e-9)
    assert info.bound is not None and info.bound <= prob.cost() + 1e-6
    assert info.gap_usd == pytest.approx(prob.cost() - info.bound, abs=1e-6)
    # by hand: no plant holds 7 lots alone (4, 3 and 4 lots at most); plants 0 and 1 cost
    # 65 + 2.5 × (4 × 3 + 3 × 4) = 125, plants 0 and 2 cost 50 + 2.5 × (4 × 3 + 3 × 5.5) =
    # 121.25, plants 1 and 2 cost 35 + 2.5 × (3 × 4 + 4 × 5.5) = 120, all three more
    assert plain.cost() == pytest.approx(120.0)


def test_search_without_any_whole_number_is_a_plain_run():
    prob = Program("lp")
    x = prob.var("x", 0, None)
    prob.add(linear([(x, 1.0)]), GE, 2.0, "x>=2")
    prob.objective = linear([(x, 3.0)])
    info = search(prob, "highs", None, 0.0)
    assert info.status == SolveStatus.OPTIMAL and prob.cost() == pytest.approx(6.0)


def _research_lab_held(snapshot):
    # the servers already owned kept, nothing ordered: 6 H100 servers cannot hold the 2028 run
    # (41,667 GPU-hours a month) whole, so it must run in the cloud
    plan = load_plan(EXAMPLES / "research-lab.toml").plan
    hybrid = next(s for s in scenarios_for(plan) if s.name == "hybrid")
    model = build(plan, snapshot, hybrid)
    fix(model, Decisions())
    return plan, hybrid, model


def test_probing_rules_out_the_site_and_raises_the_bound(snapshot):
    plan, hybrid, model = _research_lab_held(snapshot)
    picks = {venue: var for (w, venue), var in model.use.picks.items() if w == "big-run-2028"}
    assert "campus" in picks and len(picks) > 1
    # the relaxation with nothing held, and with each venue held, solved here
    run(model.prob, "highs", None, 0.0, relax=True)
    relaxed = model.prob.cost()
    assert 0.0 < (picks["campus"].varValue or 0.0) < 1.0     # the run split in the relaxation
    each: dict[str, float | None] = {}
    for venue, var in picks.items():
        var.lowBound = var.upBound = 1.0
        info = run(model.prob, "highs", None, 0.0, relax=True)
        each[venue] = model.prob.cost() if info.status == SolveStatus.OPTIMAL else None
        var.lowBound, var.upBound = 0.0, 1.0
    assert each["campus"] is None                               # cannot hold it whole
    least = min(v for v in each.values() if v is not None)
    assert least > relaxed * 1.5

    _, _, fresh = _research_lab_held(snapshot)
    start = warm_start(fresh, SolverName.HIGHS)
    assert start is not None
    campus = next(var for (w, venue), var in fresh.use.picks.items()
                  if w == "big-run-2028" and venue == "campus")
    assert campus.upBound == 0.0
    assert start.bound == pytest.approx(least, rel=1e-9)
    # and it is a bound: the held plan's NPV solved to optimality is no less
    npv = committed_npv(plan, snapshot, hybrid, Decisions(), SolverName.HIGHS, None, gap=0.0)
    assert npv is not None and npv.usd >= start.bound - 1e-6 * npv.usd
    assert math.isfinite(npv.usd)


def test_the_restricted_program_books_the_blocks_a_gang_on_whole_nodes_needs(snapshot):
    # enterprise-70b's pretraining run is a gang on AWS capacity blocks. With the fleet
    # settled, the relaxation books 229.6 instance-days a month on fewer than 8 nodes; whole
    # nodes need 240 (8 x 30). Held to 229 or 230, the restricted program could only top the
    # blocks up on demand ($1,668,453); free to book more, it finds the plan the full search
    # keeps, and the search after it only proves it
    plan = load_plan(EXAMPLES / "enterprise-70b.toml").plan
    hybrid = scenarios_for(plan)[0]
    model = define_program(prepare(plan, snapshot, hybrid, lean=True))
    start = warm_start(model, SolverName.HIGHS)
    assert start is not None
    blocks = {key: var.varValue for key, (var, _) in model.reserved.reservations.items()
              if key[2] == "capacity_block" and (var.varValue or 0.0) > 0.5}
    assert set(blocks.values()) == {240.0}
    assert start.objective == pytest.approx(1_620_438.93, rel=1e-6)


def test_only_the_fleet_step_runs_without_the_root_sub_program_heuristics(snapshot, monkeypatch):
    # the option is sent to HiGHS with every run, so the searches after the fleet step have
    # the heuristic back
    from tco.optimizer import warmstart
    from tco.optimizer.solver import HighsSession

    seen: list[tuple[bool, bool]] = []
    fleet = [False]
    original = HighsSession._options

    def options(self, values):
        if values["presolve"] != "off":             # a whole-number search
            heuristics = {values["mip_heuristic_run_root_reduced_cost"],
                          values["mip_heuristic_run_rens"]}
            assert len(heuristics) == 1
            seen.append((fleet[0], heuristics.pop()))
        return original(self, values)

    first = warmstart._fleet_first

    def fleet_first(*args, **kwargs):
        fleet[0] = True
        try:
            return first(*args, **kwargs)
        finally:
            fleet[0] = False
    monkeypatch.setattr(HighsSession, "_options", options)
    monkeypatch.setattr(warmstart, "_fleet_first", fleet_first)
    plan = load_plan(EXAMPLES / "llm-platform.toml").plan
    model = define_program(prepare(plan, snapshot, scenarios_for(plan)[0], lean=True))
    assert warm_start(model, SolverName.HIGHS) is not None
    assert (True, False) in seen and (False, True) in seen
    assert set(seen) == {(True, False), (False, True)}
