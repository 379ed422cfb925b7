"""The Azure adapter against recorded Retail Prices API pages (fixtures/azure/), no network.

A small transport adapter mounted on the real ``http_session`` answers every request from the
recorded pages, so the adapter's own query building, pagination, parsing and trap filtering run
unchanged. The pages are in the API's real format with our own numbers; each trap row sits next
to the row it must not displace, dated or priced so that it would win if it were not filtered.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

from tco.pricing import azure as az
from tco.pricing import http
from tco.pricing.errors import MissingCredentialsError, PricingError
from tco.pricing.integrity import compute_problem
from tco.pricing.models import ComputePrice, Purchase, Source
from tco.pricing.reference import InstanceFacts
from tco.pricing.settings import PricingSettings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "azure"
PAGES = {
    "Virtual Machines": ["retail_vm_page1.json", "retail_vm_page2.json"],
    "Storage": ["retail_storage_page1.json"],
    "Bandwidth": ["retail_bandwidth_page1.json"],
}
SUBSCRIPTION = "0b8c2f4e-6a1d-4e3b-9c5f-7d2a1e0f3b6c"
M = "5b2f6a1e-3c4d-4e8f-9a0b-1c2d3e4f5a"          # meterId prefix of the recorded VM rows
H100 = "Standard_ND96isr_H100_v5"
NC24 = "Standard_NC24ads_A100_v4"
NC40 = "Standard_NC40ads_H100_v5"


def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


class RetailAPI(HTTPAdapter):
    """Answers Retail Prices API requests from the recorded pages.

    The page is chosen by the ``serviceName`` in ``$filter`` and by ``$skip``. Like the real
    API, ``NextPageLink`` carries the request's own base URL and ``$filter``. With
    ``honour_filter`` the rows are narrowed to the ``armSkuName`` / ``armRegionName`` values
    named in ``$filter``; without it every recorded row is answered (a server that ignores the
    filter), which the adapter must survive unchanged.
    """

    def __init__(self, honour_filter: bool = True, status: int = 200,
                 body: bytes | None = None) -> None:
        super().__init__()
        self.honour_filter = honour_filter
        self.status = status
        self.body = body
        self.seen: list[tuple[str, Any]] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        self.seen.append((request.url or "", timeout))
        if self.status != 200 or self.body is not None:
            return self._answer(request, self.status, self.body or b"{}")
        parts = urlsplit(request.url or "")
        query = parse_qs(parts.query)
        filter_ = query["$filter"][0]
        skip = int(query.get("$skip", ["0"])[0])
        named = re.search(r"serviceName eq '([^']+)'", filter_)
        assert named is not None, filter_
        service = named.group(1)
        offset = 0
        for name in PAGES[service]:
            page = _load(name)
            if offset == skip:
                break
            offset += page["Count"]
        else:
            return self._answer(request, 404, b'{"Error": "no such page"}')
        items = page["Items"]
        if self.honour_filter:
            skus = set(re.findall(r"armSkuName eq '([^']+)'", filter_))
            regions = set(re.findall(r"armRegionName eq '([^']+)'", filter_))
            items = [i for i in items if (not skus or i["armSkuName"] in skus)
                     and (not regions or i["armRegionName"] in regions)]
        link = page["NextPageLink"]
        if link:
            next_skip = parse_qs(urlsplit(link).query)["$skip"][0]
            link = (f"{parts.scheme}://{parts.netloc}{parts.path}?" + urlencode(
                {"api-version": query["api-version"][0], "$filter": filter_, "$skip": next_skip}))
        doc = {**page, "Items": items, "NextPageLink": link, "Count": len(items)}
        return self._answer(request, 200, json.dumps(doc).encode())

    def _answer(self, request: requests.PreparedRequest, status: int,
                body: bytes) -> requests.Response:
        raw = HTTPResponse(body=io.BytesIO(body), status=status, preload_content=False,
                           headers={"Content-Type": "application/json; charset=utf-8"})
        return self.build_response(request, raw)

    def filters(self) -> list[str]:
        queries = [parse_qs(urlsplit(url).query) for url, _ in self.seen]
        return [q["$filter"][0] for q in queries if "$skip" not in q]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (az.URL_ENV, az.SCOPE_ENV, az.PERIOD_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TCO_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def settings(tmp_path: Path) -> PricingSettings:
    return PricingSettings(cache_dir=tmp_path / "cache")


def serve(monkeypatch: pytest.MonkeyPatch, api: RetailAPI) -> RetailAPI:
    """Mount ``api`` on every session the adapter builds through the real session factory."""
    def session_with_fixtures(settings: PricingSettings) -> Any:
        session = http.http_session(settings)
        session.mount("https://", api)
        session.mount("http://", api)
        return session
    monkeypatch.setattr(az, "http_session", session_with_fixtures)
    return api


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> RetailAPI:
    return serve(monkeypatch, RetailAPI())


@pytest.fixture
def result(api: RetailAPI, settings: PricingSettings) -> Any:
    return az.from_env(settings).fetch()


def offers(records: list[ComputePrice], region: str, itype: str) -> dict[Purchase, ComputePrice]:
    found = [r for r in records if r.region == region and r.instance_type == itype]
    by_purchase = {r.purchase: r for r in found}
    assert len(by_purchase) == len(found), "one record per (region, instance, purchase)"
    return by_purchase


# --------------------------------------------------------------------------- requests


def test_requests_are_filtered_retail_queries_with_the_settings_timeout(api, settings):
    az.from_env(settings).fetch()
    assert api.seen
    for url, timeout in api.seen:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "prices.azure.com",
                                                            "/api/retail/prices")
        assert parse_qs(parts.query)["api-version"] == ["2023-01-01-preview"]
        assert timeout == settings.timeout_s
    vm = [f for f in api.filters() if f.startswith("serviceName eq 'Virtual Machines'")]
    named = [s for f in vm for s in re.findall(r"armSkuName eq '([^']+)'", f)]
    sizes = sorted(f.instance_type for f in az.instance_facts().values())
    assert sorted(named) == sizes                     # every VM size asked for, exactly once
    assert len(vm) == -(-len(sizes) // az.SKU_BATCH)  # batched, 10 sizes a request
    assert all("priceType eq 'Consumption' or priceType eq 'Reservation'" in f for f in vm)
    assert any(f.startswith("serviceName eq 'Storage'") and "'Hot LRS Data Stored'" in f
               for f in api.filters())
    assert any(f.startswith("serviceName eq 'Bandwidth'") and "'Standard Data Transfer Out'" in f
               for f in api.filters())


def test_retail_url_env_is_honoured(monkeypatch, api, settings):
    monkeypatch.setenv(az.URL_ENV, "https://prices.mirror.example/retail/v2/prices")
    res = az.from_env(settings).fetch()
    hosts = {urlsplit(url)[1:3] for url, _ in api.seen}
    assert hosts == {("prices.mirror.example", "/retail/v2/prices")}
    assert offers(res.compute, "eastus", H100)[Purchase.ON_DEMAND].usd_per_hour == 100.0


def test_progress_is_reported_for_every_page(api, settings):
    messages: list[str] = []
    az.from_env(settings).fetch(progress=messages.append)
    assert len(messages) == len(api.seen) and all(m.startswith("azure: ") for m in messages)
    assert any("compute" in m and "page 2" in m for m in messages)


# --------------------------------------------------------------------------- records


def test_every_compute_record_is_live_dated_sourced_and_passes_the_integrity_rules(result):
    assert result.compute
    for r in result.compute:
        assert compute_problem(r) is None, r
        assert (r.provider, r.source, r.as_of) == ("azure", Source.LIVE, dt.date.today())
        meter, sku = r.source_ref.split(";")
        assert meter.startswith("meterId=" + M) and sku.startswith("skuId=DZH318Z0TC")
    h100 = offers(result.compute, "eastus", H100)[Purchase.ON_DEMAND]
    assert (h100.gpu, h100.gpu_count, h100.gpu_memory_gib, h100.vcpus, h100.memory_gib) == (
        "H100", 8, 80.0, 96, 1900.0)                  # from instances_azure.csv
    assert h100.source_ref == f"meterId={M}02;skuId=DZH318Z0TC02/0046"


def test_the_expected_offers_and_nothing_else(result):
    got = {(r.region, r.instance_type, r.purchase.value): r.usd_per_hour for r in result.compute}
    assert got == {
        ("eastus", H100, "on_demand"): 100.0,
        ("eastus", H100, "spot"): 30.0,
        ("eastus", NC24, "on_demand"): 4.0,
        ("eastus", NC40, "on_demand"): 12.0,
        ("eastus", NC40, "spot"): 3.0,
        ("eastus", NC40, "reserved_1y"): 10.0,
        ("eastus", NC40, "reserved_3y"): 8.0,
        ("westeurope", H100, "on_demand"): 110.0,
    }


def test_a_windows_row_at_a_different_price_is_ignored(result):
    # The Windows rows are newer than the Linux ones, so they would win if not filtered.
    h100 = offers(result.compute, "eastus", H100)
    assert h100[Purchase.ON_DEMAND].usd_per_hour == 100.0       # Windows row: 130.0
    assert h100[Purchase.SPOT].usd_per_hour == 30.0             # Windows spot row: 45.0
    assert not {130.0, 45.0} & {r.usd_per_hour for r in result.compute}


def test_a_low_priority_meter_is_ignored(result):
    nc24 = offers(result.compute, "eastus", NC24)
    assert set(nc24) == {Purchase.ON_DEMAND}                    # Low Priority is not spot
    assert nc24[Purchase.ON_DEMAND].usd_per_hour == 4.0         # Low Priority row: 0.9
    assert 0.9 not in {r.usd_per_hour for r in result.compute}


def test_devtest_consumption_is_ignored(result):
    assert offers(result.compute, "eastus", NC24)[Purchase.ON_DEMAND].usd_per_hour == 4.0  # 3.5
    assert offers(result.compute, "eastus", H100)[Purchase.SPOT].usd_per_hour == 30.0     # 25.0


def test_spot_rows_become_spot_not_on_demand(result):
    nc40 = offers(result.compute, "eastus", NC40)
    assert nc40[Purchase.SPOT].usd_per_hour == 3.0
    assert nc40[Purchase.SPOT].term_months == 0
    assert nc40[Purchase.ON_DEMAND].usd_per_hour == 12.0
    assert nc40[Purchase.SPOT].source_ref == f"meterId={M}22;skuId=DZH318Z0TC04/0012"


def test_a_reservation_total_is_divided_by_the_hours_of_its_term(result):
    nc40 = offers(result.compute, "eastus", NC40)
    one, three = nc40[Purchase.RESERVED_1Y], nc40[Purchase.RESERVED_3Y]
    # 87,600 USD for 1 year: 87600 / (12 * 730) = 10.0; 210,240 for 3 years: / 26280 = 8.0
    assert (one.usd_per_hour, one.upfront_usd, one.term_months) == (10.0, 0.0, 12)
    assert (three.usd_per_hour, three.upfront_usd, three.term_months) == (8.0, 0.0, 36)
    assert one.source_ref.endswith("skuId=DZH318Z0TC04/0021")
    assert three.source_ref.endswith("skuId=DZH318Z0TC04/0022")


def test_pagination_follows_next_page_link_to_the_second_page(api, result):
    vm_urls = [u for u, _ in api.seen if "Virtual+Machines" in u or "Virtual%20Machines" in u]
    assert sum("%24skip=9" in u for u in vm_urls) == 2          # page 2 of each VM query
    # every NC40 and westeurope H100 row is on the second page only
    assert len(offers(result.compute, "eastus", NC40)) == 4
    assert Purchase.ON_DEMAND in offers(result.compute, "westeurope", H100)


def test_a_zero_price_row_is_excluded_and_reported(result):
    assert not offers(result.compute, "westeurope", NC24)
    assert any("westeurope Standard_NC24ads_A100_v4" in w and "retailPrice 0.0" in w
               and f"{M}13" in w for w in result.warnings)


def test_a_row_not_in_usd_is_skipped_and_reported(result):
    assert not offers(result.compute, "westeurope", "Standard_ND96amsr_A100_v4")
    assert any("not priced in USD" in w and "EUR: 1" in w for w in result.warnings)


def test_only_vm_sizes_of_the_instance_file_are_kept(monkeypatch, settings):
    api = serve(monkeypatch, RetailAPI(honour_filter=False))    # the D4s_v5 row is answered
    res = az.from_env(settings).fetch()
    assert any("Standard_D4s_v5" in json.dumps(i) for i in _load("retail_vm_page2.json")["Items"])
    assert {r.instance_type for r in res.compute} <= {
        f.instance_type for f in az.instance_facts().values()}
    assert 0.192 not in {r.usd_per_hour for r in res.compute}
    assert api.seen


def test_results_do_not_depend_on_the_server_applying_the_filter(monkeypatch, tmp_path):
    serve(monkeypatch, RetailAPI(honour_filter=True))
    honoured = az.from_env(PricingSettings(cache_dir=tmp_path / "a")).fetch()
    serve(monkeypatch, RetailAPI(honour_filter=False))
    ignored = az.from_env(PricingSettings(cache_dir=tmp_path / "b")).fetch()
    assert ignored.compute == honoured.compute
    assert ignored.storage == honoured.storage
    assert ignored.egress == honoured.egress
    assert ignored.warnings == honoured.warnings


@pytest.mark.parametrize("honour", [True, False])
def test_regions_are_pushed_down_and_enforced(monkeypatch, settings, honour):
    api = serve(monkeypatch, RetailAPI(honour_filter=honour))
    res = az.from_env(settings).fetch(regions=["eastus"])
    assert all("armRegionName eq 'eastus'" in f for f in api.filters())
    assert {r.region for r in [*res.compute, *res.storage, *res.egress]} == {"eastus"}
    assert len(res.compute) == 7


# --------------------------------------------------------------------------- storage, egress


def test_storage_tiers_are_parsed_exactly(result):
    by_region = {s.region: s for s in result.storage}
    assert set(by_region) == {"eastus", "westeurope"}
    east = by_region["eastus"]                  # General Block Blob v2 preferred to Blob Storage
    assert east.storage_class == "hot_lrs"
    assert east.tiers == ((0.0, 0.02), (51200.0, 0.0192), (512000.0, 0.0184))
    assert east.source_ref == "meterId=8c1e2f30-4a5b-4c6d-8e7f-90a1b2c3d401;skuId=DZH318Z0ST01/000C"
    assert (east.source, east.as_of) == (Source.LIVE, dt.date.today())
    # only Blob Storage in westeurope, rows recorded out of order
    assert by_region["westeurope"].tiers == ((0.0, 0.021), (51200.0, 0.02), (512000.0, 0.019))


def test_a_storage_ladder_with_a_zero_tier_is_excluded_and_reported(result):
    assert "westus2" not in {s.region for s in result.storage}
    assert any("westus2 storage" in w and "retailPrice 0.0" in w for w in result.warnings)


def test_egress_tiers_are_parsed_exactly(result):
    by_region = {e.region: e for e in result.egress}
    # the "Zone 1" row has no region; westeurope has "Internet" routing rows only
    assert set(by_region) == {"eastus", "japaneast"}
    east = by_region["eastus"]                           # MGN routing, not "Internet" routing
    assert east.destination == "internet"
    assert east.tiers == ((0.0, 0.0), (100.0, 0.08), (10335.0, 0.075), (51295.0, 0.06),
                          (153695.0, 0.045), (512095.0, 0.04))
    assert east.source_ref.startswith("meterId=9a7b6c5d-1e2f-4a3b-8c4d-5e6f7a8b9c01;")
    # the 100 GB tier is recorded twice: the row effective 2024-05-01 replaces the 2022 one
    assert by_region["japaneast"].tiers == ((0.0, 0.0), (100.0, 0.11), (10335.0, 0.09),
                                            (51295.0, 0.085), (153695.0, 0.08))


def test_a_region_with_gpu_prices_but_no_egress_price_is_reported(result):
    # westeurope answers VM and storage rows, but internet egress only with "Internet" routing
    assert {r.region for r in result.compute} == {"eastus", "westeurope"}
    unpriced = [w for w in result.warnings if "GPU prices but no" in w]
    assert unpriced == ["azure:westeurope: GPU prices but no internet egress price in the answer"]


# --------------------------------------------------------------------------- EA overlay


def _sheet_rows() -> list[Any]:
    from azure.mgmt.consumption.models import PriceSheetResult

    rows: list[Any] = []
    for name in ("price_sheet_page1.json", "price_sheet_page2.json"):
        rows += PriceSheetResult(_load(name)).pricesheets
    return rows


def test_the_ea_overlay_replaces_on_demand_prices_by_meter_id(result):
    warnings: list[str] = []
    out = az.overlay_price_sheet(result.compute, _sheet_rows(), warnings=warnings)
    before = {(r.region, r.instance_type, r.purchase): r for r in result.compute}
    after = {(r.region, r.instance_type, r.purchase): r for r in out}
    assert after.keys() == before.keys()
    h100 = after[("eastus", H100, Purchase.ON_DEMAND)]
    assert h100.usd_per_hour == 80.0
    assert h100.source_ref == f"meterId={M}02;skuId=DZH318Z0TC02/0046;priceSheet=AAH-00001"
    assert after[("eastus", NC40, Purchase.ON_DEMAND)].usd_per_hour == 11.5    # 1150 / 100 h
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("eastus", H100, Purchase.ON_DEMAND), ("eastus", NC40, Purchase.ON_DEMAND)}
    # the spot meter's sheet price is not applied, nor the EUR or zero-priced rows
    assert any(f"{M}05" in w and "EUR" in w for w in warnings)
    assert any(f"{M}11" in w and "not a positive price" in w for w in warnings)
    assert all(compute_problem(r) is None for r in out)


def test_the_ea_overlay_accepts_rows_in_the_rest_shape():
    record = ComputePrice("azure", "eastus", H100, "H100", 8, 80, 96, 1900, Purchase.ON_DEMAND,
                          100.0, 0.0, 0, Source.LIVE, "meterId=ABC;skuId=X/1", dt.date.today())
    rows = [{"meterId": "abc", "unitPrice": 900.0, "currencyCode": "USD",
             "unitOfMeasure": "10 Hours"}]
    (out,) = az.overlay_price_sheet([record], rows)
    assert out.usd_per_hour == 90.0


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("the fake client never asks for a token")


class FakeConsumptionClient:
    """Answers ``price_sheet.get`` with the recorded price sheet pages."""

    made: ClassVar[list[FakeConsumptionClient]] = []

    def __init__(self, credential: Any, subscription_id: str) -> None:
        self.credential = credential
        self.subscription_id = subscription_id
        self.price_sheet = self
        self.tokens: list[str | None] = []
        FakeConsumptionClient.made.append(self)

    def get(self, *, expand: str | None = None, skiptoken: str | None = None,
            top: int | None = None) -> Any:
        from azure.mgmt.consumption.models import PriceSheetResult

        assert expand == "meterDetails"
        self.tokens.append(skiptoken)
        name = "price_sheet_page1.json" if skiptoken is None else "price_sheet_page2.json"
        return PriceSheetResult(_load(name))


def test_a_billing_scope_applies_the_price_sheet_during_fetch(monkeypatch, api, settings):
    from azure import identity
    from azure.mgmt import consumption

    monkeypatch.setattr(identity, "DefaultAzureCredential", FakeCredential)
    monkeypatch.setattr(consumption, "ConsumptionManagementClient", FakeConsumptionClient)
    monkeypatch.setattr(FakeConsumptionClient, "made", [])
    monkeypatch.setenv(az.SCOPE_ENV, f"/subscriptions/{SUBSCRIPTION}")
    messages: list[str] = []
    res = az.from_env(settings).fetch(progress=messages.append)
    (client,) = FakeConsumptionClient.made
    assert client.subscription_id == SUBSCRIPTION
    assert isinstance(client.credential, FakeCredential)
    assert client.tokens == [None, "AQAAAA=="]                  # followed nextLink's skiptoken
    assert offers(res.compute, "eastus", H100)[Purchase.ON_DEMAND].usd_per_hour == 80.0
    assert offers(res.compute, "eastus", H100)[Purchase.SPOT].usd_per_hour == 30.0
    assert offers(res.compute, "eastus", NC40)[Purchase.RESERVED_1Y].usd_per_hour == 10.0
    assert any(m.startswith("azure: price sheet") for m in messages)


class NoIdentity:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.identity import CredentialUnavailableError

        raise CredentialUnavailableError("no identity configured")


def test_a_billing_scope_without_an_identity_raises_missing_credentials(
        monkeypatch, api, settings):
    from azure import identity

    monkeypatch.setattr(identity, "DefaultAzureCredential", NoIdentity)
    monkeypatch.setenv(az.SCOPE_ENV, SUBSCRIPTION)
    adapter = az.from_env(settings)        # the real ConsumptionManagementClient
    with pytest.raises(MissingCredentialsError) as err:
        adapter.fetch()
    assert err.value.provider == "azure" and az.SCOPE_ENV in err.value.hint


def test_a_billing_scope_that_is_not_a_subscription_id_is_refused(monkeypatch, settings):
    monkeypatch.setenv(az.SCOPE_ENV, "my-billing-account")
    with pytest.raises(MissingCredentialsError) as err:
        az.from_env(settings)
    assert err.value.provider == "azure"


def test_without_a_billing_scope_no_credentials_are_needed(settings):
    adapter = az.from_env(settings)
    assert adapter.name == "azure" and adapter.price_sheet is None
    assert adapter.retail_url == "https://prices.azure.com/api/retail/prices"


# --------------------------------------------------------------------------- failures, cache


@pytest.mark.parametrize("api_args", [{"status": 500}, {"status": 400},
                                      {"body": b"<html>maintenance</html>"},
                                      {"body": b'{"Items": "none"}'}])
def test_http_and_json_errors_raise_pricing_error(monkeypatch, settings, api_args):
    serve(monkeypatch, RetailAPI(**api_args))
    with pytest.raises(PricingError, match="azure: "):
        az.from_env(settings).fetch()


def test_a_transport_error_is_wrapped(monkeypatch, settings):
    class Down(RetailAPI):
        def send(self, request, **kwargs):  # type: ignore[override]
            raise requests.ConnectionError("connection refused")

    serve(monkeypatch, Down())
    with pytest.raises(PricingError) as err:
        az.from_env(settings).fetch()
    assert isinstance(err.value.__cause__, requests.ConnectionError)


def test_offline_serves_the_http_cache_and_fails_cleanly_on_a_miss(monkeypatch, tmp_path):
    online = PricingSettings(cache_dir=tmp_path / "cache")
    api = serve(monkeypatch, RetailAPI())
    first = az.from_env(online).fetch()
    calls = len(api.seen)
    offline = PricingSettings(cache_dir=tmp_path / "cache", offline=True)
    again = az.from_env(offline).fetch()
    assert len(api.seen) == calls                       # nothing sent
    assert again.compute == first.compute and again.egress == first.egress
    with pytest.raises(PricingError, match="offline"):
        az.from_env(PricingSettings(cache_dir=tmp_path / "empty", offline=True)).fetch()


def test_a_next_page_link_that_repeats_is_an_error(monkeypatch, settings):
    class Loop(RetailAPI):
        def send(self, request, **kwargs):  # type: ignore[override]
            doc = {"BillingCurrency": "USD", "Items": [], "Count": 0,
                   "NextPageLink": "https://prices.azure.com/api/retail/prices?$skip=100"}
            return self._answer(request, 200, json.dumps(doc).encode())

    serve(monkeypatch, Loop())
    with pytest.raises(PricingError, match="repeats"):
        az.from_env(settings).fetch()


# --------------------------------------------------------------------------- pure functions


def _row(**fields: Any) -> dict[str, Any]:
    base = {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 1.0,
            "unitPrice": 1.0, "armRegionName": "eastus", "location": "US East",
            "effectiveStartDate": "2025-01-01T00:00:00Z", "meterId": "m",
            "meterName": "NC24ads A100 v4",
            "productId": "P", "skuId": "P/1", "productName": "Virtual Machines NCadsA100v4 Series",
            "skuName": "NC24ads A100 v4", "serviceName": "Virtual Machines", "serviceId": "S",
            "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
            "isPrimaryMeterRegion": True, "armSkuName": NC24}
    return {**base, **fields}


@pytest.mark.parametrize("fields, reason", [
    ({}, None),
    ({"productName": "Virtual Machines NCadsA100v4 Series Linux"}, None),
    ({"productName": "Virtual Machines NCadsA100v4 Series Windows"}, "Windows"),
    ({"skuName": "NC24ads A100 v4 Low Priority"}, "Low Priority"),
    ({"meterName": "NC24ads A100 v4 Low Priority"}, "Low Priority"),
    ({"type": "DevTestConsumption"}, "DevTestConsumption"),
    ({"meterName": "NC24ads A100 v4 - Expired"}, "expired meter"),
    ({"type": "SavingsPlanConsumption"}, "type 'SavingsPlanConsumption'"),
])
def test_the_central_filter(fields, reason):
    assert az.excluded_reason(_row(**fields)) == reason


@pytest.mark.parametrize("fields, purchase", [
    ({}, Purchase.ON_DEMAND),
    ({"skuName": "NC24ads A100 v4 Spot", "meterName": "NC24ads A100 v4 Spot"}, Purchase.SPOT),
    ({"meterName": "NC24ads A100 v4 Spot"}, Purchase.SPOT),
    ({"type": "Reservation", "reservationTerm": "1 Year"}, Purchase.RESERVED_1Y),
    ({"type": "Reservation", "reservationTerm": "3 Years"}, Purchase.RESERVED_3Y),
    ({"type": "Reservation", "reservationTerm": "5 Years"}, None),
])
def test_purchase_of_a_row(fields, purchase):
    assert az.vm_purchase(_row(**fields)) == purchase


def test_parse_compute_units_terms_and_duplicates():
    today = dt.date(2026, 6, 1)
    rows = [
        _row(retailPrice=400.0, unitOfMeasure="100 Hours", meterId="a"),
        _row(retailPrice=5.0, effectiveStartDate="2027-01-01T00:00:00Z", meterId="future"),
        _row(retailPrice=4.5, isPrimaryMeterRegion=False, meterId="secondary"),
        _row(retailPrice=1.0, unitOfMeasure="1 GB", armRegionName="westus2"),
        _row(type="Reservation", reservationTerm="5 Years", retailPrice=9.0e5),
        _row(retailPrice=None, armRegionName="centralus"),
        _row(armSkuName="Standard_NC24ADS_A100_V4", armRegionName="uksouth", retailPrice=4.2),
    ]
    records, warnings = az.parse_compute(rows, today)
    got = {(r.region, r.purchase.value): (r.usd_per_hour, r.instance_type) for r in records}
    assert got == {("eastus", "on_demand"): (4.0, NC24),              # 400 per 100 hours
                   ("uksouth", "on_demand"): (4.2, NC24)}             # size matched ignoring case
    assert len(warnings) == 3
    assert any("'1 GB' is not hourly" in w for w in warnings)
    assert any("'5 Years'" in w for w in warnings)
    assert any("centralus" in w and "None" in w for w in warnings)


def test_the_real_recorded_rows_of_the_reference_examples():
    text = (FIXTURES / "reference_examples.md").read_text()
    doc = json.loads(re.findall(r"```json\n(.*?)```", text, re.DOTALL)[1])   # example 2, verbatim
    records, warnings = az.parse_compute(doc["Items"], dt.date(2026, 7, 27))
    got = {(r.instance_type, r.purchase.value): r.usd_per_hour for r in records}
    assert got == pytest.approx({
        ("Standard_ND96isr_H100_v5", "on_demand"): 98.32,
        ("Standard_ND96isr_H100_v5", "reserved_1y"): 551221.0 / 8760,     # 62.924771689
        ("Standard_ND96isr_H100_v5", "reserved_3y"): 1134310.0 / 26280,   # 43.162480974
        ("Standard_ND96asr_v4", "spot"): 5.98334,
    }, rel=1e-12)
    assert warnings == []


def test_filters_quote_values_and_batch_sizes_and_regions():
    sizes = [f"Standard_X{i}" for i in range(23)]
    filters = az.compute_filters(sizes, ["eastus", "west'us"])
    assert len(filters) == 3
    assert all("(armRegionName eq 'eastus' or armRegionName eq 'west''us')" in f for f in filters)
    named = [s for f in filters for s in re.findall(r"armSkuName eq '([^']+)'", f)]
    assert sorted(named) == sorted(sizes)
    assert az.storage_filters() == [
        ("serviceName eq 'Storage' and priceType eq 'Consumption' and meterName eq 'Hot LRS Data "
         "Stored' and (productName eq 'General Block Blob v2' or productName eq 'Blob Storage')")]
    assert len(az.bandwidth_filters([f"r{i}" for i in range(11)])) == 2


def test_unit_quantity():
    assert az.unit_quantity("1 Hour") == (1.0, "hour")
    assert az.unit_quantity("100 Hours") == (100.0, "hours")
    assert az.unit_quantity("1 GB/Month") == (1.0, "gb/month")
    assert az.unit_quantity("10K") == (10.0, "k")


def test_a_pay_as_you_go_row_brings_its_savings_plan_prices():
    # a real item of the preview API with its savingsPlan array (fixtures/azure/README.md):
    # hourly prices per term, beside the on-demand row's own
    page = json.loads((FIXTURES / "retail_vm_savings_plan_item.json").read_text())
    facts = {"standard_b16als_v2": InstanceFacts("Standard_B16als_v2", "T4", 1, 16.0, 16, 32.0)}
    records, warnings = az.parse_compute(page["Items"], dt.date(2026, 7, 29),
                                         instances=facts)
    got = {r.purchase: (r.usd_per_hour, r.term_months, r.upfront_usd) for r in records}
    assert got == {Purchase.ON_DEMAND: (0.673, 0, 0.0),
                   Purchase.SAVINGS_PLAN_1Y: (0.49129, 12, 0.0),
                   Purchase.SAVINGS_PLAN_3Y: (0.34323, 36, 0.0)}
    assert warnings == []
    assert all(r.region == "australiacentral" for r in records)
    sp = next(r for r in records if r.purchase == Purchase.SAVINGS_PLAN_3Y)
    assert sp.source_ref.endswith("savingsPlan 3 Years")


def test_a_savings_plan_entry_without_a_price_or_term_is_reported_not_zero():
    page = json.loads((FIXTURES / "retail_vm_savings_plan_item.json").read_text())
    item = dict(page["Items"][0])
    item["savingsPlan"] = [{"unitPrice": 0.0, "retailPrice": 0.0, "term": "1 Year"},
                           {"unitPrice": 0.3, "retailPrice": 0.3, "term": "5 Years"}]
    facts = {"standard_b16als_v2": InstanceFacts("Standard_B16als_v2", "T4", 1, 16.0, 16, 32.0)}
    records, warnings = az.parse_compute([item], dt.date(2026, 7, 29), instances=facts)
    assert {r.purchase for r in records} == {Purchase.ON_DEMAND}
    assert any("savings_plan_1y: unitPrice 0.0 is not a positive price" in w for w in warnings)
    assert any("savings plan term '5 Years'" in w for w in warnings)
