"""The bundled snapshot's storage and egress tables are complete (SPEC 18, "Complete tables").

Every region where the snapshot offers a GPU has a storage price and an internet-egress price,
and every storage and egress row names its source and date, charges where the provider
charges, and lists its tiers in increasing order. Unknown is never zero: a region without a
sourced price is left out of the files, and this test then names it.

The regions for which no dated source has been found yet are listed in ``UNSOURCED``, each
with its reason in ``SOURCES_<provider>.md``. The list must match the files exactly: a GPU
region that gains no price fails, and so does a listed region once its price is added (take
it off the list then).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections import defaultdict
from importlib import resources

import pytest

from tco.pricing import load_catalog
from tco.pricing.models import Provider

PROVIDERS = tuple(p.value for p in Provider)
KINDS = {"storage": ("storage_class", "usd_per_gb_month"), "egress": ("destination", "usd_per_gb")}

# A first tier priced at 0 is a free allowance only where the provider publishes one: the
# size of the allowance, in the file's own unit, keyed by (provider, kind). Azure's Retail
# Prices API lists internet egress from 0 to 100 GB a month at 0 (SOURCES_azure.md). AWS's
# 100 GB a month is granted per account across all regions, so its files carry no 0 tier.
FREE_ALLOWANCE = {("azure", "egress"): 100.0}
# Egress a provider's own page says is not charged, marked `free = yes` in the file, with the
# page quoted in SOURCES_neoclouds.md
FREE = {("lambda", "egress"), ("nebius", "egress"), ("runpod", "egress"),
        ("coreweave", "egress")}

# (provider, kind) -> GPU regions with no sourced price of that kind (see SOURCES_*.md,
# "Not sourced"). Empty is the goal of SPEC 18.
UNSOURCED: dict[tuple[str, str], set[str]] = {
    ("gcp", "egress"): {"asia-northeast1"},
    ("azure", "storage"): {"centralus", "eastus2", "francecentral", "japaneast", "koreacentral",
                           "northeurope", "southcentralus", "southeastasia", "swedencentral",
                           "uksouth", "westeurope", "westus2", "westus3"},
    # Oracle's price pages render their figures in the browser and its price-list API is
    # undated; Crusoe publishes no egress price (SOURCES_neoclouds.md)
    ("oci", "storage"): {"ap-hyderabad-1", "ap-osaka-1", "eu-frankfurt-1", "me-abudhabi-1",
                         "me-dubai-1", "me-riyadh-1", "sa-saopaulo-1", "uk-london-1",
                         "us-ashburn-1", "us-chicago-1", "us-phoenix-1"},
    ("oci", "egress"): {"ap-hyderabad-1", "ap-osaka-1", "eu-frankfurt-1", "me-abudhabi-1",
                        "me-dubai-1", "me-riyadh-1", "sa-saopaulo-1", "uk-london-1",
                        "us-ashburn-1", "us-chicago-1", "us-phoenix-1"},
    ("crusoe", "egress"): {"eu-iceland1-a", "us-east1-a", "us-northcentral1-a",
                           "us-southcentral1-a"},
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    # an empty cache directory: only the bundled snapshot, never a cached live price
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TCO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        mp.delenv("TCO_OFFLINE", raising=False)
        return load_catalog(offline=True)


def _file_rows(kind: str, provider: str) -> list[dict[str, str]]:
    path = resources.files("tco.pricing").joinpath("data", "snapshot", f"{kind}_{provider}.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _gpu_regions(catalog, provider: str) -> set[str]:
    return {r.region for r in catalog.compute if r.provider == provider and r.gpu_count > 0}


def _missing(catalog) -> dict[tuple[str, str], set[str]]:
    """(provider, kind) -> GPU regions of that provider without a price of that kind."""
    missing = {}
    for provider in PROVIDERS:
        gpu_regions = _gpu_regions(catalog, provider)
        assert gpu_regions, provider
        priced = {
            "storage": {s.region for s in catalog.storage if s.provider == provider},
            "egress": {e.region for e in catalog.egress
                       if e.provider == provider and e.destination == "internet"},
        }
        for kind, regions in priced.items():
            if gpu_regions - regions:
                missing[(provider, kind)] = gpu_regions - regions
    return missing


def _describe(gaps: dict[tuple[str, str], set[str]]) -> str:
    return "; ".join(f"{provider} {kind}: {', '.join(sorted(regions))}"
                     for (provider, kind), regions in sorted(gaps.items()) if regions)


def test_the_snapshot_has_no_cached_live_prices(catalog):
    assert {p.source for p in catalog.provenance()} == {"snapshot"}
    assert set(PROVIDERS) <= {p.provider for p in catalog.provenance()}


def test_every_gpu_region_has_storage_and_internet_egress(catalog):
    missing = _missing(catalog)
    unexpected = {key: regions - UNSOURCED.get(key, set()) for key, regions in missing.items()}
    assert not any(unexpected.values()), (
        "GPU regions without a price: " + _describe(unexpected))
    filled = {key: regions - missing.get(key, set()) for key, regions in UNSOURCED.items()}
    assert not any(filled.values()), (
        "priced now, take them off UNSOURCED: " + _describe(filled))


def test_unsourced_regions_are_gpu_regions(catalog):
    for (provider, _), regions in UNSOURCED.items():
        assert regions <= _gpu_regions(catalog, provider), (provider, regions)


def test_one_storage_class_per_provider(catalog):
    """A provider's rows are all of the class its existing rows use, one record per region."""
    for provider in _with_files("storage"):
        records = [s for s in catalog.storage if s.provider == provider]
        assert len({s.storage_class for s in records}) == 1, provider
        assert len({s.region for s in records}) == len(records), provider


def _with_files(kind: str) -> list[str]:
    return [p for p in PROVIDERS if (p, kind) not in UNSOURCED
            or UNSOURCED[(p, kind)] != _gpu_regions(load_catalog(offline=True), p)]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_row_names_its_source_and_date(kind, provider):
    if provider not in _with_files(kind):
        pytest.skip(f"no {kind} prices sourced for {provider}")
    rows = _file_rows(kind, provider)
    assert rows
    for row in rows:
        assert row["source_ref"].strip().startswith("https://"), row
        as_of = dt.date.fromisoformat(row["as_of"])
        assert as_of.isoformat() == row["as_of"], row
        assert dt.date(2024, 1, 1) <= as_of <= dt.date(2026, 12, 31), row


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_tiers_start_at_0_increase_and_charge(kind, provider):
    if provider not in _with_files(kind):
        pytest.skip(f"no {kind} prices sourced for {provider}")
    group_key, rate_key = KINDS[kind]
    tiers: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in _file_rows(kind, provider):
        tiers[(row["region"], row[group_key])].append((float(row["start_gb"]),
                                                       float(row[rate_key])))
    free = FREE_ALLOWANCE.get((provider, kind))
    marked = {row.get("free", "") for row in _file_rows(kind, provider)}
    if (provider, kind) in FREE:
        # not charged at all, as the provider's page says: one 0 tier, marked so
        assert marked == {"yes"}, (provider, kind)
        assert all(ladder == [(0.0, 0.0)] for ladder in tiers.values()), (provider, kind)
        return
    assert marked <= {""}, (provider, kind)
    for key, ladder in tiers.items():
        starts = [start for start, _ in ladder]
        assert starts[0] == 0, (provider, kind, key, ladder)
        # in file order, strictly increasing: no tier given twice, none out of place
        assert all(a < b for a, b in itertools.pairwise(starts)), (provider, kind, key, ladder)
        first_rate = ladder[0][1]
        if first_rate == 0:
            assert free is not None, f"{provider} {kind} {key}: a 0 first tier, no free allowance"
            assert len(ladder) > 1 and ladder[1][0] == free, (provider, kind, key, ladder)
        assert all(rate > 0 for _, rate in ladder[1 if first_rate == 0 else 0:]), (
            provider, kind, key, ladder)


def test_loaded_records_match_the_rules(catalog):
    """The same rules on the records the loader builds (GiB rows converted to GB)."""
    for record in [*catalog.storage, *catalog.egress]:
        if record.provider not in PROVIDERS:
            continue
        starts = [start for start, _ in record.tiers]
        assert starts[0] == 0 and all(a < b for a, b in itertools.pairwise(starts)), record
        assert record.source_ref.startswith("https://") and record.as_of, record
        if (record.provider, "egress") in FREE and record in catalog.egress:
            assert record.tiers == ((0.0, 0.0),), record
            continue
        charged = record.tiers[1:] if record.tiers[0][1] == 0 else record.tiers
        assert charged and all(rate > 0 for _, rate in charged), record
