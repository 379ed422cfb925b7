"""What finance reads (SPEC 20): the budget by fiscal year and the NPV after tax, on plans
worked out by hand.

The one-box plan of ``tests/analysis/test_closed_form.py``: a $100,000 server (no network
cost, a 60-month life, 10% residual) bought in 2027-01 and used all year; per month energy
730, colo 1,000, maintenance 1,000 and staff 200 (2,930 of opex); discount rate 0. Book
depreciation is 100,000 / 60 = 1,666.67 a month; the server is still owned after the year and
credited at 82,000 in 2028-01. NPV 53,160; the cloud 70,080.
"""

from __future__ import annotations

import pytest

from tco.optimizer import PlanError, plan_from_dict, solve
from tests.analysis.test_closed_form import CLOUD, FULL, SERVER, SITE
from tests.conftest import catalog, offer, plan_doc

MONTH_OPEX = 730.0 + 1_000.0 + 1_000.0 + 200.0
DEPRECIATION = 100_000.0 / 60


def one_box(**sections):
    doc = plan_doc({"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": 12 * FULL},
                   onprem={"sites": [SITE], "servers": [SERVER]})
    for key, value in sections.items():
        doc[key] = {**doc.get(key, {}), **value}
    return plan_from_dict(doc)


def years(result, scenario="hybrid"):
    return {b.fiscal_year: b for b in result.scenario(scenario).budget}


def test_a_bought_server_by_fiscal_years_from_july():
    res = solve(one_box(plan={"fiscal_year_start": 7}), CLOUD)
    fy = years(res)
    assert sorted(fy) == [2027, 2028]
    first, second = fy[2027], fy[2028]
    # FY2027 is July 2026 to June 2027: the plan's first six months
    assert (first.start, first.end) == ("2027-01", "2027-06")
    assert first.capex_usd == pytest.approx(100_000.0)
    assert first.opex_usd["energy"] == pytest.approx(6 * 730.0)
    assert first.opex_usd["colo"] == pytest.approx(6_000.0)
    assert first.opex_usd["maintenance"] == pytest.approx(6_000.0)
    assert first.opex_usd["staff"] == pytest.approx(1_200.0)
    assert first.depreciation_usd == pytest.approx(6 * DEPRECIATION)
    assert first.book_value_usd == pytest.approx(90_000.0)
    assert first.pnl_cost_usd == pytest.approx(6 * MONTH_OPEX + 10_000.0)
    assert first.cash_out_usd == pytest.approx(100_000.0 + 6 * MONTH_OPEX)
    # FY2028 holds the other six months and the credit for the server still owned (2028-01)
    assert (second.start, second.end) == ("2027-07", "2028-01")
    assert second.capex_usd == 0.0
    assert second.depreciation_usd == pytest.approx(10_000.0)
    assert second.book_value_usd == pytest.approx(80_000.0)
    assert second.loss_on_sales_usd == 0.0
    assert second.cash_out_usd == pytest.approx(6 * MONTH_OPEX - 82_000.0)
    # the years' cash adds up to the plan's NPV at a discount rate of 0
    assert first.cash_out_usd + second.cash_out_usd == pytest.approx(53_160.0)
    # a cloud plan: all opex, no book
    cloud = years(res, "cloud-only")
    assert cloud[2027].opex_usd["cloud_compute"] == pytest.approx(6 * 5_840.0)
    assert cloud[2028].depreciation_usd == 0.0 and cloud[2028].book_value_usd == 0.0


def test_calendar_years_by_default():
    fy = years(solve(one_box(), CLOUD))
    assert sorted(fy) == [2027, 2028]
    assert (fy[2027].start, fy[2027].end) == ("2027-01", "2027-12")
    assert fy[2027].depreciation_usd == pytest.approx(20_000.0)
    assert (fy[2028].start, fy[2028].end) == ("2028-01", "2028-01")
    assert fy[2028].cash_out_usd == pytest.approx(-82_000.0)
    assert fy[2028].pnl_cost_usd == 0.0


def owned(age, months, **server):
    """A server already owned (age ``age`` months) at a site, ``months`` of planning."""
    site = {**SITE, "existing": [{"server": "box", "count": 1, "age_months": age}]}
    return {"sites": [site], "servers": [{**SERVER, **server}]}, months


def test_a_sale_books_its_loss_against_the_book_value():
    # an H100 server 24 months old that no workload can use (the work is A100 work on the
    # cloud): kept it costs 2,565 a month idle, so it is sold at once. Its book value is
    # 100,000 x (1 - 24/60) = 60,000; it brings in its value, 100,000 x (1 - 0.9 x 24/60) =
    # 64,000, less a 10% fee: 57,600. A loss of 2,400, and 2,000 to decommission it.
    onprem, months = owned(24, 12, resale_fee_fraction=0.1)
    doc = plan_doc({"name": "train", "kind": "training", "gpu": "A100-80GB", "gpu_hours": 1_000.0},
                   months=months, onprem=onprem)
    res = solve(plan_from_dict(doc),
                catalog(offer("aws", "us-east-1", "p4de", "A100-80GB", 8, "on_demand", 8.0)))
    hybrid = res.scenario("hybrid")
    assert [(r.month, r.count, r.reason) for r in hybrid.retirements] == [("2027-01", 1, "sold")]
    fy = years(res)[2027]
    assert fy.loss_on_sales_usd == pytest.approx(60_000.0 - 57_600.0)
    assert fy.depreciation_usd == 0.0
    assert fy.book_value_usd == 0.0
    assert fy.opex_usd["decommission"] == pytest.approx(2_000.0)
    assert fy.opex_usd["cloud_compute"] == pytest.approx(1_000.0)
    assert fy.capex_usd == 0.0
    assert fy.pnl_cost_usd == pytest.approx(1_000.0 + 2_000.0 + 2_400.0)
    assert fy.cash_out_usd == pytest.approx(1_000.0 + 2_000.0 - 57_600.0)


def test_end_of_life_books_a_gain_after_the_last_depreciation():
    # 54 months old: book 100,000 x 6/60 = 10,000, depreciated over the six months it has
    # left; it reaches its end of life in 2027-07 and is sold for its 10% residual less the
    # 10% fee, 9,000: a gain of 9,000 on a book value of 0
    onprem, months = owned(54, 7, resale_fee_fraction=0.1)
    doc = plan_doc({"name": "train", "kind": "training", "gpu": "H100", "gpu_hours": 6 * FULL,
                    "window": ["2027-01", "2027-06"]}, months=months, onprem=onprem)
    res = solve(plan_from_dict(doc), CLOUD)
    hybrid = res.scenario("hybrid")
    assert [(r.month, r.reason) for r in hybrid.retirements] == [("2027-07", "end of life")]
    fy = years(res)[2027]
    assert fy.depreciation_usd == pytest.approx(10_000.0)
    assert fy.loss_on_sales_usd == pytest.approx(-9_000.0)
    assert fy.book_value_usd == pytest.approx(0.0, abs=1e-6)
    assert fy.pnl_cost_usd == pytest.approx(6 * MONTH_OPEX + 2_000.0 + 10_000.0 - 9_000.0)
    assert fy.cash_out_usd == pytest.approx(6 * MONTH_OPEX + 2_000.0 - 9_000.0)


def test_the_npv_after_tax_of_one_server():
    # P&L over the year: 35,160 of opex and 20,000 of depreciation; the 82,000 credited for the
    # server still owned is not taxed: 53,160 - 0.25 x 55,160 = 39,370. The cloud's 70,080 is
    # all deductible: 52,560.
    res = solve(one_box(finance={"tax_rate": 0.25}), CLOUD)
    assert res.scenario("hybrid").after_tax_npv_usd == pytest.approx(39_370.0)
    assert res.scenario("cloud-only").after_tax_npv_usd == pytest.approx(52_560.0)
    assert res.recommended_name == "hybrid"
    doc = res.to_dict()
    assert {s["name"]: s["after_tax_npv_usd"] for s in doc["scenarios"]}["hybrid"] == 39_370.0
    # without a tax rate there is none
    assert solve(one_box(), CLOUD).scenario("hybrid").after_tax_npv_usd is None


def test_after_tax_can_choose_another_plan():
    # the cloud at $0.75 a GPU-hour: 52,560 a year, below the server's 53,160, so every plan
    # with the cloud runs there. After 40% tax: 52,560 x 0.6 = 31,536 against the server's
    # 53,160 - 0.4 x 55,160 = 31,096: the owned server is the cheaper plan after tax
    cheap = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 6.0))
    by_npv = solve(one_box(finance={"tax_rate": 0.4}), cheap)
    assert by_npv.recommended.npv_usd == pytest.approx(52_560.0)
    assert by_npv.recommended_name != "onprem-only"
    after = solve(one_box(finance={"tax_rate": 0.4, "criterion": "after_tax"}), cheap)
    assert after.recommended_name == "onprem-only"
    assert after.recommended.after_tax_npv_usd == pytest.approx(31_096.0)
    assert after.margin is not None and after.margin.usd == pytest.approx(31_536.0 - 31_096.0)


def test_bad_finance_settings_are_refused():
    with pytest.raises(PlanError, match="after_tax.*tax_rate"):
        one_box(finance={"criterion": "after_tax"})
    with pytest.raises(PlanError, match="fiscal_year_start"):
        one_box(plan={"fiscal_year_start": 13})
    with pytest.raises(PlanError, match="tax_rate"):
        one_box(finance={"tax_rate": 1.5})


def april_year(label):
    year, month = (int(x) for x in label.split("-"))
    return year + 1 if month >= 4 else year


def test_the_research_labs_budget_rolls_forward_from_its_cash_flows():
    from dataclasses import replace
    from pathlib import Path

    from tco.optimizer import load_plan
    from tco.optimizer.months import month_offset
    from tco.pricing.snapshot import load_snapshot

    loaded = load_plan(Path(__file__).parents[2] / "examples" / "research-lab.toml")
    plan = replace(loaded.plan, plan=replace(loaded.plan.plan, fiscal_year_start=4))
    res = solve(plan, load_snapshot())
    hybrid = res.scenario("hybrid")
    # each fiscal year's cash is its months' cash flows, grouped here by April-to-March years
    by_year: dict[int, float] = {}
    for f in hybrid.cash_flows:
        year, month = (int(x) for x in f.month.split("-"))
        fy = year + 1 if month >= 4 else year
        by_year[fy] = by_year.get(fy, 0.0) + f.usd
    budget = {b.fiscal_year: b for b in hybrid.budget}
    assert sorted(budget) == sorted(by_year)
    for fy, cash in by_year.items():
        assert budget[fy].cash_out_usd == pytest.approx(cash, rel=1e-9, abs=1e-6)
    # the book rolls forward: last year's book + servers booked in the year - depreciation -
    # the book value of servers sold (their proceeds + the loss on them)
    proceeds: dict[int, float] = {}
    for r in hybrid.retirements:
        year, month = (int(x) for x in r.month.split("-"))
        fy = year + 1 if month >= 4 else year
        proceeds[fy] = proceeds.get(fy, 0.0) + r.resale_usd
    owned = {(s.name, e.server): e for s in plan.onprem.sites for e in s.existing}
    book = sum(e.count * (plan.server(server).price_usd + plan.server(server).network_usd)
               * max(0.0, 1 - e.age_months / plan.server(server).useful_life_months)
               for (_, server), e in owned.items())
    for fy in sorted(budget):
        b = budget[fy]
        bought = sum(p.capex_usd for p in hybrid.procurement if april_year(p.arrival_month) == fy)
        book += bought - b.depreciation_usd - (proceeds.get(fy, 0.0) + b.loss_on_sales_usd)
        assert b.book_value_usd == pytest.approx(book, rel=1e-9, abs=1e-6)
    assert month_offset(plan.plan.start, hybrid.budget[0].start) == 0


# --- financing (SPEC 20) ----------------------------------------------------------------------

def financed_box(financing, months=12, window=None, discount_rate=0.0, **plan):
    workload = {"name": "train", "kind": "training", "gpu": "H100",
                "gpu_hours": (months if window is None else 6) * FULL}
    if window:
        workload["window"] = window
    # orders only in the first month: one order to read
    doc = plan_doc(workload, months=months,
                   onprem={"sites": [SITE], "servers": [{**SERVER, "financing": financing}],
                           "order_every_months": 12})
    doc["plan"] = {**doc["plan"], "discount_rate": discount_rate, **plan}
    return plan_from_dict(doc)


def capex_flows(scenario):
    return {f.month: round(f.usd, 2) for f in scenario.cash_flows if f.category == "onprem_capex"}


def test_a_loan_pays_its_annuity_after_the_down_payment():
    # 20% down on $100,000 and $80,000 over 24 months at 6% a year: 80,000 x 0.005 /
    # (1 - 1.005^-24) = $3,545.65 a month from the month after arrival. Discounting at 20% a
    # year, paying later is cheaper, so the server is bought on the loan.
    loan = {"kind": "loan", "rate": 0.06, "months": 24, "down_fraction": 0.2}
    res = solve(financed_box(loan, discount_rate=0.2), CLOUD)
    hybrid = res.scenario("hybrid")
    [order] = hybrid.procurement
    assert (order.count, order.loan, order.leased) == (1, 1, 0)
    assert order.capex_usd == pytest.approx(100_000.0)       # the price, for the book
    flows = capex_flows(hybrid)
    assert flows["2027-01"] == pytest.approx(20_000.0)
    # all in, the site's cost is every amount of the plan: the loan's payments in full
    assert hybrid.usd_per_gpu_hour * 12 * FULL == pytest.approx(hybrid.total_usd)
    annuity = 3_545.6488202206247
    months = [f"{2027 + (m // 12)}-{m % 12 + 1:02d}" for m in range(1, 25)]
    assert [flows[m] for m in months] == pytest.approx([annuity] * 24, abs=0.01)
    assert len(flows) == 25                  # past the horizon too, as the payments fall
    # the server is owned: credited at its value after the horizon like a bought one
    assert any(f.category == "residual_credit" and f.month == "2028-01"
               for f in hybrid.cash_flows)
    # without the discount, the loan's interest makes buying outright the cheaper
    plain = solve(financed_box(loan), CLOUD).scenario("hybrid")
    assert plain.procurement[0].loan == 0
    assert plain.npv_usd == pytest.approx(53_160.0)


def test_a_lease_wins_over_the_purchase_when_it_costs_less_than_the_value_lost():
    # bought, the server loses 100,000 - 82,000 = 18,000 of value in the year; leased at
    # $1,400 a month it costs 16,800 and is worth nothing to the plan at the end: the lease
    # wins by 1,200. Energy, colo, maintenance and staff are the same either way (35,160).
    lease = {"kind": "lease", "months": 12, "usd_per_month": 1_400.0}
    res = solve(financed_box(lease), CLOUD)
    hybrid = res.scenario("hybrid")
    assert (hybrid.procurement[0].count, hybrid.procurement[0].leased) == (1, 1)
    assert hybrid.npv_usd == pytest.approx(35_160.0 + 16_800.0)
    assert hybrid.breakdown["onprem_lease"] == pytest.approx(16_800.0)
    assert hybrid.breakdown["onprem_capex"] == pytest.approx(0.0, abs=1e-6)
    assert hybrid.breakdown["residual_credit"] == pytest.approx(0.0, abs=1e-6)
    # all in, a GPU-hour of the site costs the lease too: every cost over the year's hours
    assert hybrid.usd_per_gpu_hour == pytest.approx((35_160.0 + 16_800.0) / (12 * FULL))
    fy = years(res)[2027]
    assert fy.capex_usd == pytest.approx(0.0, abs=1e-6)
    assert fy.depreciation_usd == 0.0 and fy.book_value_usd == 0.0
    assert fy.opex_usd["onprem_lease"] == pytest.approx(16_800.0)
    # at $1,600 a month (19,200) buying is cheaper
    dear = solve(financed_box({**lease, "usd_per_month": 1_600.0}), CLOUD).scenario("hybrid")
    assert dear.procurement[0].leased == 0
    assert dear.npv_usd == pytest.approx(53_160.0)


def test_leased_servers_go_back_when_the_lease_ends():
    # six months of work on a twelve-month plan; a six-month lease at $1,400: 8,400 and six
    # months of running costs (17,580): 25,980. Bought and sold after six months it would
    # cost 100,000 - 91,000 + 2,000 to decommission + 17,580 = 28,580.
    lease = {"kind": "lease", "months": 6, "usd_per_month": 1_400.0}
    res = solve(financed_box(lease, window=["2027-01", "2027-06"]), CLOUD)
    hybrid = res.scenario("hybrid")
    assert hybrid.procurement[0].leased == 1
    assert hybrid.npv_usd == pytest.approx(8_400.0 + 6 * MONTH_OPEX)
    assert [(r.month, r.count, r.reason, r.resale_usd, r.decommission_usd)
            for r in hybrid.retirements] == [("2027-07", 1, "lease ended", 0.0, 0.0)]
    assert years(res)[2027].loss_on_sales_usd == 0.0


def test_a_lease_bought_out_is_owned_from_then():
    # six months at $1,400, then bought for $50,000: owned, and credited after the year at
    # its value at twelve months, 82,000. 8,400 + 50,000 - 82,000 + 35,160 = 11,560. The
    # book: 50,000 depreciated over the 54 months of life left, six of them in the year.
    lease = {"kind": "lease", "months": 6, "usd_per_month": 1_400.0, "buyout_usd": 50_000.0}
    res = solve(financed_box(lease), CLOUD)
    hybrid = res.scenario("hybrid")
    assert hybrid.procurement[0].leased == 1
    assert hybrid.npv_usd == pytest.approx(8_400.0 + 50_000.0 - 82_000.0 + 35_160.0)
    assert capex_flows(hybrid) == {"2027-07": pytest.approx(50_000.0)}
    fy = years(res)[2027]
    assert fy.depreciation_usd == pytest.approx(6 * 50_000.0 / 54)
    assert fy.book_value_usd == pytest.approx(50_000.0 - 6 * 50_000.0 / 54)


def test_a_capex_budget_leaves_room_for_a_lease():
    # $50,000 of capex allowed: the server cannot be bought, but it can be leased
    lease = {"kind": "lease", "months": 12, "usd_per_month": 1_400.0}
    res = solve(financed_box(lease, capex_budget_usd=50_000.0), CLOUD)
    assert res.scenario("hybrid").procurement[0].leased == 1
    assert res.scenario("hybrid").npv_usd == pytest.approx(51_960.0)


def test_the_server_prices_lever_moves_a_lease_with_the_price():
    from tco.analysis.levers import lever
    from tco.pricing.models import Catalog

    lease = {"kind": "lease", "months": 12, "usd_per_month": 1_400.0, "buyout_usd": 10_000.0}
    plan = financed_box(lease).plan
    moved, _ = lever("server_prices", plan).apply(plan, Catalog(()), 1.5)
    f = moved.onprem.servers[0].financing
    assert (f.usd_per_month, f.buyout_usd) == (2_100.0, 15_000.0)
    assert moved.onprem.servers[0].price_usd == 150_000.0


def test_bad_financing_is_refused():
    with pytest.raises(PlanError, match="a lease needs usd_per_month"):
        financed_box({"kind": "lease", "months": 12})
    with pytest.raises(PlanError, match="a loan needs rate"):
        financed_box({"kind": "loan", "months": 12})
    with pytest.raises(PlanError, match="longer than the server's useful life"):
        financed_box({"kind": "lease", "months": 72, "usd_per_month": 1.0})


def test_a_leased_server_is_not_sold_before_its_lease_ends():
    # six months of work and a twelve-month lease: leased, the server must be kept (idle)
    # to the end of its lease, 16,800 + 17,580 + 6 x 2,565 idle; bought and sold after six
    # months, 28,580. A leased server sold at six months would bring in 91,000 that is not
    # the plan's.
    lease = {"kind": "lease", "months": 12, "usd_per_month": 1_400.0}
    res = solve(financed_box(lease, window=["2027-01", "2027-06"]), CLOUD)
    hybrid = res.scenario("hybrid")
    assert hybrid.procurement[0].leased == 0
    assert hybrid.npv_usd == pytest.approx(100_000.0 - 91_000.0 + 2_000.0 + 6 * MONTH_OPEX)


def test_a_leased_server_is_not_kept_past_its_lease():
    # a year of work, a six-month lease at $1,400 with no buyout: kept the whole year it would
    # cost 8,400 + 35,160; it goes back after six months, and the cloud for the rest costs
    # more than buying the server (53,160), which is the plan
    lease = {"kind": "lease", "months": 6, "usd_per_month": 1_400.0}
    hybrid = solve(financed_box(lease), CLOUD).scenario("hybrid")
    assert hybrid.procurement[0].leased == 0
    assert hybrid.npv_usd == pytest.approx(53_160.0)


def test_books_that_do_not_add_up_are_left_out_and_said():
    from dataclasses import replace

    from tco.optimizer.result import Retirement
    from tco.optimizer.scenarios import _with_books

    plan = one_box().plan
    hybrid = solve(plan, CLOUD).scenario("hybrid")
    stray = Retirement("hybrid", "dc", "box", "existing[7]", "2027-03", 3, 1, "sold", 1.0, 0.0)
    broken = _with_books(plan, replace(hybrid, retirements=(stray,), budget=()))
    assert broken.budget == ()
    assert any("no budget by fiscal year: a retirement from an unknown cohort" in n
               for n in broken.notes)
