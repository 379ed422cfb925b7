"""Caching and freshness of live prices, with a fake adapter standing in for a provider."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from tco.pricing import live
from tco.pricing.base import FetchResult
from tco.pricing.cache import RecordCache
from tco.pricing.errors import MissingCredentialsError, PricingError
from tco.pricing.models import ComputePrice, EgressPrice, Purchase, Source, StoragePrice
from tco.pricing.settings import PricingSettings


def _record(price: float) -> ComputePrice:
    return ComputePrice("aws", "us-east-1", "p5.48xlarge", "H100", 8, 80, 192, 2048,
                        Purchase.ON_DEMAND, price, 0.0, 0, Source.LIVE, "SKU123",
                        dt.date.today())


class FakeAdapter:
    name = "aws"

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.calls = 0

    def fetch(self, regions=None, progress=None):
        self.calls += 1
        return self.behaviour()


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("TCO_OFFLINE", raising=False)
    return PricingSettings(cache_dir=tmp_path / "cache")


@pytest.fixture
def adapter(monkeypatch):
    box = {"adapter": FakeAdapter(lambda: FetchResult(compute=[_record(40.0)]))}
    monkeypatch.setattr(live, "load_adapter", lambda provider, s: box["adapter"])
    return box


def _aws(catalog):
    return [r for r in catalog.compute if r.provider == "aws" and r.region == "us-east-1"
            and r.instance_type == "p5.48xlarge" and r.purchase == Purchase.ON_DEMAND]


def test_auto_refresh_lays_live_prices_over_the_snapshot(settings, adapter):
    cat = live.current_catalog(["aws"], refresh="auto", settings=settings)
    (rec,) = _aws(cat)
    assert (rec.usd_per_hour, rec.source) == (40.0, Source.LIVE)
    # other regions keep their snapshot prices
    assert any(r.provider == "aws" and r.region == "us-west-2" and r.source == Source.SNAPSHOT
               for r in cat.compute)
    assert json.loads(settings.records_path("aws").read_text())["compute"][0]["source_ref"] == "SKU123"


def test_second_run_within_ttl_makes_no_call(settings, adapter):
    live.current_catalog(["aws"], refresh="auto", settings=settings)
    live.current_catalog(["aws"], refresh="auto", settings=settings)
    assert adapter["adapter"].calls == 1


def test_stale_cache_is_refreshed_and_always_refreshes(settings, adapter):
    live.current_catalog(["aws"], refresh="auto", settings=settings)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    RecordCache(settings).save("aws", FetchResult(compute=[_record(41.0)]), None, fetched_at=old)
    live.current_catalog(["aws"], refresh="auto", settings=settings)
    assert adapter["adapter"].calls == 2
    live.current_catalog(["aws"], refresh="always", settings=settings)
    assert adapter["adapter"].calls == 3


def test_failure_keeps_last_good_prices_and_is_not_retried_every_run(settings, adapter):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    RecordCache(settings).save("aws", FetchResult(compute=[_record(41.0)]), None, fetched_at=old)

    def boom():
        raise PricingError("throttled")
    adapter["adapter"] = FakeAdapter(boom)
    cat = live.current_catalog(["aws"], refresh="auto", settings=settings)
    (rec,) = _aws(cat)
    assert rec.usd_per_hour == 41.0                       # stale-if-error
    assert any("refresh failed" in w and "last good" in w for w in cat.warnings)
    assert settings.records_path("aws").exists()          # never deleted by a failure
    live.current_catalog(["aws"], refresh="auto", settings=settings)
    assert adapter["adapter"].calls == 1                  # the failure is remembered


def test_missing_credentials_falls_back_to_the_snapshot(settings, adapter):
    def no_creds():
        raise MissingCredentialsError("aws", "set AWS_PROFILE")
    adapter["adapter"] = FakeAdapter(no_creds)
    cat = live.current_catalog(["aws"], refresh="auto", settings=settings)
    (rec,) = _aws(cat)
    assert rec.source == Source.SNAPSHOT
    assert any("set AWS_PROFILE" in w and "snapshot" in w for w in cat.warnings)


def test_offline_never_calls(settings, adapter, monkeypatch):
    monkeypatch.setenv("TCO_OFFLINE", "1")
    live.current_catalog(["aws"], refresh="always", settings=settings)
    assert adapter["adapter"].calls == 0


def test_zero_prices_from_a_provider_are_not_cached(settings, adapter):
    adapter["adapter"] = FakeAdapter(lambda: FetchResult(compute=[_record(0.0)]))
    outcome = live.refresh_provider("aws", settings, RecordCache(settings))
    assert not outcome.ok and "no usable compute prices" in (outcome.message or "")
    assert not settings.records_path("aws").exists()


def test_corrupt_cache_is_set_aside_with_a_warning(settings, adapter):
    path = settings.records_path("aws")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    cache = RecordCache(settings)
    assert cache.load("aws") is None
    assert not path.exists()
    assert any(p.name.startswith("aws.json.corrupt-") for p in path.parent.iterdir())
    assert cache.warnings and "set aside" in cache.warnings[0]


def test_cache_never_holds_credentials(settings, monkeypatch):
    # the real GCP adapter, which reads its API key from the environment and sends it with
    # every request (to a stand-in for the Cloud Billing Catalog): the key reaches the API,
    # and no file the refresh leaves in the cache holds it
    from tco.pricing import gcp
    from tests.pricing.test_gcp import ENDPOINT, TODAY, CatalogStandIn

    secret = "very-secret-api-key-3141"
    monkeypatch.setenv("TCO_GCP_API_KEY", secret)
    monkeypatch.setenv("TCO_GCP_CATALOG_ENDPOINT", ENDPOINT)
    stand_in = CatalogStandIn()

    def real_adapter(provider, s):
        adapter = gcp.from_env(s)
        adapter.client.transport._session.mount(ENDPOINT, stand_in)
        adapter.today = lambda: TODAY
        return adapter

    monkeypatch.setattr(live, "load_adapter", real_adapter)
    cat = live.current_catalog(["gcp"], refresh="always", settings=settings)
    assert any(r.source == Source.LIVE for r in cat.compute if r.provider == "gcp")
    assert set(stand_in.api_keys) == {secret}
    files = [p for p in settings.cache_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes(), path


def test_a_fetch_names_the_regions_with_gpu_prices_but_no_storage_or_egress():
    today = dt.date.today()
    storage = [StoragePrice("aws", region, "standard", ((0.0, 0.023),), Source.LIVE, "s", today)
               for region in ("us-east-1", "eu-west-2")]
    egress = [EgressPrice("aws", "us-east-1", "internet", ((0.0, 0.09),), Source.LIVE, "e", today)]
    compute = [replace(_record(40.0), region=region)
               for region in ("us-east-1", "us-west-2", "eu-west-2")]
    result = FetchResult(compute=compute, storage=storage, egress=egress)
    assert result.unpriced_regions("aws") == [
        "aws:eu-west-2: GPU prices but no internet egress price in the answer",
        "aws:us-west-2: GPU prices but no storage or internet egress price in the answer"]
