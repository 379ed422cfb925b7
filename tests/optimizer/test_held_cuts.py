"""Rows that hold while the fleet is held (``cuts.held_cuts``): checked against solves made
here without them.

The research lab with its owned servers kept and nothing ordered, demand scaled so that the
six H100 and four A100 servers cannot meet the ``experiments`` workload's need some months.

- Validity: the optimum solved without the rows satisfies every one of them, and the committed
  NPV to optimality is the same with them or without.
- Strength: the warm start's bound is within 0.05% of that optimum with them, more than 0.2%
  below it without (the relaxation paid part of two venues' storage).
- They live for one solve: the program and its HiGHS session have the same rows after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tco.analysis.evaluate import at
from tco.optimizer import load_plan
from tco.optimizer import scenarios as scenarios_module
from tco.optimizer.build import build
from tco.optimizer.cuts import add_held_cuts, held_cuts
from tco.optimizer.decisions import fix
from tco.optimizer.program import GE, LE
from tco.optimizer.result import Decisions
from tco.optimizer.scenarios import committed_npv, scenarios_for
from tco.optimizer.solver import SolverName, run
from tco.optimizer.warmstart import warm_start
from tco.pricing import load_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def lab():
    snapshot = load_catalog(offline=True)
    plan, catalog = at(load_plan(EXAMPLES / "research-lab.toml").plan, snapshot,
                       {"demand": 1.3})
    hybrid = next(s for s in scenarios_for(plan) if s.name == "hybrid")
    return plan, catalog, hybrid


def _held(lab):
    plan, catalog, hybrid = lab
    model = build(plan, catalog, hybrid)
    fix(model, Decisions())
    return model


def test_the_fleet_held_short_of_the_need_gives_every_kind_of_row(lab):
    model = _held(lab)
    kinds = {name.split("_experiments")[0] for _, _, _, name in held_cuts(model)}
    assert kinds == {"site_short", "site_full", "overflow"}
    # nothing is said while the fleet may grow: with the orders free, no row
    free = build(*lab)
    assert held_cuts(free) == []


def test_the_rows_by_hand(lab):
    # the four A100 servers (30 months old, 60 months of life) leave in 2029-07; the six H100
    # servers then deliver at most 6 × 8 GPUs × 730 h × 0.85 = 29,784 GPU-hours a month,
    # short of the 900,000 × 1.3 / 36 = 32,500 the experiments need by 2,716
    model = _held(lab)
    rows = {name: (expr, sense, rhs) for expr, sense, rhs, name in held_cuts(model)}
    assert {name.rsplit("_", 2)[-2] for name in rows} == {
        "2029-07", "2029-08", "2029-09", "2029-10", "2029-11", "2029-12"}
    expr, sense, rhs = rows["site_short_experiments_campus_2029-07_"]
    assert (sense, rhs) == (GE, 1.0)
    assert sorted(v.name for v in expr) == sorted(
        f"use_experiments_{venue}_2029-07_" for venue in (
            "aws:us-east-1", "aws:us-east-2", "aws:us-west-2", "gcp:us-central1",
            "gcp:us-east4"))
    assert set(expr.values()) == {1.0}
    expr, sense, rhs = rows["site_full_experiments_campus_2029-07_"]
    assert (sense, rhs) == (LE, 0.0)
    assert {v.name: c for v, c in expr.items()} == pytest.approx({
        "h_experiments_campus_hgx-h100_2029-07_": 1.0,
        "h_experiments_campus_dgx-a100_2029-07_": 0.5,
        "use_experiments_campus_2029-07_": -29_784.0})
    overflow = [(expr, sense, rhs) for name, (expr, sense, rhs) in rows.items()
                if name.startswith("overflow_experiments_campus_2029-07_")]
    assert len(overflow) == 5
    for expr, sense, rhs in overflow:
        assert (sense, rhs) == (LE, pytest.approx(29_784.0))
        use = [c for v, c in expr.items() if v.name.startswith("use_")]
        assert use == [pytest.approx(-2_716.0)]


def test_the_optimum_without_the_rows_satisfies_them_and_is_the_same_with_them(lab, monkeypatch):
    plan, catalog, hybrid = lab
    with_rows = committed_npv(plan, catalog, hybrid, Decisions(), SolverName.HIGHS, None, gap=0.0)
    monkeypatch.setattr(scenarios_module, "add_held_cuts", lambda model: [])
    without = committed_npv(plan, catalog, hybrid, Decisions(), SolverName.HIGHS, None,
                            gap=0.0)
    assert with_rows is not None and without is not None
    assert with_rows.usd == pytest.approx(without.usd, rel=1e-9)

    # the optimum of the program without the rows, checked against each row by hand
    model = _held(lab)
    run(model.prob, "highs", None, 0.0)
    assert model.prob.cost() == pytest.approx(without.usd, rel=1e-6)
    rows = held_cuts(model)
    assert rows
    for expr, sense, rhs, name in rows:
        left = sum((var.varValue or 0.0) * coef for var, coef in expr.items())
        scale = max(1.0, abs(rhs), *(abs(c) for c in expr.values()))
        if sense == GE:
            assert left >= rhs - 1e-6 * scale, name
        else:
            assert sense == LE and left <= rhs + 1e-6 * scale, name


def test_the_rows_raise_the_warm_starts_bound_to_the_optimum(lab):
    plan, catalog, hybrid = lab
    optimum = committed_npv(plan, catalog, hybrid, Decisions(), SolverName.HIGHS, None,
                            gap=0.0)
    assert optimum is not None
    bounds = {}
    for held in (False, True):
        model = _held(lab)
        if held:
            add_held_cuts(model)
        start = warm_start(model, SolverName.HIGHS)
        assert start is not None
        bounds[held] = start.bound
    assert bounds[True] <= optimum.usd * (1 + 1e-9)
    assert (optimum.usd - bounds[True]) / optimum.usd < 0.0005
    assert (optimum.usd - bounds[False]) / optimum.usd > 0.002


def test_the_rows_leave_with_the_solve(lab):
    model = _held(lab)
    before = list(model.prob.rows)
    run(model.prob, "highs", None, 0.0, relax=True)
    relaxed = model.prob.cost()
    rows = add_held_cuts(model)
    run(model.prob, "highs", None, 0.0, relax=True)
    assert model.prob.cost() > relaxed * (1 + 1e-4)        # they bind in the relaxation
    model.prob.drop(rows)
    assert model.prob.rows == before
    assert model.prob.highs.constraints == before              # type: ignore[union-attr]
    run(model.prob, "highs", None, 0.0, relax=True)
    assert model.prob.cost() == pytest.approx(relaxed, rel=1e-9)


def test_a_committed_solve_leaves_the_program_as_it_found_it(lab):
    model = _held(lab)
    count = len(model.prob.rows)
    scenarios_module.solve_held(model, SolverName.HIGHS, None, 0.001)
    names = [r.name for r in model.prob.rows]
    assert not any(n.startswith(("site_short", "site_full", "overflow")) for n in names)
    # site-shortfall candidates the solve added are valid for every plan and may stay
    assert len(model.prob.rows) >= count
