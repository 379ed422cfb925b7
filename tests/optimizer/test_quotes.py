"""Negotiated quotes (``[[cloud.quotes]]``, SPEC 18), on small plans with hand-computed costs:
taken or not, signed, with an upfront fee, past the horizon, which scenarios hold them, their
storage and egress, and their committed NPV under other cloud prices.

One GPU-hour of H100 costs $4 on demand in aws:us-east-1. A month is 730 hours; the discount
rate is 0, so the NPV is the sum of the cash flows."""

from __future__ import annotations

import pytest

from tco.analysis.evaluate import committed
from tco.optimizer import plan_from_dict, solve
from tco.optimizer.errors import PlanError
from tco.optimizer.result import Decisions
from tests.conftest import catalog, offer, plan_doc, storage
from tests.reprice import assert_repriced

H = 730.0
CAT = catalog(
    offer("aws", "us-east-1", "p.1", "H100", 1, "on_demand", 4.0),
    storage("aws", "us-east-1", (0.0, 0.02)),
)


def service(gpus: float, **kw):
    return {"name": "svc", "kind": "inference", "gpu": "H100", "gpus": gpus,
            "growth_per_month": 0.0, **kw}


def quote(**kw):
    return {"name": "neb", "provider": "nebius", "gpu": "H100", "location": "us-east",
            "gpus": 10, "usd_per_gpu_hour": 2.5, "start": "2027-01", "months": 12,
            "upfront_usd": 0, "optional": True, "as_of": "2026-11-15", **kw}


def doc(gpus: float, *quotes, **kw):
    d = plan_doc(service(gpus, **kw))
    d["cloud"]["quotes"] = list(quotes)
    d["cloud"]["purchase_options"] = ["on_demand"]
    return d


def run(d, solver):
    return solve(plan_from_dict(d), CAT, solver=solver)


def test_a_quote_dearer_than_on_demand_is_not_taken(solver):
    # 5 GPUs on demand: 5 x 4 x 730 x 12 = 175,200; the quote pays 2.5 x 10 x 730 x 12 =
    # 219,000 whatever is used
    res = run(doc(5, quote()), solver)
    assert res.recommended.npv_usd == pytest.approx(175_200.0, abs=0.01)
    assert res.recommended.commitments == ()


def test_a_cheaper_quote_is_taken_and_listed_with_the_commitments(solver):
    # 7.5 GPUs: on demand 262,800; the quote's 10 GPUs hold them all for 219,000
    res = run(doc(7.5, quote()), solver)
    hybrid = res.scenario("hybrid")
    assert hybrid.npv_usd == pytest.approx(219_000.0, abs=0.01)
    assert hybrid.breakdown["cloud_reserved"] == pytest.approx(219_000.0, abs=0.01)
    assert hybrid.breakdown["cloud_compute"] == pytest.approx(0.0, abs=0.01)
    (c,) = hybrid.commitments
    assert (c.source, c.name, c.provider, c.purchase, c.count, c.start_month, c.end_month) == (
        "quote", "neb", "nebius", "quote", 10, "2027-01", "2027-12")
    assert c.usd_per_month == pytest.approx(2.5 * 10 * H) and c.upfront_usd == 0
    (a,) = {(x.venue, x.purchase) for x in hybrid.allocations}
    assert a == ("nebius:quote:neb", "quote")
    # an optional quote of nebius is not aws's: aws-only pays on demand
    assert res.scenario("aws-only").npv_usd == pytest.approx(262_800.0, abs=0.01)
    assert res.scenario("cloud-only").npv_usd == pytest.approx(219_000.0, abs=0.01)


def test_a_signed_quote_is_paid_in_every_scenario_used_or_not(solver):
    # signed: its 219,000 is owed in aws-only too; 5 GPUs fit in it, nothing else is bought
    res = run(doc(5, quote(optional=False)), solver)
    for name in ("hybrid", "cloud-only", "aws-only"):
        assert res.scenario(name).npv_usd == pytest.approx(219_000.0, abs=0.01), name
    # with no use at all it is still paid: 0.5 GPUs, all of them on the quote
    loaded = plan_from_dict(doc(0.5, quote(optional=False)))
    res = solve(loaded, CAT, solver=solver)
    assert res.recommended.npv_usd == pytest.approx(219_000.0, abs=0.01)
    # no decisions (the simple plan of buying nothing) cannot undo a signature
    held = committed(loaded.plan, CAT, {}, "aws-only", Decisions(), solver, None)
    assert held is not None and held.usd == pytest.approx(219_000.0, abs=0.01)


def test_an_upfront_fee_is_paid_in_the_first_month_of_a_term_that_starts_later(solver):
    # 7.5 GPUs; the quote (10 GPUs at $2, 2027-03..2027-08, $5,000 upfront) costs 14,600 a
    # month against 21,900 on demand: months 1-2 and 9-12 on demand, 6 x 21,900 = 131,400,
    # and the quote 6 x 14,600 + 5,000 = 92,600
    q = quote(usd_per_gpu_hour=2.0, start="2027-03", months=6, upfront_usd=5000)
    res = run(doc(7.5, q), solver)
    hybrid = res.scenario("hybrid")
    assert hybrid.npv_usd == pytest.approx(131_400.0 + 92_600.0, abs=0.01)
    flows: dict[str, float] = {}
    for f in hybrid.cash_flows:
        flows[f.month] = flows.get(f.month, 0.0) + f.usd
    assert flows["2027-02"] == pytest.approx(21_900.0, abs=0.01)
    assert flows["2027-03"] == pytest.approx(14_600.0 + 5_000.0, abs=0.01)
    assert flows["2027-04"] == pytest.approx(14_600.0, abs=0.01)
    assert flows["2027-09"] == pytest.approx(21_900.0, abs=0.01)
    (c,) = hybrid.commitments
    assert (c.start_month, c.end_month, c.upfront_usd, c.usd_per_month) == (
        "2027-03", "2027-08", 5000.0, 14_600.0)
    assert_repriced(plan_from_dict(doc(7.5, q)).plan, CAT, hybrid)


def test_a_signed_quote_past_the_horizon_is_paid_for_its_whole_term(solver):
    # 2027-10..2028-03 at $2: 6 x 14,600 = 87,600 (3 months past the horizon), and the first
    # nine months on demand, 9 x 21,900 = 197,100
    q = quote(usd_per_gpu_hour=2.0, start="2027-10", months=6, optional=False)
    res = run(doc(7.5, q), solver)
    hybrid = res.scenario("hybrid")
    assert hybrid.npv_usd == pytest.approx(87_600.0 + 197_100.0, abs=0.01)
    (c,) = hybrid.commitments
    assert c.months_past_horizon == 3
    # optional, the same quote is not worth it: 3 months of use for 6 months of fees
    res = run(doc(7.5, {**q, "optional": True}), solver)
    assert res.scenario("hybrid").npv_usd == pytest.approx(12 * 21_900.0, abs=0.01)


def test_a_quote_stores_data_at_its_providers_nearest_rate_and_never_for_free(solver):
    # 1 TB stored: aws's us-east-1 rate, $0.02/GB-month, is the quote's (an aws quote in
    # us-east): 12 x 20 = 240 more than the bare quote
    res = run(doc(7.5, quote(provider="aws"), storage_tb=1.0), solver)
    assert res.scenario("hybrid").npv_usd == pytest.approx(219_000.0 + 240.0, abs=0.01)
    # nebius has no storage price in this catalog: the quote cannot hold the service's data,
    # so the service runs on demand and the quote is not taken
    res = run(doc(7.5, quote(), storage_tb=1.0), solver)
    assert res.scenario("hybrid").npv_usd == pytest.approx(262_800.0 + 240.0, abs=0.01)
    assert res.scenario("hybrid").commitments == ()


def test_a_taken_quote_is_held_in_committed_npv_and_cloud_prices_do_not_move_it(solver):
    loaded = plan_from_dict(doc(7.5, quote()))
    res = solve(loaded, CAT, solver=solver)
    taken = res.scenario("hybrid").decisions
    none = res.scenario("aws-only").decisions
    assert taken is not None and none is not None
    assert any(k[2] == "quote" for k, _ in taken.reservations)
    # cloud list prices halved: on demand is 131,400, the signed-for quote still 219,000
    cheap = {"cloud_prices": 0.5}
    held = committed(loaded.plan, CAT, cheap, "hybrid", taken, solver, None)
    free = committed(loaded.plan, CAT, cheap, "hybrid", none, solver, None)
    assert held is not None and free is not None
    assert held.usd == pytest.approx(219_000.0, abs=0.01)
    assert free.usd == pytest.approx(131_400.0, abs=0.01)


@pytest.mark.parametrize(("change", "message"), [
    ({"gpu": "H900"}, "cloud.quotes[0].gpu: unknown GPU class 'H900'"),
    ({"location": "mars"}, "cloud.quotes[0].location: unknown metro 'mars'"),
    ({"start": "2026-06"}, "cloud.quotes[0].start: 2026-06 is before the plan starts"),
    ({"start": "2028-02"}, "cloud.quotes[0].start: 2028-02 lies after the horizon"),
    ({"gpus": 0}, "cloud.quotes[0].gpus"),
])
def test_a_bad_quote_is_named(change, message):
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_from_dict(doc(1, quote(**change)))


def test_quote_names_are_unique():
    with pytest.raises(PlanError, match=r"cloud.quotes\[1\].name: 'neb' is used twice"):
        plan_from_dict(doc(1, quote(), quote()))


def test_a_quotes_rates_are_those_of_its_providers_nearest_region():
    from tco.optimizer.venues import Venue, quote_tiers

    q = plan_from_dict(doc(1, quote(provider="aws", location="eu-west"))).plan.cloud.quotes[0]
    london = Venue(q.venue, "aws", "quote:neb", None, 51.51, -0.13, 0.999)
    prices = [("aws", "us-east-1", ((0.0, 0.023),)), ("aws", "eu-west-2", ((0.0, 0.024),)),
              ("gcp", "europe-west2", ((0.0, 0.020),))]
    assert quote_tiers(q, london, prices) == ((0.0, 0.024),)
    assert quote_tiers(q, london, [p for p in prices if p[1] != "eu-west-2"]) == ((0.0, 0.023),)
    assert quote_tiers(q, london, [p for p in prices if p[0] == "gcp"]) is None
