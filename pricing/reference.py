"""Reference facts shipped as data files: GPU classes, region and metro coordinates.

Each file under ``pricing/data/`` carries a source per row (see ``data/FORMAT.md``).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

_DATA = "data"


def _rows(name: str) -> list[dict[str, str]]:
    path = resources.files("tco.pricing").joinpath(_DATA, name)
    with io.StringIO(path.read_text(encoding="utf-8"), newline="") as fh:
        return [
            {k.strip(): (v or "").strip() for k, v in row.items() if k}
            for row in csv.DictReader(line for line in fh if not line.startswith("#"))
        ]


@dataclass(frozen=True)
class GpuClass:
    """One GPU class (``gpus.csv``). ``memory_gib`` is the vendor's published figure per GPU
    (80 for H100 SXM; vendors print it as GB); the compute and bandwidth figures are ``None``
    where no vendor publishes them (the A10G)."""

    name: str
    vendor: str
    memory_gib: float
    source: str
    bf16_dense_tflops: float | None = None   # peak dense BF16 tensor (FP16 for T4 and V100)
    memory_bandwidth_gbps: float | None = None
    tdp_w: float | None = None
    as_of: str = ""


def _number(text: str) -> float | None:
    return float(text) if text else None


@dataclass(frozen=True)
class Place:
    """A point on the map: a cloud region or a user metro."""

    key: str
    name: str
    lat: float
    lon: float
    source: str


@cache
def gpu_classes() -> dict[str, GpuClass]:
    return {r["gpu"]: GpuClass(r["gpu"], r["vendor"], float(r["memory_gib"]), r["source"],
                               _number(r.get("bf16_dense_tflops", "")),
                               _number(r.get("memory_bandwidth_gbps", "")),
                               _number(r.get("tdp_w", "")), r.get("as_of", ""))
            for r in _rows("gpus.csv")}


@cache
def regions() -> dict[tuple[str, str], Place]:
    """``(provider, region) -> Place``."""
    return {(r["provider"], r["region"]): Place(r["region"], r["location"], float(r["lat"]),
                                                 float(r["lon"]), r["source"])
            for r in _rows("regions.csv")}


@cache
def metros() -> dict[str, Place]:
    return {r["metro"]: Place(r["metro"], r["name"], float(r["lat"]), float(r["lon"]), r["source"])
            for r in _rows("metros.csv")}


@dataclass(frozen=True)
class InstanceFacts:
    """What one instance type / VM size is: its GPUs (class, count, GiB each), vCPUs, memory."""

    instance_type: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float
    vcpus: int
    memory_gib: float


@cache
def instance_facts(provider: str) -> dict[str, InstanceFacts]:
    """``data/instances_<provider>.csv``: instance type -> GPU facts (each row sourced)."""
    out: dict[str, InstanceFacts] = {}
    for r in _rows(f"instances_{provider}.csv"):
        if r.get("provider", provider) != provider:
            continue
        out[r["instance_type"]] = InstanceFacts(r["instance_type"], r["gpu"], int(r["gpu_count"]),
                                                float(r["gpu_memory_gib"]), int(r["vcpus"]),
                                                float(r["memory_gib"]))
    return out


EARTH_RADIUS_KM = 6371.0
FIBRE_KM_PER_MS = 200.0
ROUTE_FACTOR = 1.5
BASE_RTT_MS = 2.0


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a sphere of radius 6371 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def estimated_rtt_ms(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Round trip: ``2 ms + 2 * great_circle_km * 1.5 / 200 km/ms`` (SPEC 6)."""
    km = great_circle_km(lat1, lon1, lat2, lon2)
    return BASE_RTT_MS + 2 * km * ROUTE_FACTOR / FIBRE_KM_PER_MS


@dataclass(frozen=True)
class MfuFigure:
    """A published training run's model FLOPs utilization on one GPU class (``mfu.csv``)."""

    gpu: str
    mfu: float
    model_params_b: float
    gpus_used: int
    source: str
    as_of: str
    note: str


@cache
def mfu_defaults() -> dict[str, MfuFigure]:
    """GPU class -> the default training MFU, from a published run (each row sourced)."""
    return {r["gpu"]: MfuFigure(r["gpu"], float(r["mfu"]), float(r["model_params_b"]),
                                int(r["gpus_used"]), r["source"], r["as_of"], r["note"])
            for r in _rows("mfu.csv")}


@dataclass(frozen=True)
class ThroughputFigure:
    """Measured output tokens/s per GPU serving one model size at one weight precision
    (``throughput.csv``): the replica's total divided by its GPUs."""

    gpu: str
    model_params_b: float
    precision: str                       # the weights' format: fp16 (also bf16), fp8, fp4
    gpus_per_replica: int
    tokens_per_s_per_gpu: float
    isl: int | None                      # input/output tokens per request; None: a dataset
    osl: int | None
    engine: str
    default: bool                        # the row tco sizes with for its class, size, precision
    source: str
    as_of: str
    note: str


@cache
def throughput_figures() -> tuple[ThroughputFigure, ...]:
    return tuple(ThroughputFigure(
        r["gpu"], float(r["model_params_b"]), r["precision"], int(r["gpus_per_replica"]),
        float(r["output_tokens_per_s_per_gpu"]), int(r["isl"]) if r["isl"] else None,
        int(r["osl"]) if r["osl"] else None, r["engine"], r["default"] == "yes", r["source"],
        r["as_of"], r["note"]) for r in _rows("throughput.csv"))
