"""The AWS live adapter against recorded-shape payloads; no test touches the network.

The Price List API is served by ``botocore.stub.Stubber`` from ``fixtures/aws/`` (moto does not
implement it); EC2 (instance types, spot history, regions) by moto, or by a Stubber where exact
spot histories are needed. Every expected price below is computed by hand in its comment.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tco.pricing import aws
from tco.pricing.errors import MissingCredentialsError, PricingError
from tco.pricing.integrity import compute_problem
from tco.pricing.models import ComputePrice, Purchase, Source
from tco.pricing.settings import PricingSettings
from tco.pricing.tiers import validate_tiers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aws"
HOURS_1Y, HOURS_3Y = 12 * 730, 36 * 730  # 8,760 h and 26,280 h

P5_LINUX = "QG5ZR8N2V7KXW3TJ"
P5_WINDOWS = "M4HD9PXC2TRB7Y6W"
P5_CAPACITY_BLOCK = "Z7CB3WK9QN5TPE2R"
G6_USE1 = "HV2N8RJ6XQ4DKC9S"
P5EN_PLACEHOLDER = "F8KX2NW5QJ7RZT3V"

CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                   "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                   "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL",
                   "AWS_ENDPOINT_URL_PRICING", "AWS_ENDPOINT_URL_EC2")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere: env, files, instance metadata."""
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def fake_credentials(no_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


@pytest.fixture
def settings(tmp_path: Path) -> PricingSettings:
    return PricingSettings(cache_dir=tmp_path / "cache")


def page(name: str) -> dict[str, Any]:
    """A recorded ``get_products`` response page."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def items(*names: str) -> list[aws.PriceItem]:
    raw = [entry for name in names for entry in page(name)["PriceList"]]
    decoded, warnings = aws.parse_price_list(raw)
    assert warnings == []
    return decoded


def match(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def ec2_filters(instance_type: str, region: str | None) -> list[dict[str, str]]:
    """The filters SPEC 3 asks for, written out independently of the module."""
    where = [match("instanceType", instance_type)]
    if region:
        where.append(match("regionCode", region))
    return where + [match("operatingSystem", "Linux"), match("tenancy", "Shared"),
                    match("preInstalledSw", "NA"), match("capacitystatus", "Used"),
                    match("licenseModel", "No License required"),
                    match("marketoption", "OnDemand")]


def products_call(service: str, filters: list[dict[str, str]],
                  next_token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"ServiceCode": service, "Filters": filters,
                              "FormatVersion": "aws_v1", "MaxResults": 100}
    if next_token:
        params["NextToken"] = next_token
    return params


def expect_products(stubber: Stubber, fixture: str | None, service: str,
                    filters: list[dict[str, str]], next_token: str | None = None) -> None:
    response = page(fixture) if fixture else {"FormatVersion": "aws_v1", "PriceList": []}
    stubber.add_response("get_products", response, products_call(service, filters, next_token))


def expect_p5_two_pages(stubber: Stubber, region: str = "us-east-1") -> None:
    first = page("ec2_p5.48xlarge_us-east-1_page1.json")
    expect_products(stubber, "ec2_p5.48xlarge_us-east-1_page1.json", "AmazonEC2",
                    ec2_filters("p5.48xlarge", region))
    expect_products(stubber, "ec2_p5.48xlarge_us-east-1_page2.json", "AmazonEC2",
                    ec2_filters("p5.48xlarge", region), next_token=first["NextToken"])


def expect_storage_and_egress(stubber: Stubber, region: str, s3: str | None,
                              transfer: str | None) -> None:
    expect_products(stubber, s3, "AmazonS3", [
        match("productFamily", "Storage"), match("volumeType", "Standard"),
        match("regionCode", region)])
    expect_products(stubber, transfer, "AWSDataTransfer", [
        match("transferType", "AWS Outbound"), match("fromRegionCode", region),
        match("toLocation", "External")])


def by_key(records: list[ComputePrice]) -> dict[tuple[str, str, Purchase], ComputePrice]:
    keyed = {(r.region, r.instance_type, r.purchase): r for r in records}
    assert len(keyed) == len(records), "one record per (region, instance type, purchase)"
    return keyed


def spot_history_response() -> dict[str, Any]:
    doc = json.loads((FIXTURES / "spot_history_us-east-1.json").read_text(encoding="utf-8"))
    for entry in doc["SpotPriceHistory"]:
        entry["Timestamp"] = dt.datetime.fromisoformat(entry["Timestamp"])
    return doc  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- credentials, clients


def test_missing_credentials_raise_naming_the_variables(no_aws_env: None,
                                                        settings: PricingSettings) -> None:
    with pytest.raises(MissingCredentialsError) as raised:
        aws.from_env(settings)
    assert raised.value.provider == "aws"
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        assert var in str(raised.value)


def test_an_unknown_profile_is_missing_credentials(no_aws_env: None, settings: PricingSettings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(MissingCredentialsError, match="AWS_PROFILE"):
        aws.from_env(settings)


def test_from_env_builds_an_adapter_for_every_csv_instance_type(
        fake_credentials: None, settings: PricingSettings) -> None:
    adapter = aws.from_env(settings)
    assert adapter.name == "aws"
    assert set(adapter.instance_types) == set(aws.csv_facts())
    assert {"p5.48xlarge", "p4d.24xlarge", "g6.xlarge", "p6-b200.48xlarge"} <= set(
        adapter.instance_types)


def test_importing_the_module_does_not_import_boto3() -> None:
    code = "import sys, tco.pricing.aws; print('boto3' in sys.modules, 'botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_clients_use_settings_timeouts_retries_and_boto3_endpoints(
        fake_credentials: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", "http://pricing.test:4566")
    settings = PricingSettings(cache_dir=tmp_path, timeout_s=7.5, retries=2)
    adapter = aws.from_env(settings)
    pricing = adapter.pricing
    assert pricing.meta.region_name == "us-east-1"
    assert pricing.meta.endpoint_url == "http://pricing.test:4566"
    assert pricing.meta.config.connect_timeout == 7.5
    assert pricing.meta.config.read_timeout == 7.5
    # retries=2: two retries after the first request, three attempts in all.
    assert pricing.meta.config.retries == {"total_max_attempts": 3, "mode": "standard"}
    assert adapter.client("pricing", "us-east-1") is pricing  # built once, reused
    assert adapter.client("ec2", "eu-west-1").meta.region_name == "eu-west-1"


# --------------------------------------------------------------------------- compute parsing


def test_a_windows_item_at_another_price_is_ignored() -> None:
    # The Windows item is deliberately cheaper than the Linux one ($52/h on demand, 3-year
    # all-upfront 700,800 / 26,280 = 26.67 $/h): were it not filtered out, it would win.
    offers, warnings = aws.compute_offers(items("ec2_p5.48xlarge_us-east-1_page1.json"),
                                          ["p5.48xlarge"], ["us-east-1"])
    assert not [o for o in offers if o.source_ref.startswith(P5_WINDOWS)]
    assert offers == []
    assert not any(P5_WINDOWS in w for w in warnings)


def test_windows_and_linux_together_keep_only_linux_prices() -> None:
    offers, _ = aws.compute_offers(items("ec2_p5.48xlarge_us-east-1_page1.json",
                                         "ec2_p5.48xlarge_us-east-1_page2.json"),
                                   ["p5.48xlarge"], ["us-east-1"])
    assert {o.source_ref.split(".")[0] for o in offers} == {P5_LINUX}
    on_demand = [o for o in offers if o.purchase == Purchase.ON_DEMAND]
    assert [(o.usd_per_hour, o.source_ref) for o in on_demand] == [(60.0, P5_LINUX)]


def test_a_zero_capacity_block_row_is_excluded_and_reported() -> None:
    offers, warnings = aws.compute_offers(items("ec2_p5.48xlarge_us-east-1_page1.json"),
                                          ["p5.48xlarge"], ["us-east-1"])
    assert offers == []
    [note] = [w for w in warnings if P5_CAPACITY_BLOCK in w]
    assert "CapacityBlock" in note and "excluded" in note


def test_a_zero_on_demand_placeholder_is_excluded_and_reported() -> None:
    offers, warnings = aws.compute_offers(items("ec2_p5en.48xlarge_us-east-1.json"),
                                          ["p5en.48xlarge"], ["us-east-1"])
    assert offers == []
    [note] = warnings
    assert "p5en.48xlarge" in note and P5EN_PLACEHOLDER in note and "$0" in note


def test_items_of_unrequested_regions_or_types_are_ignored() -> None:
    all_regions = items("ec2_g6.xlarge_all_regions.json")
    offers, _ = aws.compute_offers(all_regions, ["g6.xlarge"], ["us-west-2"])
    assert [(o.region, o.purchase, o.usd_per_hour) for o in offers] == [
        ("us-west-2", Purchase.ON_DEMAND, 0.83)]
    assert aws.compute_offers(all_regions, ["p5.48xlarge"], None) == ([], [])


# Every reserved offering of the Linux p5.48xlarge item, effective $/h by hand:
# (1 year = 8,760 h, 3 years = 26,280 h; effective = recurring + upfront / hours)
P5_RESERVED = {
    # offer term code: (term, class, option, upfront $, effective $/h)
    "4NA7Y494T4": ("1yr", "standard", "No Upfront", 0, 42.0),
    "HU7G6KETJZ": ("1yr", "standard", "Partial Upfront", 175_200, 19.5 + 20.0),
    "6QCMYABX3D": ("1yr", "standard", "All Upfront", 341_640, 39.0),
    "7NE97W5U4E": ("1yr", "convertible", "No Upfront", 0, 44.5),
    "CUZHX8X6JH": ("1yr", "convertible", "Partial Upfront", 166_440, 19.5 + 19.0),  # lowest 1yr
    "VJWZNREJX2": ("1yr", "convertible", "All Upfront", 376_680, 43.0),
    "BPH4J8HBKS": ("3yr", "standard", "No Upfront", 0, 36.0),
    "38NPMPTW36": ("3yr", "standard", "Partial Upfront", 420_480, 18.0 + 16.0),
    "NQ3QZPMQV9": ("3yr", "standard", "All Upfront", 876_000, 33.333333333333336),  # lowest 3yr
    "Z2E3P23VKM": ("3yr", "convertible", "No Upfront", 0, 40.0),
    "R5XV2EPZQZ": ("3yr", "convertible", "Partial Upfront", 473_040, 19.0 + 18.0),
    "MZU6U2429S": ("3yr", "convertible", "All Upfront", 946_080, 36.0),
}


@pytest.mark.parametrize("code", sorted(P5_RESERVED))
def test_each_reserved_offering_is_priced_at_its_effective_hourly_rate(code: str) -> None:
    [linux] = items("ec2_p5.48xlarge_us-east-1_page2.json")
    term = linux.terms["Reserved"][f"{P5_LINUX}.{code}"]
    lease, klass, option, upfront, effective = P5_RESERVED[code]
    assert term["termAttributes"] == {"LeaseContractLength": lease, "OfferingClass": klass,
                                      "PurchaseOption": option}
    offer, problem = aws.reserved_offer(P5_LINUX, code, term, "us-east-1", "p5.48xlarge")
    assert problem is None and offer is not None
    assert offer.usd_per_hour == pytest.approx(effective, rel=1e-12)
    assert offer.upfront_usd == upfront
    assert offer.term_months == (12 if lease == "1yr" else 36)


def test_reserved_terms_pick_the_lowest_effective_hourly_offering() -> None:
    [linux] = items("ec2_p5.48xlarge_us-east-1_page2.json")
    offers, warnings = aws.best_reserved(linux, "us-east-1", "p5.48xlarge")
    assert warnings == []
    one, three = offers
    # 1 year: convertible partial upfront, 19.5 + 166,440 / 8,760 = 38.5 $/h. Beats standard
    # all-upfront (39.0), so neither "standard only" nor "all upfront" would find it.
    assert one.purchase == Purchase.RESERVED_1Y
    assert one.usd_per_hour == pytest.approx(38.5, rel=1e-12)
    assert one.upfront_usd == 166_440
    assert one.term_months == 12
    assert one.source_ref == f"{P5_LINUX}.CUZHX8X6JH"
    # 3 years: standard all upfront, 0 + 876,000 / (36 * 730) = 33.333... $/h.
    assert three.purchase == Purchase.RESERVED_3Y
    assert three.usd_per_hour == pytest.approx(33.333333333333336, rel=1e-12)
    assert three.upfront_usd == 876_000
    assert three.term_months == 36
    assert three.source_ref == f"{P5_LINUX}.NQ3QZPMQV9"


def test_a_partial_upfront_offer_without_its_fee_is_excluded_and_reported() -> None:
    # g6.xlarge 3-year partial upfront lists only 0.17 $/h recurring and no "Upfront Fee": taken
    # at face value it would undercut the real best 3-year offer (no upfront, 0.35 $/h).
    [g6] = items("ec2_g6.xlarge_us-east-1.json")
    offers, warnings = aws.best_reserved(g6, "us-east-1", "g6.xlarge")
    assert [(o.purchase, o.usd_per_hour, o.upfront_usd, o.source_ref) for o in offers] == [
        (Purchase.RESERVED_1Y, 0.51, 0.0, f"{G6_USE1}.4NA7Y494T4"),
        (Purchase.RESERVED_3Y, 0.35, 0.0, f"{G6_USE1}.BPH4J8HBKS")]
    [note] = warnings
    assert "38NPMPTW36" in note and "no upfront fee" in note


def test_a_zero_reserved_offering_is_excluded_and_reported() -> None:
    term = {"offerTermCode": "4NA7Y494T4",
            "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                               "PurchaseOption": "No Upfront"},
            "priceDimensions": {"X.4NA7Y494T4.6YS6EN2CT7": {
                "unit": "Hrs", "pricePerUnit": {"USD": "0.0000000000"}}}}
    offer, problem = aws.reserved_offer("X", "4NA7Y494T4", term, "us-east-1", "g6.xlarge")
    assert offer is None and problem is not None and "$0" in problem


def test_undecodable_price_list_entries_are_reported() -> None:
    decoded, warnings = aws.parse_price_list(["{not json", json.dumps({"terms": {}})])
    assert decoded == [] and len(warnings) == 2


# --------------------------------------------------------------------------- GPU facts, spot


@pytest.mark.parametrize("name,memory_mib,expected", [
    ("H100", 81920, "H100"), ("H200", 144384, "H200"), ("B200", 183359, "B200"),
    ("A100", 40960, "A100-40GB"), ("A100", 81920, "A100-80GB"), ("A100", None, None),
    ("L40S", 45776, "L40S"), ("L4", 22888, "L4"), ("A10G", 22888, "A10G"), ("T4", 15360, "T4"),
    ("T4g", 15360, "T4"), ("V100", 16384, "V100"), ("Radeon Pro V520", 8192, None),
])
def test_gpu_names_map_to_tco_classes(name: str, memory_mib: int | None,
                                      expected: str | None) -> None:
    assert aws.gpu_class(name, memory_mib) == expected


def test_moto_instance_types_agree_with_the_csv_gpu_classes(fake_credentials: None) -> None:
    csv = aws.csv_facts()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        described = ec2.describe_instance_types(InstanceTypes=sorted(csv))["InstanceTypes"]
    facts = {f.instance_type: f for f in map(aws.facts_from_instance_type, described) if f}
    assert set(facts) == set(csv)
    for itype, f in facts.items():
        assert (f.gpu, f.gpu_count, f.vcpus) == (csv[itype].gpu, csv[itype].gpu_count,
                                                 csv[itype].vcpus), itype
    # moto's GpuInfo: p5 8 x 81,920 MiB; p4d A100 40,960 MiB; p4de A100 81,920 MiB.
    assert (facts["p5.48xlarge"].gpu_memory_gib, facts["p5.48xlarge"].memory_gib) == (80.0, 2048.0)
    assert facts["p4d.24xlarge"].gpu == "A100-40GB"
    assert facts["p4de.24xlarge"].gpu == "A100-80GB"


def test_an_instance_type_without_gpu_info_has_no_facts() -> None:
    assert aws.facts_from_instance_type({"InstanceType": "m5.large", "VCpuInfo": {
        "DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 8192}}) is None


def test_spot_is_the_minimum_across_zones_of_each_zones_latest_price() -> None:
    history = spot_history_response()["SpotPriceHistory"]
    quotes, warnings = aws.latest_spot(history)
    # p5.48xlarge latest per zone: 1a 14.00 (12:00; 9.00 at 08:00 is older), 1b 11.50,
    # 1c 12.50, 1d 0 (excluded, reported); the Windows 3.00 in 1b is another product.
    assert quotes["p5.48xlarge"].usd_per_hour == 11.5
    assert quotes["p5.48xlarge"].availability_zone == "us-east-1b"
    # g6.xlarge: 1a latest 0.29 (11:45; 0.31 at 10:00 is older), 1f 0.305.
    assert quotes["g6.xlarge"].usd_per_hour == 0.29
    assert quotes["g6.xlarge"].availability_zone == "us-east-1a"
    [note] = warnings
    assert "us-east-1d" in note and "p5.48xlarge" in note
    offers = aws.spot_offers("us-east-1", quotes)
    assert [(o.purchase, o.usd_per_hour, o.source_ref) for o in offers] == [
        (Purchase.SPOT, 0.29, "ec2:spot:us-east-1a"), (Purchase.SPOT, 11.5, "ec2:spot:us-east-1b")]


# --------------------------------------------------------------------------- storage, egress


def test_s3_standard_tiers_are_parsed_exactly_in_order() -> None:
    # The fixture lists the "over 500 TB" dimension first: tiers are ordered by beginRange.
    today = dt.date(2026, 11, 2)
    storage, warnings = aws.storage_price(items("s3_us-east-1.json"), "us-east-1", today)
    assert warnings == []
    assert storage is not None
    assert storage.tiers == ((0.0, 0.025), (51200.0, 0.024), (512000.0, 0.0225))
    assert (storage.provider, storage.region, storage.storage_class) == ("aws", "us-east-1",
                                                                           "standard")
    assert (storage.source, storage.source_ref, storage.as_of) == (Source.LIVE, "T9QWBR4KZ2XN6JD8",
                                                                    today)
    assert aws.storage_price(items("s3_us-east-1.json"), "us-west-2", today)[0] is None


def test_egress_tiers_are_parsed_exactly_in_order() -> None:
    egress, warnings = aws.egress_price(items("transfer_us-east-1.json"), "us-east-1",
                                        dt.date(2026, 11, 2))
    assert warnings == []
    assert egress is not None
    assert egress.destination == "internet"
    assert egress.tiers == ((0.0, 0.095), (10240.0, 0.088), (51200.0, 0.072), (153600.0, 0.052))
    assert egress.source_ref == "K2ZR9TXW5NQ8BJ3H"


def test_a_free_first_egress_tier_is_kept_only_when_listed() -> None:
    egress, _ = aws.egress_price(items("transfer_us-east-1_free_first_tier.json"), "us-east-1",
                                 dt.date(2026, 11, 2))
    assert egress is not None
    assert egress.tiers == ((0.0, 0.0), (100.0, 0.095), (10240.0, 0.088))


def test_a_zero_storage_tier_is_excluded_and_reported() -> None:
    [s3] = items("s3_us-east-1.json")
    dims = next(iter(s3.terms["OnDemand"].values()))["priceDimensions"]
    for dim in dims.values():
        if dim["beginRange"] == "51200":
            dim["pricePerUnit"]["USD"] = "0.0000000000"
    storage, warnings = aws.storage_price([s3], "us-east-1", dt.date(2026, 11, 2))
    assert storage is None
    assert any("$0" in w for w in warnings)


# --------------------------------------------------------------------------- the adapter


def test_get_products_follows_next_token_across_pages(fake_credentials: None,
                                                      settings: PricingSettings) -> None:
    adapter = aws.from_env(settings)
    with Stubber(adapter.pricing) as stubber:
        expect_p5_two_pages(stubber)
        warnings: list[str] = []
        got = adapter.get_products("AmazonEC2", aws.compute_filters("p5.48xlarge", "us-east-1"),
                                   warnings)
        stubber.assert_no_pending_responses()
    assert [i.sku for i in got] == [P5_WINDOWS, P5_CAPACITY_BLOCK, P5_LINUX]


def no_extras(adapter: aws.AwsAdapter) -> None:
    """moto implements neither the Savings Plans API nor describe_capacity_block_offerings:
    the tests on moto leave them out (the stubbed tests below read them)."""
    adapter._savings_plans = lambda region, warnings: []  # type: ignore[method-assign]
    adapter._capacity_blocks = lambda region, warnings: []  # type: ignore[method-assign]


SAVINGS_PLANS = json.loads((FIXTURES / "savings_plans_rates_us-east-1.json").read_text())
CAPACITY_BLOCKS = json.loads((FIXTURES / "capacity_blocks_p5.48xlarge_us-east-1.json")
                             .read_text())


def expect_savings_plans(stubber: Stubber, types: list[str]) -> None:
    params = {"savingsPlanTypes": ["EC2Instance"], "products": ["EC2"],
              "serviceCodes": ["AmazonEC2"], "operations": ["RunInstances"],
              "filters": [{"name": "region", "values": ["us-east-1"]},
                          {"name": "instanceType", "values": types},
                          {"name": "productDescription", "values": ["Linux/UNIX"]},
                          {"name": "tenancy", "values": ["shared"]}],
              "maxResults": aws.PAGE_SIZE}
    first, second = SAVINGS_PLANS["pages"]
    stubber.add_response("describe_savings_plans_offering_rates", first, params)
    stubber.add_response("describe_savings_plans_offering_rates", second,
                         {**params, "nextToken": first["nextToken"]})


def test_fetch_one_region_with_moto_ec2(fake_credentials: None,
                                        settings: PricingSettings) -> None:
    seen: list[str] = []
    with mock_aws():
        adapter = aws.AwsAdapter(boto3.Session(), settings,
                                 instance_types=("p5.48xlarge", "g6.xlarge", "p5en.48xlarge"))
        no_extras(adapter)
        with Stubber(adapter.pricing) as stubber:
            expect_p5_two_pages(stubber)
            expect_products(stubber, "ec2_g6.xlarge_us-east-1.json", "AmazonEC2",
                            ec2_filters("g6.xlarge", "us-east-1"))
            expect_products(stubber, "ec2_p5en.48xlarge_us-east-1.json", "AmazonEC2",
                            ec2_filters("p5en.48xlarge", "us-east-1"))
            expect_storage_and_egress(stubber, "us-east-1", "s3_us-east-1.json",
                                      "transfer_us-east-1.json")
            result = adapter.fetch(["us-east-1"], seen.append)
            stubber.assert_no_pending_responses()

    today = dt.date.today()
    got = by_key(result.compute)
    p5 = lambda purchase: got[("us-east-1", "p5.48xlarge", purchase)]
    g6 = lambda purchase: got[("us-east-1", "g6.xlarge", purchase)]

    # Prices from the Price List fixtures (the Linux p5 item is on the second page).
    on_demand = p5(Purchase.ON_DEMAND)
    assert (on_demand.usd_per_hour, on_demand.source_ref) == (60.0, P5_LINUX)
    assert p5(Purchase.RESERVED_1Y).usd_per_hour == pytest.approx(38.5, rel=1e-12)
    assert p5(Purchase.RESERVED_1Y).upfront_usd == 166_440
    assert p5(Purchase.RESERVED_3Y).usd_per_hour == pytest.approx(876_000 / HOURS_3Y, rel=1e-12)
    assert p5(Purchase.RESERVED_3Y).upfront_usd == 876_000
    assert p5(Purchase.RESERVED_3Y).source_ref == f"{P5_LINUX}.NQ3QZPMQV9"
    assert [g6(p).usd_per_hour for p in (Purchase.ON_DEMAND, Purchase.RESERVED_1Y,
                                         Purchase.RESERVED_3Y)] == [0.81, 0.51, 0.35]
    # The $0 p5en row gives no on-demand or reserved price, only moto's spot price.
    assert {k[2] for k in got if k[1] == "p5en.48xlarge"} == {Purchase.SPOT}
    assert not any(r.source_ref.startswith((P5_WINDOWS, P5_CAPACITY_BLOCK, P5EN_PLACEHOLDER))
                   for r in result.compute)
    for needle in (P5_CAPACITY_BLOCK, P5EN_PLACEHOLDER, "38NPMPTW36"):
        assert any(needle in w for w in result.warnings), needle

    # moto's spot history is a flat 0.00001 $/h in every zone: the cheapest zone's, by name.
    for itype in ("p5.48xlarge", "g6.xlarge", "p5en.48xlarge"):
        spot = got[("us-east-1", itype, Purchase.SPOT)]
        assert spot.usd_per_hour == pytest.approx(0.00001)
        assert spot.source_ref.startswith("ec2:spot:us-east-1")
        assert (spot.upfront_usd, spot.term_months) == (0.0, 0)

    # GPU facts from moto's describe_instance_types (GpuInfo), not from the CSV.
    assert {(r.gpu, r.gpu_count, r.gpu_memory_gib, r.vcpus, r.memory_gib)
            for r in result.compute if r.instance_type == "p5.48xlarge"} == {
        ("H100", 8, 80.0, 192, 2048.0)}
    assert {(r.gpu, r.gpu_count, r.gpu_memory_gib) for r in result.compute
            if r.instance_type == "g6.xlarge"} == {("L4", 1, round(22888 / 1024, 2))}
    assert {r.gpu for r in result.compute if r.instance_type == "p5en.48xlarge"} == {"H200"}

    [storage] = result.storage
    [egress] = result.egress
    assert storage.tiers == ((0.0, 0.025), (51200.0, 0.024), (512000.0, 0.0225))
    assert egress.tiers == ((0.0, 0.095), (10240.0, 0.088), (51200.0, 0.072), (153600.0, 0.052))

    for record in result.compute:
        assert compute_problem(record) is None, record
        assert (record.provider, record.source, record.as_of) == ("aws", Source.LIVE, today)
    for tiered in (storage, egress):
        assert validate_tiers(tiered.tiers) == tiered.tiers
        assert (tiered.source, tiered.as_of) == (Source.LIVE, today)
    assert seen == ["aws: us-east-1"]


def test_fetch_with_stubbed_spot_history_and_csv_fallback_for_gpu_facts(
        fake_credentials: None, settings: PricingSettings) -> None:
    adapter = aws.AwsAdapter(boto3.Session(), settings, instance_types=("p5.48xlarge", "g6.xlarge"))
    ec2 = adapter.client("ec2", "us-east-1")
    plans = adapter.client("savingsplans", "us-east-1")
    with Stubber(adapter.pricing) as pricing, Stubber(ec2) as ec2_stub, \
            Stubber(plans) as plans_stub:
        expect_savings_plans(plans_stub, ["p5.48xlarge", "g6.xlarge"])
        expect_p5_two_pages(pricing)
        expect_products(pricing, "ec2_g6.xlarge_us-east-1.json", "AmazonEC2",
                        ec2_filters("g6.xlarge", "us-east-1"))
        expect_storage_and_egress(pricing, "us-east-1", "s3_us-east-1.json", None)
        ec2_stub.add_response("describe_spot_price_history", spot_history_response(), {
            "InstanceTypes": ["p5.48xlarge", "g6.xlarge"], "ProductDescriptions": ["Linux/UNIX"],
            "StartTime": ANY})
        ec2_stub.add_response("describe_capacity_block_offerings", CAPACITY_BLOCKS, {
            "InstanceType": "p5.48xlarge", "InstanceCount": 1, "CapacityDurationHours": 24})
        ec2_stub.add_client_error(
            "describe_instance_types", service_error_code="InvalidInstanceType",
            service_message="The following supplied instance types do not exist: [g6.xlarge]",
            expected_params={"InstanceTypes": ["p5.48xlarge", "g6.xlarge"]})
        result = adapter.fetch(["us-east-1"])
        pricing.assert_no_pending_responses()
        ec2_stub.assert_no_pending_responses()
        plans_stub.assert_no_pending_responses()

    got = by_key(result.compute)
    spot = got[("us-east-1", "p5.48xlarge", Purchase.SPOT)]
    assert (spot.usd_per_hour, spot.source_ref) == (11.5, "ec2:spot:us-east-1b")
    spot = got[("us-east-1", "g6.xlarge", Purchase.SPOT)]
    assert (spot.usd_per_hour, spot.source_ref) == (0.29, "ec2:spot:us-east-1a")
    # The API refused the instance types: facts come from instances_aws.csv (g6: 24 GiB L4).
    assert {(r.gpu, r.gpu_count, r.gpu_memory_gib, r.vcpus, r.memory_gib)
            for r in result.compute if r.instance_type == "g6.xlarge"} == {("L4", 1, 24.0, 4, 16.0)}
    assert any("InvalidInstanceType" in w for w in result.warnings)
    assert any("us-east-1d" in w for w in result.warnings)  # the $0 spot zone
    assert result.egress == [] and any("egress internet: no price item" in w
                                       for w in result.warnings)
    assert all(compute_problem(r) is None for r in result.compute)
    # EC2 Instance Savings Plans: No Upfront paid monthly, All Upfront when cheaper with the
    # whole term's commitment up front; Partial Upfront and Compute plans left out
    one = got[("us-east-1", "p5.48xlarge", Purchase.SAVINGS_PLAN_1Y)]
    assert (one.usd_per_hour, one.upfront_usd, one.term_months) == (38.14272, 0.0, 12)
    assert one.source_ref == "savingsplans:7f3a1c2e-0000-4000-8000-000000000001"
    three = got[("us-east-1", "p5.48xlarge", Purchase.SAVINGS_PLAN_3Y)]
    assert (three.usd_per_hour, three.upfront_usd, three.term_months) == (24.0, 630_720.0, 36)
    assert ("us-east-1", "g6.xlarge", Purchase.SAVINGS_PLAN_1Y) not in got
    assert any("g6.xlarge savings_plan_1y: rate '0.0' is not a positive price" in w
               for w in result.warnings)
    # Capacity Blocks: the cheapest day-long block per instance-hour, 996.67 / 24
    block = got[("us-east-1", "p5.48xlarge", Purchase.CAPACITY_BLOCK)]
    assert block.usd_per_hour == pytest.approx(996.67 / 24, rel=1e-12)
    assert block.source_ref == "ec2:capacity-block:cb-0a1b2c3d4e5f60001"
    assert (block.upfront_usd, block.term_months) == (0.0, 0)
    assert any("capacity_block: fee '0'" in w for w in result.warnings)


def test_savings_plans_and_capacity_blocks_that_fail_leave_the_regions_other_prices(
        fake_credentials: None, settings: PricingSettings) -> None:
    adapter = aws.AwsAdapter(boto3.Session(), settings, instance_types=("p5.48xlarge",))
    ec2 = adapter.client("ec2", "us-east-1")
    plans = adapter.client("savingsplans", "us-east-1")
    warnings: list[str] = []
    with Stubber(ec2) as ec2_stub, Stubber(plans) as plans_stub:
        plans_stub.add_client_error("describe_savings_plans_offering_rates",
                                    service_error_code="AccessDeniedException",
                                    service_message="not authorized")
        ec2_stub.add_client_error("describe_capacity_block_offerings",
                                  service_error_code="UnauthorizedOperation",
                                  service_message="not authorized")
        assert adapter._savings_plans("us-east-1", warnings) == []
        assert adapter._capacity_blocks("us-east-1", warnings) == []
    assert any("describe_savings_plans_offering_rates in us-east-1 failed "
               "(AccessDeniedException" in w for w in warnings)
    assert any("describe_capacity_block_offerings p5.48xlarge in us-east-1 failed" in w
               for w in warnings)


def test_fetch_every_enabled_region(fake_credentials: None, settings: PricingSettings) -> None:
    # The g6 series lists us-east-1, us-west-2 and ap-east-1; moto reports ap-east-1 as
    # not opted in, so only the first two are fetched.
    seen: list[str] = []
    with mock_aws():
        adapter = aws.AwsAdapter(boto3.Session(), settings, instance_types=("g6.xlarge",))
        no_extras(adapter)
        with Stubber(adapter.pricing) as stubber:
            expect_products(stubber, "ec2_g6.xlarge_all_regions.json", "AmazonEC2",
                            ec2_filters("g6.xlarge", None))
            expect_storage_and_egress(stubber, "us-east-1", "s3_us-east-1.json",
                                      "transfer_us-east-1.json")
            expect_storage_and_egress(stubber, "us-west-2", None, None)
            result = adapter.fetch(None, seen.append)
            stubber.assert_no_pending_responses()
    on_demand = {r.region: r.usd_per_hour for r in result.compute
                 if r.purchase == Purchase.ON_DEMAND}
    assert on_demand == {"us-east-1": 0.81, "us-west-2": 0.83}
    assert seen == ["aws: us-east-1", "aws: us-west-2"]
    assert [s.region for s in result.storage] == ["us-east-1"]
    assert any("aws:us-west-2 storage standard: no price item" in w for w in result.warnings)


def test_enabled_regions_drop_those_not_opted_in() -> None:
    response = {"Regions": [{"RegionName": "us-west-2", "OptInStatus": "opt-in-not-required"},
                            {"RegionName": "ap-east-1", "OptInStatus": "not-opted-in"},
                            {"RegionName": "af-south-1", "OptInStatus": "opted-in"}]}
    assert aws.enabled_regions(response) == ["af-south-1", "us-west-2"]


# --------------------------------------------------------------------------- errors


def test_a_price_list_api_error_is_a_pricing_error(fake_credentials: None,
                                                   settings: PricingSettings) -> None:
    adapter = aws.AwsAdapter(boto3.Session(), settings, instance_types=("g6.xlarge",))
    with Stubber(adapter.pricing) as stubber:
        stubber.add_client_error("get_products", service_error_code="AccessDeniedException",
                                 service_message="not authorized to perform pricing:GetProducts")
        with pytest.raises(PricingError, match="AccessDeniedException") as raised:
            adapter.fetch(["us-east-1"])
    assert isinstance(raised.value.__cause__, ClientError)
    assert not isinstance(raised.value, MissingCredentialsError)


def test_sdk_errors_map_into_the_tco_family() -> None:
    with (pytest.raises(MissingCredentialsError, match="AWS_ACCESS_KEY_ID") as missing,
          aws.sdk_errors("pricing get_products")):
        raise NoCredentialsError()
    assert isinstance(missing.value.__cause__, NoCredentialsError)
    with (pytest.raises(PricingError, match="EndpointConnectionError") as unreachable,
          aws.sdk_errors("pricing get_products")):
        raise EndpointConnectionError(endpoint_url="https://pricing.us-east-1.amazonaws.com")
    assert isinstance(unreachable.value.__cause__, EndpointConnectionError)
