from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tco.pricing import load_catalog
from tco.pricing.integrity import check_catalog
from tco.pricing.tiers import tiered_cost, validate_tiers
from tests.conftest import catalog, offer

AWS_EGRESS = ((0.0, 0.09), (10_240.0, 0.085), (51_200.0, 0.07), (153_600.0, 0.05))


def test_tiered_cost_by_hand():
    assert tiered_cost(AWS_EGRESS, 0) == 0
    assert tiered_cost(AWS_EGRESS, 10_240) == pytest.approx(921.6)
    assert tiered_cost(AWS_EGRESS, 20_000) == pytest.approx(921.6 + 9_760 * 0.085)
    assert tiered_cost(AWS_EGRESS, 200_000) == pytest.approx(
        10_240 * 0.09 + 40_960 * 0.085 + 102_400 * 0.07 + 46_400 * 0.05)


@given(st.floats(0, 1e6), st.floats(0, 1e6))
def test_tiered_cost_is_monotone(a, b):
    lo, hi = sorted((a, b))
    assert tiered_cost(AWS_EGRESS, lo) <= tiered_cost(AWS_EGRESS, hi) + 1e-9


@pytest.mark.parametrize("boundary", [10_240.0, 51_200.0, 153_600.0])
def test_tiered_cost_is_continuous_at_boundaries(boundary):
    eps = 1e-6
    assert tiered_cost(AWS_EGRESS, boundary - eps) == pytest.approx(
        tiered_cost(AWS_EGRESS, boundary + eps), abs=1e-6)


@pytest.mark.parametrize("tiers,message", [
    ([], "no tiers"),
    ([[5, 0.1]], "first tier must start at 0"),
    ([[0, 0.1], [0, 0.05]], "not after the previous tier"),
    ([[0, -0.1]], "negative"),
    ([[0, 0.0]], "unknown is never zero"),
])
def test_bad_tiers(tiers, message):
    with pytest.raises(ValueError, match=message):
        validate_tiers(tiers)


def test_zero_and_negative_prices_are_excluded_and_reported():
    cat = catalog(offer("aws", "us-east-1", "a", "L4", 1, "on_demand", 0.0),
                  offer("aws", "us-east-1", "b", "L4", 1, "on_demand", -1.0),
                  offer("aws", "us-east-1", "c", "L4", 1, "on_demand", 0.8),
                  offer("aws", "us-east-1", "d", "NOPE", 1, "on_demand", 0.8))
    report = check_catalog(cat)
    assert [r.instance_type for r in report.catalog.compute] == ["c"]
    assert len(report.rejected) == 3
    assert any("never used as $0" in r for r in report.rejected)
    assert any("unknown GPU class 'NOPE'" in r for r in report.rejected)


def test_spot_not_cheaper_is_a_warning_not_a_rejection():
    cat = catalog(offer("aws", "us-east-1", "c", "L4", 1, "on_demand", 0.8),
                  offer("aws", "us-east-1", "c", "L4", 1, "spot", 0.9))
    report = check_catalog(cat)
    assert len(report.catalog.compute) == 2
    assert report.warnings and "not cheaper than on-demand" in report.warnings[0]


def test_user_catalog_keeps_its_source_and_computes_effective_hourly(tmp_path):
    doc = {"schema": 1, "compute": [
        {"provider": "aws", "region": "us-east-1", "instance_type": "p5.48xlarge", "gpu": "H100",
         "gpu_count": 8, "purchase": "reserved_1y", "recurring_usd_per_hour": 10.0,
         "upfront_usd": 87_600.0, "as_of": "2026-10-01"}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    (r,) = load_catalog(path=path).compute
    assert r.usd_per_hour == pytest.approx(20.0)  # 10 + 87,600 / (12 x 730)
    assert r.upfront_usd == 87_600.0 and r.term_months == 12
    assert r.source.value == "user"
