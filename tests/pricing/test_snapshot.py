"""Rules every catalog must satisfy, run on the bundled snapshot, plus its coverage."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections import defaultdict
from importlib import resources

import pytest

from tco.pricing import Purchase, load_catalog
from tco.pricing.integrity import check_catalog
from tco.pricing.models import DEFAULT_PROVIDERS, Provider
from tco.pricing.reference import gpu_classes, metros, regions
from tco.pricing.snapshot import load_snapshot

US = ("us-", "centralus", "eastus", "westus", "southcentralus", "northcentralus")
EU = ("eu-", "europe-", "westeurope", "northeurope", "swedencentral", "uksouth", "francecentral",
      "germanywestcentral")
ASIA = ("ap-", "asia-", "japaneast", "koreacentral", "southeastasia", "centralindia")


def _kind(region: str) -> str | None:
    for name, prefixes in (("us", US), ("eu", EU), ("asia", ASIA)):
        if region.startswith(prefixes):
            return name
    return None


@pytest.fixture(scope="module")
def snapshot():
    return load_snapshot()


def test_every_snapshot_record_passes_the_integrity_rules(snapshot):
    report = check_catalog(snapshot)
    assert report.rejected == ()
    assert len(report.catalog.compute) == len(snapshot.compute) > 1000


def test_every_record_has_a_source_and_date(snapshot):
    for r in [*snapshot.compute, *snapshot.storage, *snapshot.egress]:
        assert r.source_ref.startswith("https://"), r
        assert dt.date(2024, 1, 1) <= r.as_of <= dt.date(2026, 12, 31), r


def test_compute_records_are_consistent(snapshot):
    seen = set()
    for r in snapshot.compute:
        key = (r.provider, r.region, r.instance_type, r.purchase)
        assert key not in seen, key
        seen.add(key)
        assert r.usd_per_hour > 0 and r.gpu_count > 0 and r.gpu in gpu_classes()
        assert r.term_months == r.purchase.term_months
        if r.provider in DEFAULT_PROVIDERS:
            # the GPU clouds publish some regions without a city (test_snapshot_gpuclouds)
            assert (r.provider, r.region) in regions(), (r.provider, r.region)
        if r.purchase.is_reserved:
            assert r.upfront_usd >= 0


def test_reserved_is_cheaper_than_on_demand(snapshot):
    od = {(r.provider, r.region, r.instance_type): r.usd_per_hour for r in snapshot.compute
          if r.purchase == Purchase.ON_DEMAND}
    for r in snapshot.compute:
        if r.purchase.is_reserved and (r.provider, r.region, r.instance_type) in od:
            assert r.usd_per_hour < od[(r.provider, r.region, r.instance_type)], r


@pytest.mark.parametrize("provider", ["aws", "gcp", "azure"])
def test_coverage_per_provider(snapshot, provider):
    regions_by_kind = defaultdict(set)
    purchases = set()
    for r in snapshot.compute:
        if r.provider == provider:
            regions_by_kind[_kind(r.region)].add(r.region)
            purchases.add(r.purchase)
    assert len(regions_by_kind["us"]) >= 3
    assert len(regions_by_kind["eu"]) >= 2
    assert len(regions_by_kind["asia"]) >= 1
    assert purchases - {Purchase.ON_DEMAND, Purchase.SPOT, Purchase.RESERVED_1Y,
                        Purchase.RESERVED_3Y} == {
        "aws": {Purchase.CAPACITY_BLOCK},
        "gcp": set(),
        "azure": {Purchase.SAVINGS_PLAN_1Y, Purchase.SAVINGS_PLAN_3Y}}[provider]
    assert {Purchase.ON_DEMAND, Purchase.SPOT, Purchase.RESERVED_1Y,
            Purchase.RESERVED_3Y} <= purchases
    assert any(s.provider == provider for s in snapshot.storage)
    assert any(e.provider == provider for e in snapshot.egress)


@pytest.mark.parametrize("provider,gpus", [
    ("aws", {"H100", "A100-40GB", "A100-80GB", "L4", "A10G", "L40S"}),
    ("gcp", {"H100", "H200", "B200", "A100-40GB", "A100-80GB", "L4"}),
    ("azure", {"H100", "H100-NVL", "H200", "A100-40GB", "A100-80GB"}),
])
def test_gpu_classes_offered(snapshot, provider, gpus):
    assert gpus <= {r.gpu for r in snapshot.compute if r.provider == provider}


def test_capacity_blocks_and_savings_plans_are_the_sources_figures(snapshot):
    """AWS's Capacity Blocks page of 2026-07-22 and Azure's savings-plan prices
    (SOURCES_aws.md, SOURCES_azure.md)."""
    def price(provider, region, itype, purchase):
        (r,) = [r for r in snapshot.compute if (r.provider, r.region, r.instance_type,
                                                r.purchase.value) == (provider, region, itype,
                                                                      purchase)]
        return r
    block = price("aws", "us-east-1", "p5.48xlarge", "capacity_block")
    assert (block.usd_per_hour, block.term_months, block.as_of) == (41.528, 0,
                                                                    dt.date(2026, 7, 22))
    assert price("aws", "eu-north-1", "p5.48xlarge", "capacity_block").usd_per_hour == 37.76
    plan = price("azure", "eastus", "Standard_NC40ads_H100_v5", "savings_plan_3y")
    assert (plan.usd_per_hour, plan.term_months, plan.upfront_usd) == (4.305962, 36, 0.0)
    # every savings plan is cheaper than pay as you go in its region
    on_demand = {(r.region, r.instance_type): r.usd_per_hour for r in snapshot.compute
                 if r.provider == "azure" and r.purchase == Purchase.ON_DEMAND}
    for r in snapshot.compute:
        if r.purchase.is_savings_plan:
            assert r.usd_per_hour < on_demand[(r.region, r.instance_type)], r


def test_known_prices_are_read_exactly(snapshot):
    """Spot checks against the sources named in SOURCES_*.md."""
    def price(provider, region, itype, purchase):
        (r,) = [r for r in snapshot.compute if (r.provider, r.region, r.instance_type,
                                                r.purchase.value) == (provider, region, itype,
                                                                      purchase)]
        return r.usd_per_hour
    assert price("aws", "us-east-1", "p5.48xlarge", "on_demand") == 55.04
    assert price("gcp", "us-central1", "a3-highgpu-8g", "on_demand") == 88.49
    # Azure reservations are term totals: 551,221 / 8,760 h
    assert price("azure", "eastus", "Standard_ND96isr_H100_v5", "reserved_1y") == pytest.approx(
        551_221 / 8760, rel=1e-9)


def test_gcp_gib_rows_are_converted_to_gb(snapshot):
    (s,) = [s for s in snapshot.storage if (s.provider, s.region) == ("gcp", "us-central1")]
    assert s.tiers[0][1] == pytest.approx(0.02 / 1.073741824)
    (e,) = [e for e in snapshot.egress if (e.provider, e.region) == ("gcp", "us-central1")]
    assert e.tiers[1][0] == pytest.approx(1024 * 1.073741824)


def test_storage_and_egress_tiers_are_volume_discounts(snapshot):
    for t in [*snapshot.storage, *snapshot.egress]:
        starts = [s for s, _ in t.tiers]
        assert starts[0] == 0 and starts == sorted(starts)
        rates = [r for _, r in t.tiers]
        assert all(b <= a for a, b in itertools.pairwise(rates[1:])), t


def test_reference_data_rows_have_sources():
    for name in ("gpus.csv", "regions.csv", "metros.csv", "defaults.csv",
                 *(f"instances_{p.value}.csv" for p in Provider)):
        path = resources.files("tco.pricing").joinpath("data", name)
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, name
        for row in rows:
            assert row["source"].strip(), (name, row)
    assert {"us-east", "eu-west", "ap-south"} <= set(metros())
    for place in [*metros().values(), *regions().values()]:
        assert -90 <= place.lat <= 90 and -180 <= place.lon <= 180


def test_load_catalog_is_the_snapshot_offline():
    cat = load_catalog(offline=True)
    assert {p.source for p in cat.provenance()} == {"snapshot"}
    assert {p.provider for p in cat.provenance()} == {p.value for p in Provider}


def test_compute_of_keeps_catalog_order_and_only_those_providers():
    catalog = load_catalog(offline=True)
    both = catalog.compute_of(("gcp", "aws"))
    assert both == tuple(r for r in catalog.compute if r.provider in ("aws", "gcp"))
    assert {r.provider for r in both} == {"aws", "gcp"}
    assert catalog.compute_of(("gcp", "aws")) is both          # filtered once
    assert catalog.compute_of(()) == ()
    assert sum(len(catalog.compute_of((p.value,))) for p in Provider) == len(catalog.compute)
