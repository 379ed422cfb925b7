"""First-stage decisions held fixed (``decisions.fix``), priced by ``committed_npv``: a plan
held to its decisions buys, keeps and sells nothing but what they say, worked out by hand on
``test_fleet``'s server (2,930 a fully used month, 100,000 new, straight-line value, lead time
2 months)."""

from __future__ import annotations

import pytest

from tco.optimizer import Decisions, SolverName, plan_from_dict, scenarios_for, solve
from tco.optimizer.scenarios import committed_npv

from .test_fleet import CLOUD_2, FULL, doc, owned

# two servers' work every month of the year, one server owned at age 12, the cloud at $2 a
# GPU-hour
PLAN = doc(12 * 2 * FULL, existing=[owned(1)], providers=("aws",))
# Held to no orders (and no sales): the owned server works all year, 12 x 2,930 = 35,160, and
# is credited at its value at age 24, 64,000, at the end; the cloud does the rest,
# 12 x 5,840 x $2 = 140,160. 35,160 - 64,000 + 140,160 = 111,320.
WITHOUT_BUYING = 111_320.0
# Buying is cheaper: one server ordered in 2027-01 arrives in 2027-03; the cloud does its part
# of the first two months, 2 x 11,680 = 23,360; the new server runs ten months, 29,300, and is
# worth 100,000 x (1 - 0.9 x 10 / 60) = 85,000 at the end (15,000 lost); the owned one as
# above, 35,160 - 64,000. 23,360 + 29,300 + 15,000 - 28,840 = 38,820.
BUYING = 38_820.0


def _usd(npv):
    assert npv is not None
    return npv.usd


def test_buying_is_the_cheapest_plan(solver):
    rec = solve(plan_from_dict(PLAN), CLOUD_2, solver=solver).scenario("hybrid")
    assert rec.npv_usd == pytest.approx(BUYING, abs=1e-6 * BUYING)
    assert [(p.order_month, p.arrival_month, p.count) for p in rec.procurement] == [
        ("2027-01", "2027-03", 1)]
    assert rec.decisions == Decisions(orders=(((("dc", "box", 0), 1)),))


def test_a_plan_committed_to_no_orders_buys_nothing(solver):
    plan = plan_from_dict(PLAN).plan
    hybrid = next(s for s in scenarios_for(plan) if s.name == "hybrid")
    npv = _usd(committed_npv(plan, CLOUD_2, hybrid, Decisions(), SolverName(solver), gap=0.0))
    assert npv == pytest.approx(WITHOUT_BUYING, abs=1e-6 * WITHOUT_BUYING)


def test_a_plan_committed_to_its_order_costs_what_it_did(solver):
    plan = plan_from_dict(PLAN).plan
    hybrid = next(s for s in scenarios_for(plan) if s.name == "hybrid")
    held = Decisions(orders=((("dc", "box", 0), 1),))
    npv = _usd(committed_npv(plan, CLOUD_2, hybrid, held, SolverName(solver), gap=0.0))
    assert npv == pytest.approx(BUYING, abs=1e-6 * BUYING)
