"""Live prices of the GPU clouds gpuhunt publishes catalogs for (SPEC 18): Lambda, Nebius,
RunPod and OCI.

The ``gpuhunt`` package publishes one catalog per provider, collected daily, at
``<base>/<provider>/<version>/catalog.zip`` (``<base>`` ends in ``/v3``; the latest version is
named in ``<base>/<provider>/version`` as ``YYYYMMDD-<run>``). Reading one needs no
credentials. This adapter downloads one provider's catalog through tco's HTTP session (cached,
retried, offline-aware) and lets gpuhunt read it (``GPUHUNT_CATALOG_DIR``): gpuhunt knows its
own layout. ``--from`` (``PricingSettings.catalog_from``) names another base URL, or a
directory of ``<provider>.csv`` files for air-gapped sites.

A record's ``as_of`` is the catalog version's date (for a directory: ``<provider>.version``
beside the file when there is one, else the file's modification date) and its ``source_ref``
names the catalog and the item. tco's ``lambda`` is gpuhunt's ``lambdalabs``.

What is kept: GPU items whose class tco knows (``gpus.csv``), on demand or spot (OCI's spot
items are Oracle's documented 50% preemptible discount). Left out, and counted in a warning:
RunPod's cluster offers (sold as 2 to 8 pods) and CPU-only items, and GPUs tco has no class for
(an H100 PCIe card is not the SXM part that class ``H100`` means). The catalogs carry no
storage or egress prices: those stay the snapshot's (``pricing/data/snapshot``).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import tempfile
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import FetchResult, Progress
from .errors import PricingError
from .models import ComputePrice, Provider, Purchase, Source
from .reference import gpu_classes
from .settings import PricingSettings

CATALOG_URL = "https://dstack-gpu-pricing.s3.eu-west-1.amazonaws.com/v3"
# tco's provider name -> gpuhunt's
GPUHUNT_NAMES = {Provider.LAMBDA: "lambdalabs", Provider.NEBIUS: "nebius",
                 Provider.RUNPOD: "runpod", Provider.OCI: "oci"}
# flags of items that are valid offers of another kind than an instance by the hour
SKIPPED_FLAGS = {"runpod-cluster": "cluster offers (2 to 8 pods)", "runpod-cpu": "CPU-only"}
_VERSION = re.compile(r"^(\d{8})(?:-.*)?$")
# gpuhunt reads GPUHUNT_CATALOG_DIR from the environment when queried: one query at a time
_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class CatalogFile:
    """One provider's gpuhunt catalog, on disk, and where and when it was published."""

    path: Path
    ref: str            # the URL or path it came from
    as_of: dt.date


def version_date(version: str, where: str) -> dt.date:
    """The date of a catalog version ``YYYYMMDD-<run>``."""
    m = _VERSION.match(version.strip())
    if m is None:
        raise PricingError(f"{where}: expected a catalog version like 20261201-1, got "
                           f"{version.strip()[:40]!r}")
    try:
        return dt.datetime.strptime(m.group(1), "%Y%m%d").date()
    except ValueError as exc:
        raise PricingError(f"{where}: {version.strip()!r} does not start with a date") from exc


def gpu_class(gpu_name: str | None, gpu_memory_gb: float | None, instance: str) -> str | None:
    """tco's GPU class for a gpuhunt item, or None when tco has no class for that part.

    gpuhunt names the chip (``H100``, ``A100``) and gives one GPU's memory in GB; the memory
    tells the A100s apart and the 94 GB H100 NVL from the 80 GB SXM part. A PCIe H100 or H200
    (named so in the instance) is a slower card than the SXM part its class means."""
    if not gpu_name:
        return None
    name = gpu_name.upper().replace(" ", "")
    classes = gpu_classes()
    memory = gpu_memory_gb or 0.0
    if name in ("H100", "H200") and re.search(r"pcie|nvl", instance, re.IGNORECASE):
        return "H100-NVL" if name == "H100" and "nvl" in instance.lower() else None
    if name == "H100" and round(memory) == 94:
        return "H100-NVL"
    if name == "A100":
        return "A100-80GB" if memory >= 60 else "A100-40GB"
    if name in classes and (memory <= 0 or abs(memory - classes[name].memory_gib)
                            <= 0.15 * classes[name].memory_gib):
        return name
    return None


def _unclassed(gpu_name: str | None, gpu_memory_gb: float | None, instance: str) -> str:
    """Why a GPU item has no class, in a few words."""
    if gpu_name and re.search(r"pcie|nvl", instance, re.IGNORECASE):
        return f"{gpu_name} PCIe or NVL cards (class {gpu_name.upper()} is the SXM part)"
    memory = f" ({gpu_memory_gb:g} GB)" if gpu_memory_gb else ""
    return f"{gpu_name}{memory}: no GPU class in gpus.csv"


def records(items: Sequence[Any], provider: str, source: CatalogFile,
            regions: Sequence[str] | None = None) -> tuple[list[ComputePrice], list[str]]:
    """gpuhunt ``CatalogItem``s as compute records, and a warning per kind left out."""
    out: list[ComputePrice] = []
    skipped: Counter[str] = Counter()
    wanted = set(regions) if regions else None
    for item in items:
        if wanted is not None and item.location not in wanted:
            continue
        flags = [f for f in item.flags if f in SKIPPED_FLAGS]
        if flags:
            skipped[SKIPPED_FLAGS[flags[0]]] += 1
            continue
        if not item.gpu_count:
            skipped["CPU-only"] += 1
            continue
        gpu = gpu_class(item.gpu_name, item.gpu_memory, item.instance_name)
        if gpu is None:
            skipped[_unclassed(item.gpu_name, item.gpu_memory, item.instance_name)] += 1
            continue
        if not item.price or item.price <= 0:
            skipped["no price"] += 1
            continue
        # RunPod names a pod by its GPU type, whatever the number of GPUs
        name = (f"{item.gpu_count}x {item.instance_name}" if provider == Provider.RUNPOD
                else item.instance_name)
        out.append(ComputePrice(
            provider=provider, region=item.location, instance_type=name, gpu=gpu,
            gpu_count=int(item.gpu_count),
            gpu_memory_gib=float(item.gpu_memory or gpu_classes()[gpu].memory_gib),
            vcpus=int(item.cpu or 0), memory_gib=float(item.memory or 0.0),
            purchase=Purchase.SPOT if item.spot else Purchase.ON_DEMAND,
            usd_per_hour=float(item.price), upfront_usd=0.0, term_months=0,
            source=Source.LIVE, source_ref=f"{source.ref}#{item.instance_name}@{item.location}",
            as_of=source.as_of))
    warnings = [f"{provider}: left out {n} item(s) of the catalog: {why}"
                for why, n in sorted(skipped.items())]
    return _cheapest(out), warnings


def _cheapest(recs: list[ComputePrice]) -> list[ComputePrice]:
    """One record per (region, instance, purchase): a catalog may list an offer twice (RunPod
    by data center and by country); the cheapest is what a buyer would take."""
    best: dict[tuple[str, str, Purchase], ComputePrice] = {}
    for r in recs:
        key = (r.region, r.instance_type, r.purchase)
        if key not in best or r.usd_per_hour < best[key].usd_per_hour:
            best[key] = r
    return sorted(best.values(), key=lambda r: (r.region, r.instance_type, r.purchase.value))


@contextmanager
def _catalog_dir(folder: Path) -> Iterator[None]:
    """``GPUHUNT_CATALOG_DIR`` set to ``folder`` while gpuhunt reads it."""
    with _ENV_LOCK:
        before = os.environ.get("GPUHUNT_CATALOG_DIR")
        os.environ["GPUHUNT_CATALOG_DIR"] = str(folder)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("GPUHUNT_CATALOG_DIR", None)
            else:
                os.environ["GPUHUNT_CATALOG_DIR"] = before


class _Skipped(logging.Handler):
    """What gpuhunt logs of the rows it skips while reading a catalog."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def read_items(folder: Path, name: str) -> tuple[list[Any], list[str]]:
    """gpuhunt's reading of ``folder/<name>.csv`` (every item, unfiltered), and a warning
    about the rows it skipped as malformed. A file of which gpuhunt reads nothing is an error."""
    import gpuhunt

    path = folder / f"{name}.csv"
    skipped = _Skipped()
    log = logging.getLogger("gpuhunt")
    log.addHandler(skipped)
    try:
        with _catalog_dir(folder):
            catalog = gpuhunt.Catalog(balance_resources=False, auto_reload=False)
            items = list(catalog.query(provider=name))
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise PricingError(f"{path}: not a gpuhunt catalog ({type(exc).__name__}: {exc})") \
            from exc
    finally:
        log.removeHandler(skipped)
    if skipped.lines and not items:
        raise PricingError(f"{path}: not a gpuhunt catalog ({skipped.lines[0]})")
    warnings = [(f"{path.name}: gpuhunt skipped {len(skipped.lines)} malformed row(s), the "
                 f"first: {skipped.lines[0]}")] if skipped.lines else []
    return items, warnings


class GpuhuntAdapter:
    """One provider's prices from its published gpuhunt catalog (or a copy of it)."""

    def __init__(self, provider: Provider, settings: PricingSettings,
                 gpuhunt_name: str | None = None) -> None:
        self.name = provider.value
        self.gpuhunt_name = gpuhunt_name or GPUHUNT_NAMES[provider]
        self.settings = settings
        self.origin = (settings.catalog_from or os.environ.get("GPUHUNT_CATALOG_URL")
                       or CATALOG_URL).rstrip("/")

    @property
    def endpoint(self) -> str | None:
        return self.origin if self.origin.startswith(("http://", "https://")) else None

    def fetch(self, regions: Sequence[str] | None = None,
              progress: Progress | None = None) -> FetchResult:
        with tempfile.TemporaryDirectory(prefix="tco-gpuhunt-") as scratch:
            source, items, skipped = self.read(Path(scratch), progress)
        compute, warnings = records(items, self.name, source, regions)
        warnings = [f"{self.name}: {line}" for line in skipped] + warnings
        if progress:
            progress(f"{self.name}: {len(compute)} offers, catalog of {source.as_of}")
        return FetchResult(compute=compute, warnings=warnings)

    def read(self, scratch: Path, progress: Progress | None = None,
             ) -> tuple[CatalogFile, list[Any], list[str]]:
        """The catalog (downloaded into ``scratch`` when it is published), every item gpuhunt
        reads in it, and a warning about the rows it skipped."""
        if self.endpoint is None:
            source = self._local(Path(self.origin))
        else:
            if progress:
                progress(f"{self.name}: downloading gpuhunt's {self.gpuhunt_name} catalog")
            source = self._download(scratch)
        items, skipped = read_items(source.path.parent, self.gpuhunt_name)
        return source, items, skipped

    def _local(self, folder: Path) -> CatalogFile:
        path = folder / f"{self.gpuhunt_name}.csv"
        if not path.is_file():
            raise PricingError(f"{path}: no such file (--from takes a base URL ending in /v3 "
                               f"or a directory of <provider>.csv files, as gpuhunt writes "
                               f"them; {self.name} is {self.gpuhunt_name}.csv)")
        stamp = folder / f"{self.gpuhunt_name}.version"
        if stamp.is_file():
            as_of = version_date(stamp.read_text(encoding="utf-8"), str(stamp))
        else:
            as_of = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()
        return CatalogFile(path, str(path), as_of)

    def _download(self, scratch: Path) -> CatalogFile:
        from .http import http_session

        session = http_session(self.settings)
        base = f"{self.origin}/{self.gpuhunt_name}"
        version = self._get(session, f"{base}/version").decode("utf-8", "replace").strip()
        as_of = version_date(version, f"{base}/version")
        url = f"{base}/{version}/catalog.zip"
        data = self._get(session, url)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                text = archive.read(f"{self.gpuhunt_name}.csv")
        except (zipfile.BadZipFile, KeyError) as exc:
            raise PricingError(f"{url}: not a gpuhunt catalog ({exc})") from exc
        path = scratch / f"{self.gpuhunt_name}.csv"
        path.write_bytes(text)
        return CatalogFile(path, url, as_of)

    def _get(self, session: Any, url: str) -> bytes:
        import requests

        try:
            response = session.get(url, timeout=self.settings.timeout_s)
        except requests.RequestException as exc:
            raise PricingError(f"{url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise PricingError(f"{url}: HTTP {response.status_code}")
        content: bytes = response.content
        return content


def _factory(provider: Provider) -> Any:
    def from_env(settings: PricingSettings) -> GpuhuntAdapter:
        """No credentials: the catalogs are public."""
        return GpuhuntAdapter(provider, settings)
    return from_env


lambda_from_env = _factory(Provider.LAMBDA)
nebius_from_env = _factory(Provider.NEBIUS)
runpod_from_env = _factory(Provider.RUNPOD)
oci_from_env = _factory(Provider.OCI)
