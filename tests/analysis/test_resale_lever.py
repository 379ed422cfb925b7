"""The ``resale`` lever (``levers.NAMED``): x times every server's value, on a plan whose NPV
is worked out by hand at two values of it besides the plan's own.

``test_fleet``'s server (100,000, straight-line to 10% over 60 months, 2,930 a fully used
month, 2,000 to decommission) with a 10% broker's fee; one server's work all year, two owned
at age 12 (each worth 82,000 x x now, 64,000 x x at age 24), no cloud, discount rate 0. One is
kept and one sold at once, whatever x: keeping the second idle costs 12 x 2,565 = 30,780 and
brings in 64,000 x x at the end, against 73,800 x x - 2,000 sold now (28,780 + 9,800 x
dearer). So

    NPV(x) = -(82,000 x 0.9 x x - 2,000) + 12 x 2,930 - 64,000 x x
           = 37,160 - 137,800 x
"""

from __future__ import annotations

import pytest

from tco.analysis import lever
from tco.optimizer import plan_from_dict, solve
from tests.optimizer.test_fleet import FULL, NO_CLOUD, SERVER, doc, owned
from tests.reprice import assert_repriced

PLAN = doc(12 * FULL, existing=[owned(2)], server={**SERVER, "resale_fee_fraction": 0.1})


@pytest.mark.parametrize("x,npv", [
    (1.0, 37_160.0 - 137_800.0),          # -100,640
    (0.5, 37_160.0 - 68_900.0),           # -31,740
    (0.8, 37_160.0 - 110_240.0),          # -73,080
])
def test_resale_scales_what_the_servers_bring_in(x, npv):
    base = plan_from_dict(PLAN).plan
    plan, cat = lever("resale", base).apply(base, NO_CLOUD, x)
    res = solve(plan, cat)
    rec = res.scenario("onprem-only")
    assert rec.npv_usd == pytest.approx(npv, abs=1e-6 * abs(npv))
    # the sale and the value held at the end, each x times its value
    assert [(r.month, r.count, r.resale_usd) for r in rec.retirements] == [
        ("2027-01", 1, pytest.approx(82_000.0 * 0.9 * x, abs=0.01))]
    assert rec.breakdown["residual_credit"] == pytest.approx(
        -(73_800.0 + 64_000.0) * x, abs=1e-6 * 137_800.0)
    assert_repriced(plan, cat, rec, tolerance=0.01)
    assert res.recommended.npv_usd == pytest.approx(npv, abs=1e-6 * abs(npv))
