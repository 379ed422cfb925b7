"""The venues table: each venue's GPU-hours, running cost and all-in cost, worked out by hand
on the small plans of ``test_fleet``; and the scenarios' Δ NPV and ranking note."""

from __future__ import annotations

import pytest

from tco.cli.render import ranking_note, scenario_rows
from tests.reprice import assert_venues_repriced

from .test_fleet import CLOUD_1, FULL, NO_CLOUD, doc, owned, run


def venue(rec, name):
    (v,) = [v for v in rec.venues if v.venue == name]
    return v


def test_a_server_bought_costs_its_running_costs_and_its_loss_of_value(solver):
    # one server's work all year on one server ordered for it (lead time 2: ordered 2026-11
    # is impossible, so the first two months run on the cloud at $1/GPU-hour, then 10 months
    # on the server, sold at the end at age 10 for 100,000 x (1 - 0.9 x 10/60) = 85,000).
    # running at the site: 10 x 2,930 = 29,300; all-in adds 100,000 - 85,000
    res = run(doc(12 * FULL, providers=("aws",)), CLOUD_1, solver)
    rec = res.scenario("hybrid")
    site = venue(rec, "dc")
    assert site.gpu_hours == pytest.approx(10 * FULL)
    assert site.running_usd == pytest.approx(29_300.0, abs=0.01)
    assert site.all_in_usd == pytest.approx(29_300.0 + 15_000.0, abs=0.01)
    assert site.all_in_usd_per_gpu_hour == pytest.approx(44_300.0 / (10 * FULL))
    cloud = venue(rec, "aws:us-east-1")
    assert cloud.gpu_hours == pytest.approx(2 * FULL)
    assert cloud.running_usd == cloud.all_in_usd == pytest.approx(2 * FULL * 1.0, abs=0.01)


def test_a_server_owned_costs_what_selling_it_at_the_start_would_have_brought(solver):
    # two servers owned at age 12 (worth 82,000 each); one is sold in the first month, one
    # kept all year (12 x 2,930 = 35,160) and credited 64,000 at the end. All-in: the start
    # value of both net of decommissioning, 2 x 80,000, less the sale (82,000 - 2,000) and
    # the credit: 35,160 + 160,000 - 80,000 - 64,000 = 51,160, which is the kept server's
    # loss of value (80,000 net at the start, 64,000 at the end) and its running costs.
    rec = run(doc(12 * FULL, existing=[owned(2)]), NO_CLOUD, solver).scenario("onprem-only")
    site = venue(rec, "dc")
    assert site.running_usd == pytest.approx(35_160.0, abs=0.01)
    assert site.all_in_usd == pytest.approx(51_160.0, abs=0.01)
    # the scenario's $/GPU-hour is that all-in cost over the hours served, not its total
    # (35,160 less the sale and the credit: negative) over them
    assert rec.total_usd < 0
    assert rec.usd_per_gpu_hour == pytest.approx(51_160.0 / (12 * FULL), rel=1e-9)


def test_every_examples_venues_cost_what_their_records_cost_priced_again():
    # across the examples' scenarios: each venue's GPU-hours, running cost and all-in cost
    # equal its allocations, commitments, fleet, procurement and retirements priced from
    # scratch (tests/reprice.py), not the ledger's own sums
    from tco.optimizer import load_plan, solve
    from tco.pricing import load_catalog

    from .test_examples import EXAMPLES

    cat = load_catalog(offline=True)
    for path in EXAMPLES:
        plan = load_plan(path)
        res = solve(plan, cat)
        for s in res.scenarios:
            if s.feasible:
                assert_venues_repriced(plan.plan, cat, s)


def test_delta_npv_and_the_ranking_note(solver):
    res = run(doc(12 * FULL, providers=("aws",)), CLOUD_1, solver)
    _, headers, rows, _ = scenario_rows(res)
    delta = headers.index("Δ NPV")
    by = {r[0].rstrip(" *"): r[delta] for r in rows}
    assert by[res.recommended_name] == "0"
    cloud = res.scenario("cloud-only")
    assert by["cloud-only"] == f"+${cloud.npv_usd - res.recommended.npv_usd:,.0f}"
    # discount rate 0: total and NPV rank alike, nothing to say
    assert ranking_note(res) is None


def test_the_ranking_note_says_when_total_and_npv_disagree():
    from tco.optimizer.result import Result, ScenarioResult

    scenarios = (ScenarioResult("hybrid", True, None, npv_usd=90.0, total_usd=120.0),
                 ScenarioResult("cloud-only", True, None, npv_usd=100.0, total_usd=110.0),
                 ScenarioResult("onprem-only", False, "no site can serve it"))
    res = Result("p", "2027-01", 12, scenarios, "hybrid", (), ())
    note = ranking_note(res)
    assert note is not None
    assert note.startswith("hybrid is recommended on NPV, though cloud-only spends less in "
                           "total ($110 against $120)")
    _, _, rows, _ = scenario_rows(res)
    assert rows[2][:2] == ["onprem-only", "no [1]"]
