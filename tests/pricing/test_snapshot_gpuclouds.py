"""The GPU clouds beyond the three in the bundled snapshot (SPEC 18): every row sourced and
dated, the per-GPU prices their sources print, storage and egress where a source gives them
(free only where a source says so), and regions placed only where a city is published."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tco.cli.main import main
from tco.pricing.models import DEFAULT_PROVIDERS, Provider, Purchase
from tco.pricing.reference import regions
from tco.pricing.snapshot import load_snapshot

GPU_CLOUDS = [p.value for p in Provider if p not in DEFAULT_PROVIDERS]


@pytest.fixture(scope="module")
def snapshot():
    return load_snapshot()


@pytest.mark.parametrize("provider", GPU_CLOUDS)
def test_every_gpu_cloud_has_sourced_dated_rows(snapshot, provider):
    rows = [r for r in snapshot.compute if r.provider == provider]
    assert rows, provider
    for r in rows:
        assert r.source_ref.startswith("https://"), r
        assert dt.date(2026, 1, 1) <= r.as_of <= dt.date(2026, 12, 7), r
        assert r.purchase in (Purchase.ON_DEMAND, Purchase.SPOT), r   # none publishes a term
        assert r.vcpus > 0 and r.memory_gib > 0, r


@pytest.mark.parametrize(("provider", "instance", "gpus", "per_gpu_hour"), [
    # the per-GPU list prices their sources print, times the GPUs of the instance
    ("nebius", "gpu-h100-sxm 8gpu-128vcpu-1600gb", 8, 3.85),   # nebius.com/prices, 2026-09-16
    ("nebius", "gpu-h200-sxm 1gpu-16vcpu-200gb", 1, 4.50),
    ("lambda", "gpu_8x_h100_sxm5", 8, 3.99),                   # Lambda's API, 2026-09-19
    ("lambda", "gpu_8x_b200_sxm6", 8, 6.69),
    ("coreweave", "NVIDIA HGX H100", 8, 6.155),                # coreweave.com/pricing, 2026-10-10
    ("oci", "BM.GPU.H100.8", 8, 10.00),                        # Oracle's price list, 2026-08-18
    ("crusoe", "h100-80gb-sxm-ib.8x", 8, 3.90),                # crusoe.ai/cloud/pricing, 2026-09-20
    ("runpod", "NVIDIA H100 80GB HBM3", 1, 3.49),              # runpod.io/pricing, 2026-09-16
])
def test_on_demand_prices_are_the_sources_per_gpu_rates(snapshot, provider, instance, gpus,
                                                        per_gpu_hour):
    rows = [r for r in snapshot.compute if (r.provider, r.instance_type, r.purchase) ==
            (provider, instance, Purchase.ON_DEMAND)]
    assert rows
    for r in rows:
        assert r.gpu_count == gpus
        assert r.usd_per_hour == pytest.approx(per_gpu_hour * gpus, rel=1e-9)


def test_a_published_uniform_price_is_the_same_in_every_region_it_covers(snapshot):
    for provider in GPU_CLOUDS:
        prices: dict[tuple[str, Purchase], set[float]] = {}
        for r in snapshot.compute:
            if r.provider == provider:
                prices.setdefault((r.instance_type, r.purchase), set()).add(r.usd_per_hour)
        if provider == "coreweave":      # North America and Europe differ on spot
            continue
        assert all(len(v) == 1 for v in prices.values()), provider


def test_free_egress_only_where_a_source_says_so(snapshot):
    free = {(e.provider, e.region) for e in snapshot.egress
            if all(rate == 0 for _, rate in e.tiers)}
    assert {p for p, _ in free} == {"lambda", "nebius", "runpod", "coreweave"}
    # no source found for OCI's or Crusoe's egress: none is invented, so a workload that
    # sends traffic out cannot use them (unknown is never zero)
    assert not [e for e in snapshot.egress if e.provider in ("oci", "crusoe")]
    assert not [s for s in snapshot.storage if s.provider == "oci"]


def test_storage_is_priced_where_a_gpu_cloud_sells_gpus(snapshot):
    for provider in ("lambda", "nebius", "runpod", "coreweave", "crusoe"):
        gpu_regions = {r.region for r in snapshot.compute if r.provider == provider}
        stored = {s.region for s in snapshot.storage if s.provider == provider}
        assert gpu_regions <= stored, provider
    (runpod,) = {s.tiers for s in snapshot.storage if s.provider == "runpod"}
    assert runpod == ((0.0, 0.07), (1000.0, 0.05))


def test_regions_have_coordinates_only_where_a_city_is_published(snapshot):
    placed = {(p, r) for (p, r) in regions() if p in GPU_CLOUDS}
    assert ("nebius", "us-central1") in placed and ("coreweave", "EU-SOUTH-03") in placed
    assert ("oci", "us-ashburn-1") in placed and ("lambda", "us-east-3") in placed
    # RunPod and Crusoe name data centres without cities: their rows have no place, and a
    # latency-bound workload cannot use them (tests/optimizer/test_venues.py)
    assert not any(p in ("runpod", "crusoe") for p, _ in placed)
    assert any(r.provider == "runpod" for r in snapshot.compute)


def test_prices_list_shows_a_gpu_clouds_rows_offline(capsys, monkeypatch):
    monkeypatch.setenv("TCO_OFFLINE", "1")
    assert main(["prices", "list", "--provider", "nebius", "--gpu", "H100", "--format",
                 "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["provider"] for r in rows} == {"nebius"}
    assert {r["source"] for r in rows} == {"snapshot"}
    assert {(r["instance_type"], r["purchase"], r["usd_per_hour"]) for r in rows} == {
        ("gpu-h100-sxm 1gpu-16vcpu-200gb", "on_demand", 3.85),
        ("gpu-h100-sxm 1gpu-16vcpu-200gb", "spot", 2.15),
        ("gpu-h100-sxm 8gpu-128vcpu-1600gb", "on_demand", 30.80),
        ("gpu-h100-sxm 8gpu-128vcpu-1600gb", "spot", 17.20)}
    assert {r["as_of"] for r in rows} == {"2026-09-16"}
    assert main(["prices", "list", "--provider", "nebius", "--gpu", "H100"]) == 0
    table = capsys.readouterr().out
    assert "nebius" in table and "2026-09-16" in table and "30.8000" in table
