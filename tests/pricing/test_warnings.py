"""Findings about catalog records kept with their records, and a failed automatic refresh:
cheap, one short line, remembered in the cache for its cool-down."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time

import pytest

from tco.pricing import live
from tco.pricing.cache import RecordCache
from tco.pricing.catalog import load_catalog
from tco.pricing.errors import PricingError
from tco.pricing.integrity import check_catalog
from tco.pricing.models import NoticeKind, Source
from tco.pricing.settings import PricingSettings
from tests.conftest import catalog, offer, storage


def test_findings_are_notices_with_their_records_not_catalog_warnings():
    od = offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "on_demand", 1.0)
    spot = offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "spot", 1.0)
    cheap_spot = offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "spot", 0.3)
    od2 = offer("aws", "us-east-2", "g6.xlarge", "L4", 1, "on_demand", 1.0)
    reserved = offer("aws", "us-east-1", "g6.xlarge", "L4", 1, "reserved_1y", 1.2)
    free = offer("aws", "us-east-1", "g6.2xlarge", "L4", 1, "on_demand", 0.0)
    bad_storage = storage("aws", "us-east-1", (0.0, 0.0))
    report = check_catalog(catalog(od, spot, cheap_spot, od2, reserved, free, bad_storage))
    kinds = {(n.kind, n.record) for n in report.catalog.notices}
    assert kinds == {(NoticeKind.SPOT_NOT_CHEAPER, spot),
                     (NoticeKind.RESERVED_NOT_CHEAPER, reserved),
                     (NoticeKind.EXCLUDED, free), (NoticeKind.EXCLUDED, bad_storage)}
    (spot_notice,) = [n for n in report.catalog.notices if n.kind == NoticeKind.SPOT_NOT_CHEAPER]
    assert spot_notice.other == od
    assert spot_notice.text == ("aws:us-east-1 g6.xlarge spot: $1.0000/h is not cheaper than "
                                "on-demand $1.0000/h")
    assert report.catalog.warnings == ()          # the report decides what to show
    # checking again neither loses nor repeats a notice
    again = check_catalog(report.catalog).catalog
    assert again.notices == report.catalog.notices


def test_gpu_facts_that_differ_are_a_notice_naming_both_records():
    a = offer("aws", "us-east-1", "p5.48xlarge", "H100", 8, "on_demand", 50.0)
    b = offer("aws", "us-west-2", "p5.48xlarge", "H100", 4, "on_demand", 50.0)
    (notice,) = check_catalog(catalog(a, b)).catalog.notices
    assert (notice.kind, notice.record, notice.other) == (NoticeKind.GPU_FACTS_DIFFER, b, a)


def test_a_catalog_file_keeps_its_name(tmp_path):
    path = tmp_path / "negotiated.json"
    path.write_text(json.dumps({"schema": 1, "compute": [
        {"provider": "aws", "region": "us-east-1", "instance_type": "g6.xlarge", "gpu": "L4",
         "gpu_count": 1, "purchase": "on_demand", "usd_per_hour": 1.0, "as_of": "2026-01-01"}]}))
    assert load_catalog(path=path).origin == str(path)
    assert load_catalog(offline=True).origin is None


# -- a failed automatic refresh -------------------------------------------------------------


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unreachable(monkeypatch):
    """Every provider's real adapter, built with credentials, pointed at a closed loopback
    ``port``; ``probes`` lists the reachability checks, ``fetches`` the fetches begun."""
    port = _closed_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.delenv("TCO_OFFLINE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", url)
    monkeypatch.setenv("TCO_GCP_API_KEY", "example")
    monkeypatch.setenv("TCO_GCP_CATALOG_ENDPOINT", url)
    monkeypatch.setenv("TCO_AZURE_RETAIL_URL", f"{url}/api/retail/prices")
    monkeypatch.delenv("TCO_AZURE_BILLING_SCOPE", raising=False)
    counts = {"port": port, "probes": [], "fetches": []}
    real_probe, real_load = live.probe, live.load_adapter

    def counting_probe(endpoint, timeout_s):
        counts["probes"].append(endpoint)
        return real_probe(endpoint, timeout_s)

    def counting_load(provider, settings):
        adapter = real_load(provider, settings)
        real_fetch = adapter.fetch

        def fetch(*args, **kwargs):
            counts["fetches"].append(provider)
            return real_fetch(*args, **kwargs)
        adapter.fetch = fetch
        return adapter
    monkeypatch.setattr(live, "probe", counting_probe)
    monkeypatch.setattr(live, "load_adapter", counting_load)
    return counts


@pytest.mark.enable_socket
def test_unreachable_apis_cost_one_probe_each_then_wait_out_the_cool_down(tmp_path, unreachable):
    settings = PricingSettings(cache_dir=tmp_path / "cache")
    start = time.perf_counter()
    cat = live.current_catalog(["aws", "azure", "gcp"], refresh="auto", settings=settings)
    assert time.perf_counter() - start < 5        # imports included; no timeouts, no retries
    port = unreachable["port"]
    assert sorted(unreachable["probes"]) == [f"http://127.0.0.1:{port}",        # aws, gcp
                                             f"http://127.0.0.1:{port}",
                                             f"http://127.0.0.1:{port}/api/retail/prices"]
    assert unreachable["fetches"] == []           # nothing fetched from an API out of reach
    cache = RecordCache(settings)
    failure = cache.failure("aws")
    assert failure is not None
    line = (f"aws, azure, gcp: refresh failed (API unreachable: connection refused); using the "
            f"bundled snapshot; next try after {failure.retry_after:%H:%M} UTC")
    assert list(cat.warnings) == [line]
    assert all(r.source == Source.SNAPSHOT for r in cat.compute)
    for provider in ("aws", "azure", "gcp"):
        f = cache.failure(provider)
        assert f is not None
        assert f.error == f"API unreachable: connection refused (127.0.0.1:{port})"
        assert f.retry_after - f.at == dt.timedelta(hours=1)

    # within the cool-down: no attempt, and nothing to say about it
    again = live.current_catalog(["aws", "azure", "gcp"], refresh="auto", settings=settings)
    assert len(unreachable["probes"]) == 3
    assert list(again.warnings) == []

    # once the cool-down is over, one attempt each again
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    for provider in ("aws", "azure", "gcp"):
        cache.record_failure(provider, "API unreachable: connection refused", at=past)
    live.current_catalog(["aws", "azure", "gcp"], refresh="auto", settings=settings)
    assert len(unreachable["probes"]) == 6


def test_an_api_that_does_not_answer_costs_the_connect_timeout(tmp_path, monkeypatch):
    # a name lookup or a connection that hangs: the probe gives up after connect_timeout_s
    def hang(*args, **kwargs):
        time.sleep(3)
        raise OSError("too late")
    monkeypatch.setattr(live.socket, "create_connection", hang)
    start = time.perf_counter()
    assert live.probe("https://api.example:443", 0.2) == ("no answer within 0.2 s",
                                                         "api.example:443")
    assert time.perf_counter() - start < 1.0


def test_the_probe_goes_through_the_proxy_the_environment_names(monkeypatch):
    tried = []

    def refuse(address, timeout=None):
        tried.append(address)
        raise ConnectionRefusedError
    monkeypatch.setattr(live.socket, "create_connection", refuse)
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert live.probe("https://prices.azure.com/api", 1.0) == ("connection refused",
                                                              "proxy.internal:3128")
    assert tried == [("proxy.internal", 3128)]


def test_a_long_error_becomes_a_short_reason():
    url = "https://prices.azure.com/api/retail/prices?api-version=2023&$filter=" + "x" * 1500
    exc = PricingError(f"azure: request to {url} failed (Max retries exceeded)\nTraceback...")
    reason = live.short_reason("azure", exc)
    assert reason == ("request to https://prices.azure.com/api/retail/prices failed (Max retries "
                      "exceeded)")
    assert len(live.short_reason("aws", RuntimeError("y" * 1500))) == 160


def test_a_wrapped_failure_to_connect_is_named_as_one():
    # as an SDK reports it: the lookup error a few wrappings down, under a long message
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except OSError as lookup:
            raise ConnectionError(RuntimeError("Max retries exceeded " + "x" * 900)) from lookup
    except ConnectionError as wrapped:
        exc = PricingError("azure: request to https://prices.azure.com/api?$filter=y failed")
        exc.__cause__ = wrapped
    assert live.short_reason("azure", exc) == "API unreachable: host not found"


def test_a_failure_other_than_reach_is_one_short_line_too(tmp_path, monkeypatch):
    class Failing:
        name = "aws"

        def fetch(self, regions=None, progress=None):
            raise PricingError("aws: pricing get_products AmazonEC2 failed (" + "z" * 900 + ")")
    monkeypatch.delenv("TCO_OFFLINE", raising=False)
    monkeypatch.setattr(live, "load_adapter", lambda provider, s: Failing())
    settings = PricingSettings(cache_dir=tmp_path / "cache")
    (line,) = live.current_catalog(["aws"], refresh="auto", settings=settings).warnings
    assert line.startswith("aws: refresh failed (pricing get_products AmazonEC2 failed (zzz")
    assert line.endswith("…); using the bundled snapshot; next try after "
                         f"{RecordCache(settings).failure('aws').retry_after:%H:%M} UTC")
    assert len(line) < 260


def test_cache_info_lists_a_failure_and_the_next_attempt(tmp_path):
    settings = PricingSettings(cache_dir=tmp_path / "cache")
    cache = RecordCache(settings)
    now = dt.datetime.now(dt.UTC)
    cache.record_failure("gcp", "API unreachable: host not found (cloudbilling.googleapis.com:443)",
                         at=now)
    cache.record_failure("aws", "no usable compute prices in the answer",
                         at=now - dt.timedelta(hours=3))
    rows = {r["provider"]: r for r in cache.info()}
    assert rows["gcp"]["last_failure"] == ("API unreachable: host not found "
                                           "(cloudbilling.googleapis.com:443)")
    assert rows["gcp"]["next_attempt"] == (now + dt.timedelta(hours=1)).isoformat()
    assert rows["gcp"]["fetched_at"] is None and rows["gcp"]["records"] == 0
    assert rows["aws"]["next_attempt"] is None    # the cool-down is over: the next run tries
    assert cache.recent_failure("aws") is None
    assert cache.recent_failure("gcp") is not None
