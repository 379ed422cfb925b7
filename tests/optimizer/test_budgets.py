"""Budgets of work, not of wall-clock time: every whole-number search is bounded by
branch-and-bound nodes sized from its program, every solver call runs on one thread with a
fixed seed, and ``--time-limit`` is only a safety net whose firing the result reports.

The answers are compared quiet and with CPU-bound processes beside the solve: a search
bounded by a share of the wall-clock time stops at another point on a busy machine; one
bounded by nodes does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from tco.optimizer import load_plan, solve
from tco.optimizer import solver as solver_module
from tco.optimizer.model import linear
from tco.optimizer.processes import process_context
from tco.optimizer.program import LE, Program
from tco.optimizer.solver import node_budget, run, safety_net
from tco.pricing import load_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _knapsack(n: int = 300, rows: int = 60) -> Program:
    """A random multi-row knapsack that no solver closes within a few hundred nodes."""
    import random

    rng = random.Random(0)
    prob = Program("knapsack")
    xs = [prob.var(f"x{j}", 0, 10, integer=True) for j in range(n)]
    prob.objective = linear([(x, -rng.randint(1, 99)) for x in xs])
    for i in range(rows):
        prob.add(linear([(x, rng.randint(1, 49)) for x in xs]), LE, rng.randint(500, 999),
                 f"r{i}")
    return prob


def _spin() -> None:
    while True:
        pass


@contextmanager
def _busy(processes: int = 2) -> Iterator[None]:
    """CPU-bound processes beside the block: every core of a small machine kept busy."""
    ctx = process_context()
    spinners = [ctx.Process(target=_spin, daemon=True) for _ in range(processes)]
    for p in spinners:
        p.start()
    try:
        yield
    finally:
        for p in spinners:
            p.terminate()
            p.join()


def test_the_node_budget_is_sized_from_the_program(monkeypatch):
    monkeypatch.setattr(solver_module, "NODE_WORK", 1_000_000)
    monkeypatch.setattr(solver_module, "MIN_NODES", 100)
    prob = Program("p")
    for j in range(2_000):
        prob.var(f"x{j}")
    assert node_budget(prob) == 500                  # 1,000,000 / 2,000 columns
    assert node_budget(prob, 0.25) == 125
    assert node_budget(prob, 0.1) == 100             # never below MIN_NODES
    for j in range(2_000, 50_000):
        prob.var(f"x{j}")
    assert node_budget(prob) == 100


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_search_bounded_by_nodes_gives_the_same_plan_on_a_busy_machine(solver):
    quiet = _knapsack()
    first = run(quiet, solver, None, 0.0, nodes=200)
    assert first.status.value == "feasible" and not first.time_limited   # stopped by nodes
    busy = _knapsack()
    with _busy():
        second = run(busy, solver, None, 0.0, nodes=200)
    assert second.status == first.status and not second.time_limited
    assert busy.cost() == quiet.cost()
    assert [v.varValue for v in busy.vars] == [v.varValue for v in quiet.vars]


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_search_stopped_by_the_safety_net_says_so(solver):
    prob = _knapsack()
    with safety_net(1.0) as net:
        info = run(prob, solver, None, 0.0)
    assert info.time_limited and net.fired
    assert info.status.value in ("feasible", "not_solved")
    # a relaxation finishes long before: nothing fired
    with safety_net(30.0) as net:
        relaxed = run(_knapsack(), solver, None, 0.0, relax=True)
    assert relaxed.status.value == "optimal" and not relaxed.time_limited and not net.fired


def test_nested_safety_nets_keep_the_sooner_deadline_and_report_outwards():
    with safety_net(1.0) as outer:
        with safety_net(3600.0) as inner:
            assert inner.deadline == outer.deadline
            info = run(_knapsack(), "highs", None, 0.0)
        assert info.time_limited and inner.fired
    assert outer.fired
    with safety_net(None) as free:
        assert free.left() is None


def test_the_report_names_the_solver_settings_and_a_net_that_fired(monkeypatch):
    # every call past the deadline has a microsecond, not a second (which a fast machine's
    # whole research-lab solve can fit in): the net surely stops a search
    monkeypatch.setattr(solver_module, "NET_LEAST", 1e-6)
    plan = load_plan(EXAMPLES / "research-lab.toml")
    catalog = load_catalog(offline=True)
    result = solve(plan, catalog, workers=1, time_limit=0.001)
    hybrid = result.scenario("hybrid")
    assert hybrid.solver is not None and hybrid.solver.time_limited
    doc = hybrid.solver.to_dict()
    assert doc["threads"] == 1 and doc["seed"] == 0 and doc["stopped_by_time_limit"] is True
    assert any("time limit stopped the solve of" in w and "hybrid" in w
               for w in result.warnings)


def _comparable(doc: dict) -> str:
    """A report's JSON without what measures the machine (seconds)."""
    def strip(node: object) -> object:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "seconds"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return json.dumps(strip(doc), sort_keys=True)


def test_the_same_plan_gives_the_same_report_on_a_busy_machine(monkeypatch):
    # small budgets and no gap to stop at, so that the hybrid search stops at its budget:
    # the case a wall-clock share made depend on the machine's load
    monkeypatch.setattr(solver_module, "NODE_WORK", 20_000)
    monkeypatch.setattr(solver_module, "MIN_NODES", 2)
    plan = load_plan(EXAMPLES / "research-lab.toml").plan
    plan = replace(plan, plan=replace(plan.plan, mip_gap=0.0))
    catalog = load_catalog(offline=True)
    quiet = solve(plan, catalog, workers=1)
    with _busy(max(2, os.cpu_count() or 1)):
        busy = solve(plan, catalog, workers=1)
    hybrid = quiet.scenario("hybrid").solver
    assert hybrid is not None and hybrid.status.value == "feasible"      # at its budget
    assert not any(s.solver is not None and s.solver.time_limited for s in quiet.scenarios)
    assert _comparable(busy.to_dict()) == _comparable(quiet.to_dict())
    for a, b in zip(quiet.scenarios, busy.scenarios, strict=True):
        assert a.npv_usd == b.npv_usd and a.decisions == b.decisions


def test_an_analysis_counts_the_solves_the_safety_net_stopped():
    from tco.analysis import risk
    from tco.analysis.runner import stopped_by_time
    from tco.optimizer.gaps import Npv

    # the walk over tasks' results: outcomes, NPVs, lists of them, None where infeasible
    assert stopped_by_time([Npv(1.0, 0.0, True), None, (Npv(2.0, 0.0), Npv(3.0, None, True))],
                           Npv(4.0, 0.0)) == 2
    # the research lab's hybrid search takes seconds: a one-second net stops it
    lab = load_plan(EXAMPLES / "research-lab.toml")
    result = risk(lab, load_catalog(offline=True), samples=1, time_limit=1.0)
    assert result.base is not None and result.base.time_limited
    assert result.to_dict()["stopped_by_time_limit"] >= 1
    from tco.cli.analysis import _parts
    _, _, notes, _ = _parts(result)
    assert any(n.startswith("warning: the time limit stopped") for n in notes)
