"""A program moved to other demand in place is the program a build at that demand makes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tco.optimizer import load_plan
from tco.optimizer.build import define_program, prepare
from tco.optimizer.redemand import movable, move_plan
from tco.optimizer.scenarios import scenarios_for
from tco.pricing.snapshot import load_snapshot
from tests.optimizer.test_reprice import at, dump, same_program

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def movable_build(plan, catalog, scenario, **kw):
    return define_program(prepare(plan, catalog, scenario, movable=True, **kw))


def same_moved_program(moved, fresh):
    """``same_program``, with the bounds compared to within rounding (a bound the build
    computes as D / factor, the move as D × (1 / factor))."""
    columns, columns2 = dump(moved)[0], dump(fresh)[0]
    assert [(n, i) for n, _, _, i in columns] == [(n, i) for n, _, _, i in columns2]
    for (name, low, up, _), (_, low2, up2, _) in zip(columns, columns2, strict=True):
        for a, b in ((low, low2), (up, up2)):
            assert (a is None) == (b is None), name         # unbounded in both, or in neither
            if a is not None:
                assert a == pytest.approx(b, rel=1e-12, abs=1e-12), name
    for v, w in zip(moved.prob.vars, fresh.prob.vars, strict=True):
        v.lowBound, v.upBound = w.lowBound, w.upBound
    same_program(moved, fresh)
    assert moved.demand == fresh.demand
    same_cuts(moved, fresh)


def same_cuts(moved, fresh):
    """The candidates a solve may add and what they read: the same in both."""
    def named(expr):
        return {v.name: c for v, c in expr.items()}
    a, b = moved.cuts, fresh.cuts
    assert [g.name for g in a.unit_groups] == [g.name for g in b.unit_groups]
    for g, h in zip(a.unit_groups, b.unit_groups, strict=True):
        assert [u for _, u in g.units] == pytest.approx([u for _, u in h.units], rel=1e-12)
    assert [(n, r) for _, r, n in a.shortfall] == [(n, r) for _, r, n in b.shortfall]
    for (e, _, n), (f, _, _) in zip(a.shortfall, b.shortfall, strict=True):
        x, y = named(e), named(f)
        assert x.keys() == y.keys(), n
        for k in x:
            assert x[k] == pytest.approx(y[k], rel=1e-12), (n, k)
    assert len(a.site_months) == len(b.site_months)
    for c, d in zip(a.site_months, b.site_months, strict=True):
        assert (c.name, c.exact) == (d.name, d.exact)
        assert c.need == pytest.approx(d.need, rel=1e-12)
        assert [x for _, x in c.fleets] == pytest.approx([x for _, x in d.fleets], rel=1e-12)


CASES = [
    ("research-lab", {"demand": 1.3}),            # whole-server rows, site-shortfall candidates
    ("research-lab", {"demand": 0.45}),           # reserved units larger than a month's need
    ("research-lab", {"demand.experiments": 1.7}),
    ("llm-platform", {"demand": 0.6}),            # egress in the tier rows
    ("gpu-clouds", {"demand": 1.25}),             # egress in the rows and the costs
    ("inference-startup", {"demand": 0.7}),       # latency rows, egress
    ("enterprise-70b", {"demand": 1.2}),          # a gang's big-M rows
    ("enterprise-70b", {"mfu": 1.15, "throughput": 0.8}),
    ("model-team", {"throughput": 1.3, "demand.pretrain-70b": 0.9}),
    ("four-year-fleet", {"discount_rate": 0.12}),        # the objective alone
    ("research-lab", {"utilization": 0.8}),              # owned capacity, whole servers
    ("four-year-fleet", {"utilization": 1.3, "demand": 1.1}),   # capped at 1
    ("enterprise-70b", {"utilization": 0.7, "mfu": 0.9}),
    ("four-year-fleet", {"trends.cloud": -0.1, "trends.servers": 0.05,
                         "trends.electricity": 0.04}),            # from trends already set
    ("research-lab", {"trends.servers": -0.15, "trends.electricity": 0.03, "demand": 0.9}),
    ("gpu-clouds", {"trends.cloud_by_gpu.H100": -0.2}),
    ("llm-platform", {"trends.cloud": -0.08}),           # reservations lock their start's
    ("llm-platform", {"discount_rate": 0.02, "demand": 1.1}),
]


@pytest.mark.parametrize("example,values", CASES, ids=lambda c: str(c))
def test_a_program_moved_to_other_demand_utilization_discount_or_trends_is_the_one_built_there(
        example, values):
    plan = load_plan(EXAMPLES / f"{example}.toml").plan
    catalog = load_snapshot()
    for scenario in scenarios_for(plan)[:2]:
        moved = movable_build(plan, catalog, scenario)
        p, c = at(plan, catalog, values)
        assert movable(moved, p)
        move_plan(moved, p)
        assert moved.plan is p
        same_moved_program(moved, movable_build(p, c, scenario))


def test_moving_back_and_forth_lands_on_the_program_built_there():
    plan = load_plan(EXAMPLES / "gpu-clouds.toml").plan
    catalog = load_snapshot()
    scenario = scenarios_for(plan)[0]
    moved = movable_build(plan, catalog, scenario)
    for x in (1.4, 0.5, 1.0, 0.8):
        move_plan(moved, at(plan, catalog, {"demand": x})[0])
    p, c = at(plan, catalog, {"demand": 0.8})
    same_moved_program(moved, movable_build(p, c, scenario))


def test_cuts_a_solve_added_at_the_old_demand_are_dropped():
    # the research lab's hybrid program solved (the warm start adds unit covers and
    # site-shortfall rows, found at its demand), then moved: the rows are the build's again
    from tco.optimizer.solver import SolverName
    from tco.optimizer.warmstart import warm_start

    plan = load_plan(EXAMPLES / "research-lab.toml").plan
    catalog = load_snapshot()
    scenario = scenarios_for(plan)[0]
    moved = movable_build(plan, catalog, scenario)
    built = len(moved.prob.rows)
    warm_start(moved, SolverName.HIGHS)
    assert len(moved.prob.rows) > built
    assert len(moved.cuts.shortfall) < len(moved.uses.shortfall)
    p, c = at(plan, catalog, {"demand": 1.2})
    move_plan(moved, p)
    assert len(moved.prob.rows) == built
    fresh = movable_build(p, c, scenario)
    same_moved_program(moved, fresh)
    assert [(n, r) for _, r, n in moved.cuts.shortfall] == [
        (n, r) for _, r, n in fresh.cuts.shortfall]
    assert [s.need for s in moved.cuts.site_months] == [s.need for s in fresh.cuts.site_months]


def test_a_solved_program_moved_in_place_solves_as_a_fresh_build():
    # the solver's copy moves too: the relaxation of the moved session, from its old basis,
    # is the relaxation of a fresh build at that demand
    from tco.optimizer.solver import run

    plan = load_plan(EXAMPLES / "inference-startup.toml").plan
    catalog = load_snapshot()
    scenario = scenarios_for(plan)[0]
    moved = movable_build(plan, catalog, scenario)
    run(moved.prob, relax=True)
    session = moved.prob.highs
    p, c = at(plan, catalog, {"demand": 1.35})
    move_plan(moved, p)
    relaxed = run(moved.prob, relax=True)
    assert moved.prob.highs is session
    fresh = movable_build(p, c, scenario)
    built = run(fresh.prob, relax=True)
    assert relaxed.bound == pytest.approx(built.bound, rel=1e-9)


def test_not_movable_when_a_month_loses_its_demand_or_anything_else_changes():
    plan = load_plan(EXAMPLES / "research-lab.toml").plan
    catalog = load_snapshot()
    model = movable_build(plan, catalog, scenarios_for(plan)[0])
    assert movable(model, at(plan, catalog, {"demand": 2.0})[0])
    assert not movable(model, at(plan, catalog, {"demand.experiments": 0.0})[0])
    assert not movable(model, at(plan, catalog, {"electricity": 1.1})[0])
    assert movable(model, at(plan, catalog, {"utilization": 0.9})[0])
    assert not movable(model, at(plan, catalog, {"server_prices": 0.9})[0])
    assert not movable(model, replace(plan, workloads=plan.workloads[:-1]))
    unrecorded = define_program(prepare(plan, catalog, scenarios_for(plan)[0]))
    assert not movable(unrecorded, at(plan, catalog, {"demand": 1.1})[0])
    assert not movable(unrecorded, at(plan, catalog, {"utilization": 0.9})[0])
    # the discount rate moves the objective of any program
    assert movable(unrecorded, at(plan, catalog, {"discount_rate": 0.03})[0])
    with pytest.raises(ValueError, match="cannot move"):
        move_plan(model, at(plan, catalog, {"electricity": 1.1})[0])


def test_not_movable_when_a_gang_changes_between_one_node_and_several():
    # enterprise-70b's pretraining run is a gang; at a tenth of its GPU-hours a month it fits
    # on one node of a class where it needs several as written
    plan = load_plan(EXAMPLES / "enterprise-70b.toml").plan
    catalog = load_snapshot()
    gang = next(w for w in plan.workloads if w.gang)
    model = movable_build(plan, catalog, scenarios_for(plan)[0])
    small = at(plan, catalog, {f"demand.{gang.name}": 0.01})[0]
    small_gang = next(w for w in small.workloads if w.gang)
    assert any(plan.multi_node(gang, g) != small.multi_node(small_gang, g) for g in gang.speeds)
    assert not movable(model, small)


def test_a_movable_build_has_the_optimum_of_a_plain_one():
    # the rows a movable build keeps are valid inequalities: the same plan, to the gap
    from tco.optimizer.optimize import optimize
    from tco.optimizer.solver import SolverName

    plan = load_plan(EXAMPLES / "research-lab.toml").plan
    catalog = load_snapshot()
    scenario = next(s for s in scenarios_for(plan) if s.name == "onprem-only")
    plain = define_program(prepare(plan, catalog, scenario))
    kept = movable_build(plan, catalog, scenario)
    assert len(kept.prob.rows) > len(plain.prob.rows)
    a = optimize(plain, SolverName.HIGHS, None)
    b = optimize(kept, SolverName.HIGHS, None)
    assert a.status.has_solution and b.status.has_solution
    gap = max(a.gap_usd or 0.0, b.gap_usd or 0.0)
    assert plain.prob.cost() == pytest.approx(kept.prob.cost(), abs=gap + 1e-6 * plain.prob.cost())


DEMAND = {"demand": {"dist": "uniform", "low": 0.4, "high": 1.6},
          "utilization": {"dist": "uniform", "low": 0.6, "high": 1.0},
          "cloud_prices": {"dist": "uniform", "low": 0.5, "high": 1.5},
          "discount_rate": {"dist": "uniform", "low": 0.02, "high": 0.15},
          "trends.servers": {"dist": "uniform", "low": -0.3, "high": 0.1}}


def test_risk_over_demand_moves_one_program_and_agrees_with_fresh_builds(monkeypatch):
    # the closed-form plan with its demand, utilization, cloud prices, discount rate and
    # server price trend uncertain: below
    # the server's capacity it idles, above it the cloud takes the rest; every sample of a
    # task priced from one program per candidate, and the same numbers from a build per
    # sample
    from tco.analysis import montecarlo, risk
    from tests.analysis.test_closed_form import CLOUD
    from tests.analysis.test_closed_form import plan as one_box

    programs = []
    in_place = montecarlo.committed_in_place
    monkeypatch.setattr(montecarlo, "committed_in_place",
                        lambda *a, **k: programs.append(len(a[2])) or in_place(*a, **k))
    moved = risk(one_box(DEMAND), CLOUD, samples=12, seed=4)
    assert programs == [4] * (3 * len(moved.candidates))
    monkeypatch.setattr(montecarlo, "sample_moves", lambda plan, catalog, values: None)
    fresh = risk(one_box(DEMAND), CLOUD, samples=12, seed=4)
    drawn = [montecarlo.sample(one_box(DEMAND).plan.uncertainty, 4, i)["demand"]
             for i in range(12)]
    assert min(drawn) < 1.0 < max(drawn)
    for a, b in zip(moved.npvs, fresh.npvs, strict=True):
        for x, y in zip(a, b, strict=True):
            assert (x is None) == (y is None)
            if x is not None:
                assert x.usd == pytest.approx(y.usd, rel=1e-9)
    assert moved.recommended == fresh.recommended


def test_a_sample_the_program_cannot_move_to_is_built_for_itself():
    # a sample with no demand at all leaves the program's months without rows: it is solved
    # by the caller's fresh build, and the samples around it still from the moved program
    from tco.analysis.evaluate import committed, sample_moves
    from tco.optimizer.reprice import PriceFactors
    from tco.optimizer.scenarios import committed_npvs, solve
    from tests.analysis.test_closed_form import CLOUD
    from tests.analysis.test_closed_form import plan as one_box

    p = one_box().plan
    base = solve(p, CLOUD)
    decisions = base.scenario("hybrid").decisions
    drawn = [{"demand": 1.3}, {"demand": 0.0}, {"demand": 0.7, "cloud_prices": 1.2}]
    moves = [sample_moves(p, CLOUD, values) for values in drawn]
    assert all(m is not None for m in moves)
    asked = []

    def fresh(i):
        asked.append(i)
        return committed(p, CLOUD, drawn[i], "hybrid", decisions, None, None)
    hybrid = next(s for s in scenarios_for(p) if s.name == "hybrid")
    out = committed_npvs(p, CLOUD, hybrid, decisions, moves, fresh=fresh)
    assert asked == [1]
    for values, npv in zip(drawn, out, strict=True):
        alone = committed(p, CLOUD, values, "hybrid", decisions, None, None)
        assert npv is not None and alone is not None
        assert npv.usd == pytest.approx(alone.usd, rel=1e-9)
    assert isinstance(moves[2][0], PriceFactors) and moves[2][0].cloud == {"aws": 1.2}


@pytest.mark.parametrize("financing", [
    {"kind": "lease", "months": 6, "usd_per_month": 1_400.0, "buyout_usd": 50_000.0},
    {"kind": "loan", "rate": 0.06, "months": 24, "down_fraction": 0.2}])
def test_leases_loans_and_the_capex_budget_move_with_the_server_trend(financing):
    # a lease's own payments and buyout do not follow the trend; the price it replaces,
    # a loan, maintenance, sales and the capex budget row do
    from tests.analysis.test_closed_form import CLOUD
    from tests.optimizer.test_finance import financed_box

    # two years, orders at months 0 and 12: the second order's price moves
    plan = financed_box(financing, months=24, capex_budget_usd=300_000.0).plan
    scenario = scenarios_for(plan)[0]
    moved = define_program(prepare(plan, CLOUD, scenario))
    assert {order for _, _, order in moved.fleet.orders} == {0, 12}
    p, c = at(plan, CLOUD, {"trends.servers": -0.2, "trends.electricity": 0.05})
    assert movable(moved, p)
    move_plan(moved, p)
    same_program(moved, define_program(prepare(p, c, scenario)))


def test_a_key_path_moves_the_program_when_it_changes_only_what_the_moves_cover():
    from tco.analysis.evaluate import sample_moves

    plan = load_plan(EXAMPLES / "inference-startup.toml").plan
    catalog = load_snapshot()
    scenario = scenarios_for(plan)[0]
    gpus = plan.workloads[0].gpus
    factors, p = sample_moves(plan, catalog, {"workloads[0].gpus": gpus * 1.5,
                                              "cloud_prices": 0.9})
    assert factors.cloud and set(factors.cloud.values()) == {0.9}
    moved = movable_build(plan, catalog, scenario)
    assert movable(moved, p)
    move_plan(moved, p)
    fresh = movable_build(*at(plan, catalog, {"workloads[0].gpus": gpus * 1.5}), scenario)
    same_moved_program(moved, fresh)
    # egress moves too (its tiers' last width with it); a dataset's size does not
    _, q = sample_moves(plan, catalog, {"workloads[0].egress_tb_per_month": 30.0})
    assert movable(moved, q)
    move_plan(moved, q)
    same_moved_program(moved, movable_build(q, catalog, scenario))
    _, r = sample_moves(plan, catalog, {"workloads[0].dataset_tb": 3.0})
    assert not movable(moved, r)


def test_egress_tiers_move_with_a_services_egress_and_keep_a_datasets_move():
    # the public API's dataset lives in AWS us-east-1: where the API runs elsewhere, the
    # 300 TB moved out is AWS egress of that month, in the same tiers as what it serves from
    # AWS; at 1.3 times the demand the served egress grows 1.3 times and the move does not
    plan = load_plan(EXAMPLES / "inference-startup.toml").plan
    api = replace(plan.workloads[0], dataset_tb=300.0, data_at="aws:us-east-1")
    plan = replace(plan, workloads=(api, *plan.workloads[1:]))
    catalog = load_snapshot()
    scenario = scenarios_for(plan)[0]
    moved = movable_build(plan, catalog, scenario)
    # the 300,000 GB of a move (to any venue it may go to) are past the last tier of AWS
    # (from 153,600 GB), whatever the demand
    assert max(fixed for _, fixed, _, _ in moved.uses.egress_tiers) >= 300_000.0
    p, c = at(plan, catalog, {"demand": 1.3})
    assert p.workloads[0].egress_tb_per_month == pytest.approx(8.0 * 1.3, rel=1e-12)
    move_plan(moved, p)
    same_moved_program(moved, movable_build(p, c, scenario))


def test_a_movable_build_with_every_egress_tier_has_the_optimum_of_a_plain_one():
    # the tiers beyond the egress at this demand are there, and cannot be filled
    from tco.optimizer.optimize import optimize
    from tco.optimizer.solver import SolverName

    plan = load_plan(EXAMPLES / "inference-startup.toml").plan
    catalog = load_snapshot()
    scenario = next(s for s in scenarios_for(plan) if s.name == "gcp-only")
    plain = define_program(prepare(plan, catalog, scenario))
    kept = movable_build(plan, catalog, scenario)
    assert len(kept.tiers.indicators) > len(plain.tiers.indicators)
    a = optimize(plain, SolverName.HIGHS, None)
    b = optimize(kept, SolverName.HIGHS, None)
    assert a.status.has_solution and b.status.has_solution
    gap = max(a.gap_usd or 0.0, b.gap_usd or 0.0)
    assert plain.prob.cost() == pytest.approx(kept.prob.cost(), abs=gap + 1e-6 * plain.prob.cost())
