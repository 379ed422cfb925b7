"""A built program moved to other prices in place is the program built at those prices:
column by column, row by row, coefficient by coefficient, on examples that have clouds,
spot, trends, discounts, owned fleets, quotes and GPU clouds, and on leases and loans."""

from __future__ import annotations

from pathlib import Path

import pytest

from tco.analysis.levers import lever
from tco.optimizer import load_plan
from tco.optimizer.build import build
from tco.optimizer.reprice import PriceFactors, reprice
from tco.optimizer.scenarios import scenarios_for
from tco.pricing.snapshot import load_snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def dump(model):
    """The program as plain data: columns, rows and objective, by name."""
    prob = model.prob
    columns = [(v.name, v.lowBound, v.upBound, v.integer) for v in prob.vars]
    rows = [(r.name, r.sense, r.constant, dict(sorted((v.name, c) for v, c in r.expr.items())))
            for r in prob.rows]
    objective = {v.name: c for v, c in prob.objective.items()}
    return columns, rows, objective, prob.objective.constant


def at(plan, catalog, values):
    for name in sorted(values):
        plan, catalog = lever(name, plan).apply(plan, catalog, values[name])
    return plan, catalog


def same_program(moved, fresh):
    columns, rows, objective, constant = dump(moved)
    columns2, rows2, objective2, constant2 = dump(fresh)
    assert columns == columns2
    assert [r[:2] for r in rows] == [r[:2] for r in rows2]
    for (name, _, constant_, coefs), (_, _, constant2_, coefs2) in zip(rows, rows2, strict=True):
        assert constant_ == pytest.approx(constant2_, rel=1e-12, abs=1e-9), name
        assert coefs.keys() == coefs2.keys(), name
        for var, coef in coefs.items():
            assert coef == pytest.approx(coefs2[var], rel=1e-12, abs=1e-12), (name, var)
    assert objective.keys() == objective2.keys()
    for name, coef in objective.items():
        assert coef == pytest.approx(objective2[name], rel=1e-9, abs=1e-9), name
    assert constant == pytest.approx(constant2, rel=1e-9, abs=1e-9)


CASES = [
    ({"cloud_prices": 0.8}, lambda p: PriceFactors(cloud={x.value: 0.8
                                                          for x in p.cloud.providers})),
    ({"cloud_prices.aws": 1.3}, lambda p: PriceFactors(cloud={"aws": 1.3})),
    ({"spot_prices": 0.6}, lambda p: PriceFactors(spot=0.6)),
    ({"electricity": 1.4}, lambda p: PriceFactors(electricity={s.name: 1.4
                                                               for s in p.onprem.sites})),
    ({"server_prices": 0.7}, lambda p: PriceFactors(servers=0.7)),
    ({"resale": 0.5}, lambda p: PriceFactors(resale=0.5)),
    ({"cloud_prices": 1.2, "cloud_prices.aws": 0.9, "electricity": 0.8, "server_prices": 1.1,
      "resale": 0.9, "spot_prices": 1.5},
     lambda p: PriceFactors(cloud={x.value: 1.2 * (0.9 if x.value == "aws" else 1.0)
                                   for x in p.cloud.providers}, spot=1.5,
                            electricity={s.name: 0.8 for s in p.onprem.sites}, servers=1.1,
                            resale=0.9)),
]


@pytest.mark.parametrize("example", ["research-lab", "llm-platform", "gpu-clouds"])
@pytest.mark.parametrize("values,factors", CASES, ids=lambda c: str(c) if isinstance(c, dict)
                         else "")
def test_a_moved_program_is_the_program_built_at_those_prices(example, values, factors):
    plan = load_plan(EXAMPLES / f"{example}.toml").plan
    catalog = load_snapshot()
    scenario = scenarios_for(plan)[0]
    moved = build(plan, catalog, scenario)
    reprice(moved, factors(plan))
    p, c = at(plan, catalog, values)
    same_program(moved, build(p, c, scenario))


@pytest.mark.parametrize("financing", [
    {"kind": "lease", "months": 6, "usd_per_month": 1_400.0, "buyout_usd": 50_000.0},
    {"kind": "lease", "months": 6, "usd_per_month": 1_400.0},
    {"kind": "loan", "rate": 0.06, "months": 24, "down_fraction": 0.2}])
def test_leases_and_loans_move_with_the_server_price(financing):
    from tests.analysis.test_closed_form import CLOUD
    from tests.optimizer.test_finance import financed_box

    plan = financed_box(financing, capex_budget_usd=150_000.0).plan
    scenario = scenarios_for(plan)[0]
    moved = build(plan, CLOUD, scenario)
    reprice(moved, PriceFactors(servers=1.3, resale=0.8, electricity={"dc": 1.2}))
    p, c = at(plan, CLOUD, {"server_prices": 1.3, "resale": 0.8, "electricity": 1.2})
    same_program(moved, build(p, c, scenario))


def test_a_solved_program_moved_in_place_solves_as_a_fresh_build():
    # the solver's copy of the costs moves too: solved once, moved, solved again from its
    # basis, the plan and NPV are those of a program built at the new prices
    from tco.optimizer.extract import decisions_of
    from tco.optimizer.optimize import optimize
    from tco.optimizer.solver import SolverName
    from tests.analysis.test_closed_form import CLOUD
    from tests.analysis.test_closed_form import plan as one_box

    plan = one_box().plan
    scenario = scenarios_for(plan)[0]
    model = build(plan, CLOUD, scenario)
    optimize(model, SolverName.HIGHS, None)
    assert model.prob.cost() == pytest.approx(53_160.0)
    # the cloud at 0.7 of its price: 49,056 a year, below the server's 53,160
    reprice(model, PriceFactors(cloud={"aws": 0.7}))
    optimize(model, SolverName.HIGHS, None)
    p, c = at(plan, CLOUD, {"cloud_prices": 0.7})
    fresh = build(p, c, scenario)
    optimize(fresh, SolverName.HIGHS, None)
    assert model.prob.cost() == pytest.approx(fresh.prob.cost()) == pytest.approx(49_056.0)
    assert decisions_of(model) == decisions_of(fresh)


def test_the_solvers_copy_of_the_costs_moves_in_place():
    # the same HiGHS session before and after: its costs are changed, not rebuilt
    from tco.optimizer.solver import run
    from tests.analysis.test_closed_form import CLOUD
    from tests.analysis.test_closed_form import plan as one_box

    plan = one_box().plan
    scenario = scenarios_for(plan)[0]
    model = build(plan, CLOUD, scenario)
    run(model.prob, relax=True)
    session = model.prob.highs
    reprice(model, PriceFactors(cloud={"aws": 0.7}, electricity={"dc": 2.0}))
    moved = run(model.prob, relax=True)
    assert model.prob.highs is session
    p, c = at(plan, CLOUD, {"cloud_prices": 0.7, "electricity": 2.0})
    fresh = build(p, c, scenario)
    built = run(fresh.prob, relax=True)
    assert moved.bound == pytest.approx(built.bound, rel=1e-9)
    assert model.prob.cost() == pytest.approx(fresh.prob.cost(), rel=1e-9)


def test_risk_over_prices_alone_moves_one_program_and_agrees_with_fresh_builds(monkeypatch):
    # the closed-form plan with cloud prices and electricity uncertain: every sample of a
    # task priced from one program per candidate, and the same numbers from a build per
    # sample
    from tco.analysis import montecarlo, risk
    from tests.analysis.test_closed_form import CLOUD, UNIFORM
    from tests.analysis.test_closed_form import plan as one_box

    programs = []
    in_place = montecarlo.committed_in_place
    monkeypatch.setattr(montecarlo, "committed_in_place",
                        lambda *a, **k: programs.append(len(a[2])) or in_place(*a, **k))
    moved = risk(one_box(UNIFORM), CLOUD, samples=12, seed=4)
    # three tasks of four samples, a program per candidate in each
    assert programs == [4] * (3 * len(moved.candidates))
    calls = []
    real = montecarlo.committed
    monkeypatch.setattr(montecarlo, "sample_moves", lambda plan, catalog, values: None)
    monkeypatch.setattr(montecarlo, "committed",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    fresh = risk(one_box(UNIFORM), CLOUD, samples=12, seed=4)
    assert len(calls) == 12 * len(fresh.candidates)
    assert len(moved.npvs) == len(fresh.npvs) == 12
    for a, b in zip(moved.npvs, fresh.npvs, strict=True):
        for x, y in zip(a, b, strict=True):
            assert (x is None) == (y is None)
            if x is not None:
                assert x.usd == pytest.approx(y.usd, rel=1e-9)
    assert moved.recommended == fresh.recommended


def test_a_lever_that_changes_the_cheapest_venue_moves_the_plan_as_a_fresh_build_does():
    # eight H100s all year: $5 a GPU-hour on AWS, $6 on GCP. At the plan's prices AWS serves
    # it, 8 × 5 × 730 × 12 = 350,400; with AWS's prices × 1.5 ($7.50) GCP does, 8 × 6 × 730 ×
    # 12 = 420,480. The program moved there and solved again from its basis, and one built
    # there, give the same plan.
    from tco.optimizer import plan_from_dict
    from tco.optimizer.extract import decisions_of
    from tco.optimizer.optimize import optimize
    from tco.optimizer.solver import SolverName
    from tests.conftest import catalog, offer, plan_doc

    clouds = catalog(offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 40.0),
                     offer("gcp", "us-central1", "a3-highgpu-8g", "H100", 8, "on_demand", 48.0))
    service = {"name": "svc", "kind": "inference", "gpu": "H100", "gpus": 8,
               "growth_per_month": 0.0}
    plan = plan_from_dict(plan_doc(service, providers=("aws", "gcp"))).plan
    scenario = next(s for s in scenarios_for(plan) if s.name == "cloud-only")

    def venues(model):
        return {c.venue for c in model.caps if (c.var.varValue or 0.0) > 1e-6}

    model = build(plan, clouds, scenario)
    optimize(model, SolverName.HIGHS, None)
    assert model.prob.cost() == pytest.approx(350_400.0)
    assert venues(model) == {"aws:us-east-1"}
    reprice(model, PriceFactors(cloud={"aws": 1.5}))
    optimize(model, SolverName.HIGHS, None)
    p, c = at(plan, clouds, {"cloud_prices.aws": 1.5})
    fresh = build(p, c, scenario)
    optimize(fresh, SolverName.HIGHS, None)
    assert model.prob.cost() == pytest.approx(fresh.prob.cost(), rel=1e-12)
    assert model.prob.cost() == pytest.approx(420_480.0)
    assert venues(model) == venues(fresh) == {"gcp:us-central1"}
    assert decisions_of(model) == decisions_of(fresh)
