"""The bundled offline price snapshot (package data under ``pricing/data/snapshot``)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from .errors import CatalogError
from .models import Catalog, EgressPrice, Source, StoragePrice
from .records import compute_from_row, egress_from_dict, storage_from_dict

NAME = "snapshot"


def _csv_files(prefix: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    folder = resources.files("tco.pricing").joinpath("data", "snapshot")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(prefix) and entry.name.endswith(".csv"):
            with io.StringIO(entry.read_text(encoding="utf-8"), newline="") as fh:
                rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k}
                        for row in csv.DictReader(fh)]
            yield f"pricing/data/snapshot/{entry.name}", rows


GIB_IN_GB = 1.073741824


def _unit_scale(unit: str, where: str) -> float:
    """GB per unit of a row's quantities (prices per unit are divided by it)."""
    if unit == "GB":
        return 1.0
    if unit == "GiB":
        return GIB_IN_GB
    raise CatalogError(f"{where}: unit must be GB or GiB, got {unit!r}")


def _tiered(prefix: str, group_key: str, rate_key: str) -> list[dict[str, Any]]:
    """Fold one-row-per-tier CSV rows into one dict per (provider, region, group)."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    tiers: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for name, rows in _csv_files(prefix):
        for line, row in enumerate(rows, start=2):
            where = f"{name}:{line}"
            try:
                key = (row["provider"], row["region"], row[group_key])
                scale = _unit_scale(row.get("unit") or "GB", where)
                tiers[key].append((float(row["start_gb"]) * scale, float(row[rate_key]) / scale))
            except (KeyError, ValueError) as exc:
                raise CatalogError(f"{where}: malformed tier row ({exc})") from exc
            group = groups.setdefault(key, {**row, "where": where})
            group["as_of"] = min(group["as_of"], row["as_of"])
    return [{**g, "tiers": sorted(tiers[k])} for k, g in groups.items()]


@cache
def load_snapshot() -> Catalog:
    """Read every snapshot file into one catalog (records carry ``source = snapshot``)."""
    compute = []
    for name, rows in _csv_files("compute_"):
        for line, row in enumerate(rows, start=2):
            compute.append(compute_from_row(row, f"{name}:{line}", Source.SNAPSHOT))
    storage: list[StoragePrice] = [storage_from_dict(g, g["where"], Source.SNAPSHOT)
                                   for g in _tiered("storage_", "storage_class", "usd_per_gb_month")]
    egress: list[EgressPrice] = [egress_from_dict(g, g["where"], Source.SNAPSHOT)
                                 for g in _tiered("egress_", "destination", "usd_per_gb")]
    return Catalog(tuple(compute), tuple(storage), tuple(egress))
