"""The GCP live adapter against recorded-format Cloud Billing Catalog pages.

The real ``CloudCatalogClient`` is built by ``from_env`` with the REST transport
(``TCO_GCP_CATALOG_ENDPOINT``); a ``requests`` transport adapter mounted on its session serves
``fixtures/gcp/*.json`` by service and ``pageToken``. So the client's own request encoding,
JSON-to-protobuf parsing and pager run under test, and no socket is opened.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from tco.pricing import gcp
from tco.pricing.errors import MissingCredentialsError, PricingError
from tco.pricing.integrity import check_catalog, compute_problem
from tco.pricing.models import Catalog, Purchase, Source
from tco.pricing.settings import PricingSettings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "gcp"
ENDPOINT = "http://catalog.test:8080"
TODAY = dt.date(2026, 5, 4)
GIB = 1.073741824

PAGES = {
    ("6F81-5844-456A", ""): "compute_page1.json",
    ("6F81-5844-456A", "Y29tcHV0ZS1wYWdlLTI="): "compute_page2.json",
    ("6F81-5844-456A", "Y29tcHV0ZS1wYWdlLTM="): "compute_page3.json",
    ("95FF-2EF5-5EA1", ""): "storage_page1.json",
    ("95FF-2EF5-5EA1", "c3RvcmFnZS1wYWdlLTI="): "storage_page2.json",
}


class CatalogStandIn(BaseAdapter):
    """Answers ``GET /v1/services/{id}/skus?pageToken=...`` from the fixture pages."""

    def __init__(self, pages: dict[tuple[str, str], str] = PAGES,
                 failures: list[int] | None = None) -> None:
        super().__init__()
        self.pages = pages
        self.failures = list(failures or [])
        self.calls: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.api_keys: list[str | None] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        url = urlsplit(request.url)
        parts = url.path.strip("/").split("/")
        assert parts[:2] == ["v1", "services"] and parts[3] == "skus", url.path
        token = parse_qs(url.query).get("pageToken", [""])[0]
        self.calls.append((parts[2], token))
        self.urls.append(request.url)
        self.api_keys.append(request.headers.get("x-goog-api-key"))
        if self.failures:
            return self._response(request, self.failures.pop(0),
                                  {"error": {"code": 0, "message": "try later"}})
        body = json.loads((FIXTURES / self.pages[(parts[2], token)]).read_text())
        return self._response(request, 200, body)

    @staticmethod
    def _response(request: requests.PreparedRequest, status: int,
                  body: dict[str, object]) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> PricingSettings:
    return PricingSettings(cache_dir=tmp_path, retries=0, backoff_s=0.0)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCO_GCP_API_KEY", "test-key-123")
    monkeypatch.setenv("TCO_GCP_CATALOG_ENDPOINT", ENDPOINT)


def make_adapter(settings: PricingSettings, stand_in: CatalogStandIn) -> gcp.GcpAdapter:
    adapter = gcp.from_env(settings)
    adapter.client.transport._session.mount(ENDPOINT, stand_in)
    adapter.today = lambda: TODAY
    return adapter


@pytest.fixture
def stand_in() -> CatalogStandIn:
    return CatalogStandIn()


@pytest.fixture
def fetched(env, settings, stand_in):  # type: ignore[no-untyped-def]
    return make_adapter(settings, stand_in).fetch()


def record(result, region: str, itype: str, purchase: str):  # type: ignore[no-untyped-def]
    found = [r for r in result.compute
             if (r.region, r.instance_type, r.purchase.value) == (region, itype, purchase)]
    assert len(found) <= 1
    return found[0] if found else None


# --- composing machines ----------------------------------------------------------------------

def test_a2_highgpu_1g_is_composed_exactly(fetched):
    r = record(fetched, "us-central1", "a2-highgpu-1g", "on_demand")
    # 12 vCPU x 0.03 + 85 GiB x 0.004 + 1 GPU x 2.9
    assert r.usd_per_hour == 3.6
    assert r.source_ref == "A2C0-0001-0D01+A2R0-0001-0D01+A100-0001-0D01"
    assert (r.gpu, r.gpu_count, r.gpu_memory_gib, r.vcpus, r.memory_gib) == (
        "A100-40GB", 1, 40.0, 12, 85.0)
    assert (r.source, r.as_of, r.upfront_usd, r.term_months) == (Source.LIVE, TODAY, 0.0, 0)
    # a bigger shape of the same family scales every component
    r8 = record(fetched, "us-central1", "a2-highgpu-8g", "on_demand")
    assert r8.usd_per_hour == float(96 * Decimal("0.03") + 680 * Decimal("0.004")
                                    + 8 * Decimal("2.9"))


def test_bundled_local_ssd_is_priced_per_gib_hour_from_the_monthly_sku(fetched):
    r = record(fetched, "us-central1", "a2-ultragpu-1g", "on_demand")
    ssd_hourly = Decimal("0.08") / 730
    expected = 12 * Decimal("0.03") + 170 * Decimal("0.004") + Decimal("3.9") + 375 * ssd_hourly
    assert r.usd_per_hour == pytest.approx(float(expected), rel=1e-15)
    assert r.source_ref.endswith("+A180-0001-0D01+L55D-0001-0D01")
    spot = record(fetched, "us-central1", "a2-ultragpu-1g", "spot")
    assert spot.usd_per_hour == pytest.approx(
        12 * 0.01 + 170 * 0.0015 + 1.5 + 375 * 0.048 / 730, rel=1e-12)


def test_preemptible_skus_price_spot_never_on_demand(fetched):
    # The spot descriptions contain the on-demand ones ("Spot Preemptible A2 Instance Core
    # running in Americas") and come after them in the page.
    on_demand = record(fetched, "us-central1", "a2-highgpu-1g", "on_demand")
    spot = record(fetched, "us-central1", "a2-highgpu-1g", "spot")
    assert on_demand.usd_per_hour == 3.6
    assert spot.usd_per_hour == 1.3475  # 12 x 0.01 + 85 x 0.0015 + 1.1
    assert spot.source_ref == "A2C0-0002-5P01+A2R0-0002-5P01+A100-0002-5P01"
    assert spot.term_months == 0


def test_commitments_price_reserved_terms_without_upfront(fetched):
    r1 = record(fetched, "us-central1", "a2-highgpu-1g", "reserved_1y")
    r3 = record(fetched, "us-central1", "a2-highgpu-1g", "reserved_3y")
    assert (r1.usd_per_hour, r1.term_months, r1.upfront_usd) == (2.2525, 12, 0.0)
    assert (r3.usd_per_hour, r3.term_months, r3.upfront_usd) == (1.2715, 36, 0.0)
    assert r1.source_ref == "A2C0-0003-1Y01+A2R0-0003-1Y01+A100-0003-1Y01"
    assert r3.source_ref == "A2C0-0004-3Y01+A2R0-0004-3Y01+A100-0004-3Y01"


def test_a_region_without_the_gpu_sku_gets_no_record_and_a_warning(fetched):
    # us-east4 has A2 core and RAM SKUs but no A100 SKU: never priced partially.
    assert not [r for r in fetched.compute if r.region == "us-east4"]
    assert record(fetched, "us-east1", "a2-highgpu-1g", "on_demand").usd_per_hour == 3.6
    assert any("a2-highgpu-1g on_demand" in w and "us-east4" in w and "A100-40GB GPU" in w
               for w in fetched.warnings)
    # us-east1 has the A100 40GB but neither the A100 80GB nor Local SSD: no A2 Ultra there
    assert record(fetched, "us-east1", "a2-ultragpu-1g", "on_demand") is None
    assert any("a2-ultragpu-1g on_demand" in w and "us-east1" in w and "Local SSD" in w
               for w in fetched.warnings)


def test_a_component_priced_zero_leaves_the_machine_out_and_is_reported(fetched):
    assert record(fetched, "us-central1", "g2-standard-4", "on_demand").usd_per_hour == (
        pytest.approx(4 * 0.024 + 16 * 0.0028 + 0.56, rel=1e-12))
    assert not [r for r in fetched.compute if r.region == "europe-west4"]
    assert any("g2-standard-4 on_demand" in w and "europe-west4" in w and "L400-0002-EU01" in w
               for w in fetched.warnings)


def test_look_alike_skus_are_not_components(fetched):
    # "Reserved A2 Instance Core" and "A2 Custom Instance Core" cover the same regions; had
    # either been taken for the A2 core, the on-demand A2 price would differ or be ambiguous.
    assert record(fetched, "us-east1", "a2-highgpu-2g", "on_demand").usd_per_hour == float(
        24 * Decimal("0.03") + 170 * Decimal("0.004") + 2 * Decimal("2.9"))


def test_every_compute_record_passes_the_integrity_rules(fetched):
    assert fetched.compute
    assert all(compute_problem(r) is None for r in fetched.compute)
    report = check_catalog(Catalog(tuple(fetched.compute), tuple(fetched.storage),
                                   tuple(fetched.egress)))
    assert report.rejected == ()


def test_spot_only_shapes_get_no_on_demand_or_reserved_record():
    shape = next(s for s in gcp.load_shapes() if s.instance_type == "a3-highgpu-1g")
    assert shape.purchases() == (Purchase.SPOT,)
    mega = next(s for s in gcp.load_shapes() if s.instance_type == "a3-megagpu-8g")
    assert mega.gpu_sku == "H100-MEGA" and mega.gpu == "H100"


# --- pagination, transport, progress ---------------------------------------------------------

def test_every_page_is_read(fetched, stand_in):
    assert stand_in.calls == [
        ("6F81-5844-456A", ""), ("6F81-5844-456A", "Y29tcHV0ZS1wYWdlLTI="),
        ("6F81-5844-456A", "Y29tcHV0ZS1wYWdlLTM="),
        ("95FF-2EF5-5EA1", ""), ("95FF-2EF5-5EA1", "c3RvcmFnZS1wYWdlLTI="),
    ]
    # GPU SKUs are on page 2, G2 on page 3, Netherlands storage on storage page 2
    assert record(fetched, "us-central1", "a2-highgpu-1g", "on_demand") is not None
    assert record(fetched, "us-central1", "g2-standard-8", "on_demand") is not None
    assert {s.region for s in fetched.storage} == {"us-central1", "us-east1", "europe-west4"}


def test_catalog_endpoint_selects_rest_at_that_endpoint(env, settings, stand_in):
    from google.cloud.billing_v1.services.cloud_catalog.transports.rest import (
        CloudCatalogRestTransport,
    )

    adapter = make_adapter(settings, stand_in)
    transport = adapter.client.transport
    assert isinstance(transport, CloudCatalogRestTransport)
    assert transport.kind == "rest"
    assert transport._host == ENDPOINT  # http:// kept, not rewritten to https
    adapter.fetch(regions=["us-central1"])
    assert stand_in.urls and all(u.startswith(ENDPOINT + "/v1/services/") for u in stand_in.urls)
    assert set(stand_in.api_keys) == {"test-key-123"}


def test_an_endpoint_without_scheme_gets_https(monkeypatch, settings):
    monkeypatch.setenv("TCO_GCP_API_KEY", "k")
    monkeypatch.setenv("TCO_GCP_CATALOG_ENDPOINT", "catalog.example:8443")
    transport = gcp.from_env(settings).client.transport
    assert transport.kind == "rest" and transport._host == "https://catalog.example:8443"


def test_progress_names_each_service(env, settings, stand_in):
    seen: list[str] = []
    make_adapter(settings, stand_in).fetch(progress=seen.append)
    assert seen == ["gcp: Compute Engine", "gcp: Cloud Storage"]


def test_regions_restrict_every_record_kind(env, settings, stand_in):
    result = make_adapter(settings, stand_in).fetch(regions=["us-east1", "asia-south1"])
    assert {r.region for r in result.compute} == {"us-east1"}
    assert {r.region for r in result.storage} == {"us-east1"}
    assert {r.region for r in result.egress} == {"us-east1"}
    assert "gcp: no GPU machine priced in asia-south1" in result.warnings


# --- storage and egress ----------------------------------------------------------------------

def test_storage_tiers_are_converted_from_gib_to_gb(fetched):
    nl = next(s for s in fetched.storage if s.region == "europe-west4")
    assert nl.tiers == ((0.0, 0.023 / GIB),)
    # $ per GiB-month over 2**30 / 10**9 GB per GiB: 0.023 * 10**9 / 2**30
    assert nl.tiers[0][1] == pytest.approx(0.021420419216156006, rel=1e-15)
    assert (nl.storage_class, nl.source, nl.source_ref, nl.as_of) == (
        "standard", Source.LIVE, "5705-0004-EU01", TODAY)
    # the 5 GiB free allowance is not modelled: the paid rate applies from 0 (never a $0 tier)
    us = next(s for s in fetched.storage if s.region == "us-central1")
    assert us.tiers == ((0.0, 0.02 / GIB),)
    assert any("free allowance" in w and "us-central1" in w for w in fetched.warnings)


def test_egress_tiers_are_converted_from_gib_to_gb(fetched):
    us = next(e for e in fetched.egress if e.region == "us-central1")
    assert us.destination == "internet"
    assert us.tiers == ((0.0, 0.12 / GIB), (1024 * GIB, 0.11 / GIB), (10240 * GIB, 0.08 / GIB))
    assert us.tiers[1][0] == pytest.approx(1099.511627776, abs=1e-9)
    assert us.tiers[2][0] == pytest.approx(10995.11627776, abs=1e-8)
    # most destinations share this schedule; Middle East, China and Australia do not count
    assert us.source_ref == "E6A5-0001-AM01+E6A5-0002-AM02"
    eu = next(e for e in fetched.egress if e.region == "europe-west4")
    assert eu.tiers[0] == (0.0, 0.125 / GIB) and eu.source_ref == "E6A5-0006-EU01"


def test_every_region_with_gpu_prices_has_storage_and_egress(fetched):
    gpu_regions = {r.region for r in fetched.compute}
    assert gpu_regions == {"us-central1", "us-east1"}
    assert gpu_regions <= {s.region for s in fetched.storage}
    assert gpu_regions <= {e.region for e in fetched.egress}
    assert not [w for w in fetched.warnings if "GPU prices but no" in w]


# --- credentials and errors ------------------------------------------------------------------

def test_missing_credentials_names_the_api_key_variable(monkeypatch, settings):
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_adc(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise DefaultCredentialsError("no ADC")

    monkeypatch.delenv("TCO_GCP_API_KEY", raising=False)
    monkeypatch.setattr(google.auth, "default", no_adc)
    with pytest.raises(MissingCredentialsError) as info:
        gcp.from_env(settings)
    assert info.value.provider == "gcp"
    assert "TCO_GCP_API_KEY" in str(info.value)
    assert "Application Default Credentials" in str(info.value)


def test_application_default_credentials_are_used_without_an_api_key(monkeypatch, settings):
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    creds = AnonymousCredentials()
    monkeypatch.delenv("TCO_GCP_API_KEY", raising=False)
    monkeypatch.setenv("TCO_GCP_CATALOG_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (creds, "a-project"))
    adapter = gcp.from_env(settings)
    assert adapter.client.transport._credentials is creds
    assert adapter.name == "gcp"


def test_api_errors_become_pricing_errors(env, settings):
    from google.api_core.exceptions import GoogleAPICallError

    stand_in = CatalogStandIn(failures=[403])
    with pytest.raises(PricingError) as info:
        make_adapter(settings, stand_in).fetch()
    assert isinstance(info.value.__cause__, GoogleAPICallError)
    assert "test-key-123" not in str(info.value)


def test_a_transient_error_is_retried_within_the_budget(env, tmp_path):
    settings = PricingSettings(cache_dir=tmp_path, retries=1, backoff_s=0.0)
    stand_in = CatalogStandIn(failures=[503])
    result = make_adapter(settings, stand_in).fetch(regions=["us-central1"])
    assert record(result, "us-central1", "a2-highgpu-1g", "on_demand").usd_per_hour == 3.6
    assert stand_in.calls[:2] == [("6F81-5844-456A", ""), ("6F81-5844-456A", "")]


def test_offline_settings_fetch_nothing(env, tmp_path, stand_in):
    settings = PricingSettings(cache_dir=tmp_path, offline=True)
    with pytest.raises(PricingError):
        make_adapter(settings, stand_in).fetch()
    assert stand_in.calls == []


# --- pure helpers ----------------------------------------------------------------------------

def _sku(description: str, usage: str, unit: str = "h", price: str = "1") -> gcp.Sku:
    return gcp.Sku("X", description, "Compute", "CPU", usage, ("us-central1",), unit, "USD",
                   ((0.0, Decimal(price)),))


@pytest.mark.parametrize("description, usage, expected", [
    ("A3 Instance Core running in Americas", "OnDemand", ("core", "a3", "on_demand")),
    ("Spot Preemptible G2 Instance Ram running in EMEA", "Preemptible", ("ram", "g2", "spot")),
    ("Commitment v1: A3 Cpu in Americas for 3 Years", "Commit3Yr", ("core", "a3", "reserved_3y")),
    ("Commitment v1: Nvidia L4 GPU in Frankfurt for 1 Year", "Commit1Yr",
     ("gpu", "L4", "reserved_1y")),
    ("Commitment v1: Nvidia Tesla A100 80GB GPU in Americas for 1 Year", "Commit1Yr",
     ("gpu", "A100-80GB", "reserved_1y")),
    ("Nvidia H100 80GB GPU attached to Spot Preemptible VMs running in Americas", "Preemptible",
     ("gpu", "H100", "spot")),
    ("Nvidia H100 80GB Mega GPU running in Americas", "OnDemand",
     ("gpu", "H100-MEGA", "on_demand")),
    ("Commitment v1: Local SSD In Americas for 1 Year", "Commit1Yr",
     ("local_ssd", "", "reserved_1y")),
    # the description must agree with the usage type
    ("Spot Preemptible A2 Instance Core running in Americas", "OnDemand", None),
    ("A2 Instance Core running in Americas", "Preemptible", None),
    ("Commitment v1: A2 Cpu in Americas for 3 Year", "Commit1Yr", None),
    ("Reserved A2 Instance Core running in Americas", "OnDemand", None),
    ("A2 Custom Instance Core running in Americas", "OnDemand", None),
    ("Network Internet Data Transfer Out from Americas to EMEA", "OnDemand", None),
])
def test_classify_compute_sku(description, usage, expected):
    component = gcp.classify_compute_sku(_sku(description, usage))
    got = None if component is None else (component.kind, component.key,
                                           component.purchase.value)
    assert got == expected


def test_money_and_hourly_rates_are_exact():
    assert gcp.money("2", 934_000_000) == Decimal("2.934")
    assert gcp.money(0, 4_237_000) == Decimal("0.004237")
    ssd = _sku("SSD backed Local Storage", "OnDemand", "GiBy.mo", "0.073")
    assert gcp.hourly_rate("local_ssd", ssd) == Decimal("0.073") / 730
    assert gcp.hourly_rate("ram", _sku("A2 Instance Ram", "OnDemand", "GiBy.mo")) is None


def test_shapes_match_the_data_file():
    shapes = {s.instance_type: s for s in gcp.load_shapes()}
    a2 = shapes["a2-highgpu-1g"]
    assert a2.requirements() == (("core", "a2", Decimal(12)), ("ram", "a2", Decimal(85)),
                                 ("gpu", "A100-40GB", Decimal(1)))
    assert shapes["a3-highgpu-8g"].requirements()[-1] == ("local_ssd", "", Decimal(6000))


def _component(sku_id: str, description: str, usage: str, price: str, group: str = "GPU",
               unit: str = "h") -> gcp.Sku:
    return gcp.Sku(sku_id, description, "Compute", group, usage, ("us-central1",), unit, "USD",
                   ((0.0, Decimal(price)),))


def test_a3_ultra_and_a4_are_composed_from_their_own_skus():
    # H200: "H200 141GB GPU" (no Nvidia prefix) with A3Ultra cores and RAM; B200: A4's GPU
    # slices, which hold the vCPUs, memory and Local SSD. GPU rates as GCP's catalog listed
    # them in July 2026 (9.31174 and 16.11 $/h, spot slice 4.9542); the others are ours.
    skus = [
        _component("U-CORE", "A3Ultra Instance Core running in Americas", "OnDemand", "0.03",
                   "CPU"),
        _component("U-RAM", "A3Ultra Instance Ram running in Americas", "OnDemand", "0.002",
                   "RAM", "GiBy.h"),
        _component("H200", "H200 141GB GPU running in Americas", "OnDemand", "9.31174"),
        _component("SSD", "SSD backed Local Storage running in Americas", "OnDemand", "0.08",
                   "LocalSSD", "GiBy.mo"),
        _component("B200", "A4 Nvidia B200 (1 gpu slice) running in Americas", "OnDemand",
                   "16.11"),
        _component("B200-S", "Spot Preemptible A4 Nvidia B200 (1 gpu slice) running in Americas",
                   "Preemptible", "4.9542"),
        _component("B200-C", "Commitment v1: A4 Nvidia B200 (1 gpu slice) in Americas for 1 Year",
                   "Commit1Yr", "10"),
        # A3 Mega's cores are A3Plus's: the A3 core must not price it
        _component("A3-CORE", "A3 Instance Core running in Americas", "OnDemand", "0.5", "CPU"),
    ]
    warnings: list[str] = []
    index = gcp.index_components(skus, None, warnings)
    shapes = {s.instance_type: s for s in gcp.load_shapes()}
    records, notes = gcp.compose_compute([shapes["a3-ultragpu-8g"], shapes["a4-highgpu-8g"],
                                          shapes["a3-megagpu-8g"]], index, dt.date(2026, 7, 7))
    got = {(r.instance_type, r.purchase): r for r in records}
    ultra = got[("a3-ultragpu-8g", Purchase.ON_DEMAND)]
    assert ultra.usd_per_hour == pytest.approx(
        224 * 0.03 + 2952 * 0.002 + 8 * 9.31174 + 12000 * 0.08 / 730, rel=1e-12)
    assert ultra.source_ref == "U-CORE+U-RAM+H200+SSD"
    assert got[("a4-highgpu-8g", Purchase.ON_DEMAND)].usd_per_hour == pytest.approx(8 * 16.11)
    assert got[("a4-highgpu-8g", Purchase.SPOT)].usd_per_hour == pytest.approx(39.6336)
    assert got[("a4-highgpu-8g", Purchase.RESERVED_1Y)].usd_per_hour == pytest.approx(80.0)
    # no A3Plus core or RAM SKU: A3 Mega is left out and said so, never priced with A3's
    assert not any(r.instance_type == "a3-megagpu-8g" for r in records)
    assert any("a3-megagpu-8g on_demand left out in us-central1: no A3PLUS core SKU" in n
               for n in notes), notes
