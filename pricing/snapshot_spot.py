"""Refreshing the bundled snapshot's spot rows from gpuhunt's public catalogs of AWS, Azure
and GCP (SPEC 18: the same catalogs tco reads for the GPU clouds).

    python -m tco.pricing.snapshot_spot --provider aws [--from URL_OR_DIR] [--snapshot DIR]

gpuhunt collects each provider's spot prices daily with the provider's own API (AWS: the
lowest, across a region's zones, of each zone's latest spot price, as tco's own AWS refresh
takes it; Azure: the retail API's spot meters, by region; GCP: by zone, and tco keeps a
region's lowest) and publishes them in ``<base>/<provider>/<version>/catalog.zip``. This
rewrites ``compute_<provider>.csv`` in the snapshot folder:

- a spot row of the snapshot that the catalog prices is given the catalog's price, the
  catalog's URL and the item as ``source_ref``, and the catalog version's date as ``as_of``,
  unless the row is already as recent as the catalog;
- where the snapshot prices an instance on demand in a region and has no spot row for it, a
  spot row is added beside the on-demand one (the instance's shape is the on-demand row's);
- every other row stays as it is, with its date: the summary counts the spot rows the catalog
  did not price, by date. Items of instances or regions the snapshot does not list are not
  added (the snapshot lists what tco can describe: GPU class, memory, region coordinates).

It is a maintainer's tool: the snapshot is package data, read by every offline run. Write
what changed into ``SOURCES_<provider>.md`` beside the file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import CatalogError, PricingError
from .files import atomic_write_text
from .gpuclouds import CATALOG_URL, CatalogFile, GpuhuntAdapter
from .models import Provider, Source
from .records import compute_from_row
from .settings import PricingSettings

# tco's provider -> the name of its gpuhunt catalog
SPOT_CATALOGS = {Provider.AWS: "aws", Provider.AZURE: "azure", Provider.GCP: "gcp"}
_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+\d+)-[a-z]$")
# a refreshed spot price this many times the old one, or the old one this many times it, is
# named in the summary: spot moves, but rarely so far in one refresh
MOVED_BY = 1.5


@dataclass(frozen=True)
class SpotQuote:
    """A catalog's spot price of one instance in one region, and the item it came from."""

    usd_per_hour: float
    gpu_count: int
    ref: str


@dataclass
class SpotRefresh:
    """A compute file's rows after the refresh, and what changed."""

    rows: list[dict[str, str]]
    updated: int = 0
    added: int = 0
    newer: int = 0                  # rows already as recent as the catalog
    kept: Counter[str] = field(default_factory=Counter)       # spot rows not priced, by date
    notes: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)   # rows whose price moved by MOVED_BY or more

    def summary(self, path: str, source: CatalogFile) -> list[str]:
        lines = [(f"{path}: {self.updated} spot row(s) updated and {self.added} added from "
                 f"{source.ref} ({source.as_of})")]
        if self.newer:
            lines.append(f"  {self.newer} spot row(s) already as recent as the catalog, kept")
        if self.kept:
            dates = ", ".join(f"{n} of {d}" for d, n in sorted(self.kept.items()))
            lines.append(f"  spot rows the catalog does not price, kept with their dates: "
                         f"{dates}")
        if self.moved:
            lines.append(f"  {len(self.moved)} spot price(s) moved by a factor of {MOVED_BY:g} "
                         f"or more, to check against the provider before committing: "
                         f"{'; '.join(self.moved[:5])}"
                         + (f"; and {len(self.moved) - 5} more" if len(self.moved) > 5 else ""))
        lines += [f"  {note}" for note in self.notes]
        return lines


def region_of(provider: Provider, location: str) -> str:
    """The region of a catalog item's location (GCP lists zones: ``us-central1-a``)."""
    if provider == Provider.GCP:
        m = _ZONE.match(location)
        if m is not None:
            return m.group("region")
    return location


def spot_quotes(items: Sequence[Any], provider: Provider, source: CatalogFile,
                ) -> dict[tuple[str, str], SpotQuote]:
    """The catalog's spot prices by (region, instance), the lowest of a region's zones."""
    out: dict[tuple[str, str], SpotQuote] = {}
    for item in items:
        if not item.spot or not item.price or item.price <= 0 or not item.gpu_count:
            continue
        key = (region_of(provider, item.location), item.instance_name)
        if key not in out or item.price < out[key].usd_per_hour:
            out[key] = SpotQuote(float(item.price), int(item.gpu_count),
                                 f"{source.ref}#{item.instance_name}@{item.location}")
    return out


def refresh_rows(rows: Sequence[dict[str, str]], quotes: dict[tuple[str, str], SpotQuote],
                 as_of: dt.date, where: str) -> SpotRefresh:
    """``rows`` (one compute file's, in order) with their spot prices from ``quotes``."""
    spot = {(r["region"], r["instance_type"]) for r in rows if r["purchase"] == "spot"}
    out = SpotRefresh([])
    mismatched: set[tuple[str, str]] = set()
    used: set[tuple[str, str]] = set()
    day = as_of.isoformat()
    for row in rows:
        key = (row["region"], row["instance_type"])
        quote = quotes.get(key)
        if quote is not None and int(row["gpu_count"]) != quote.gpu_count:
            mismatched.add(key)
            quote = None
        if row["purchase"] == "spot":
            if quote is None:
                out.kept[row["as_of"]] += 1
            elif row["as_of"] >= day:
                out.newer += 1
                used.add(key)
            else:
                was = float(row["recurring_usd_per_hour"])
                if not 1 / MOVED_BY <= quote.usd_per_hour / was <= MOVED_BY:
                    out.moved.append(f"{key[1]} in {key[0]} ${was:g} -> "
                                     f"${quote.usd_per_hour:g}")
                row = {**row, "recurring_usd_per_hour": _price(quote.usd_per_hour),
                       "source_ref": quote.ref, "as_of": day}
                out.updated += 1
                used.add(key)
        out.rows.append(row)
        if row["purchase"] == "on_demand" and quote is not None and key not in spot:
            out.rows.append({**row, "purchase": "spot", "upfront_usd": "0", "term_months": "0",
                             "recurring_usd_per_hour": _price(quote.usd_per_hour),
                             "source_ref": quote.ref, "as_of": day})
            spot.add(key)
            out.added += 1
            used.add(key)
    for n, row in enumerate(out.rows, start=2):
        # every row written must read back as the loader reads it
        compute_from_row(row, f"{where}:{n}", Source.SNAPSHOT)
    left = len(set(quotes) - used - mismatched)
    if left:
        out.notes.append(f"{left} catalog spot price(s) of instances or regions the file does "
                         f"not list, not added")
    if mismatched:
        out.notes.append(f"{len(mismatched)} catalog item(s) with another GPU count than the "
                         f"file's instance, not used: "
                         f"{', '.join(f'{i} in {r}' for r, i in sorted(mismatched)[:5])}")
    return out


def _price(usd: float) -> str:
    return repr(round(usd, 6))


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A compute file's header and rows."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingError(f"{path}: {exc.strerror or exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    needed = {"region", "instance_type", "gpu_count", "purchase", "recurring_usd_per_hour",
              "source_ref", "as_of"}
    if not needed <= set(header):
        raise PricingError(f"{path}: not a snapshot compute file (expected the columns "
                           f"{', '.join(sorted(needed))})")
    return header, [dict(r) for r in reader]


def write_rows(path: Path, header: list[str], rows: Sequence[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def refresh_snapshot(provider: Provider, folder: Path, origin: str | None,
                     settings: PricingSettings) -> list[str]:
    """Refresh ``folder/compute_<provider>.csv``'s spot rows from the provider's gpuhunt
    catalog at ``origin`` (a base URL ending in ``/v3``, or a directory of ``<name>.csv``
    files; the published one by default). Returns the summary's lines."""
    path = folder / f"compute_{provider.value}.csv"
    header, rows = read_rows(path)
    adapter = GpuhuntAdapter(provider, replace(settings, catalog_from=origin),
                             SPOT_CATALOGS[provider])
    with tempfile.TemporaryDirectory(prefix="tco-spot-") as scratch:
        source, items, skipped = adapter.read(Path(scratch))
    result = refresh_rows(rows, spot_quotes(items, provider, source), source.as_of, str(path))
    write_rows(path, header, result.rows)
    return [*result.summary(str(path), source), *(f"  {line}" for line in skipped)]


def _snapshot_folder() -> Path:
    return Path(str(resources.files("tco.pricing").joinpath("data", "snapshot")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tco.pricing.snapshot_spot",
        description="Refresh the snapshot's spot rows from gpuhunt's public catalogs.")
    parser.add_argument("--provider", action="append", required=True,
                        choices=[p.value for p in SPOT_CATALOGS])
    parser.add_argument("--from", dest="origin", metavar="URL_OR_DIR",
                        help=f"a base URL ending in /v3 (default {CATALOG_URL}) or a directory "
                             f"of <provider>.csv files with <provider>.version beside")
    parser.add_argument("--snapshot", type=Path, default=None,
                        help="the snapshot folder (default: the installed package's)")
    args = parser.parse_args(argv)
    folder = args.snapshot or _snapshot_folder()
    settings = PricingSettings.from_env()
    status = 0
    for name in args.provider:
        try:
            lines = refresh_snapshot(Provider(name), folder, args.origin, settings)
        except (PricingError, CatalogError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 3
            continue
        print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
