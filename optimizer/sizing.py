"""Workloads sized from their models (SPEC 14): GPU-hours from parameters and tokens, GPUs
from output tokens per second.

Training on class c takes ``6 × params × tokens / (peak_c × mfu_c × 3600)`` GPU-hours, peak_c
the dense BF16 peak of ``gpus.csv`` and mfu_c the plan's ``mfu`` or the class's published
figure (``mfu.csv``). Serving takes ``tokens_per_second / throughput_c`` GPUs, throughput_c the
plan's ``throughput`` or the measured output tokens/s per GPU of ``throughput.csv`` at the
model's precision, scaled between the measured model sizes (see :func:`table_throughput`).

The first class that can be sized is the workload's reference: its GPU-hours (or GPUs) are the
workload's demand, and every class's speed is its rate relative to the reference, so the
optimizer's GPU-hours on class c are exactly the formula's. A class that cannot be sized (no
published peak, MFU or throughput) is left out with the reason; an inference workload also
records the memory its weights need (``params × bytes × 1.2``), which rules out instances and
servers whose GPUs together hold less (``venues.offers_for``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tco.pricing.reference import ThroughputFigure, gpu_classes, mfu_defaults, throughput_figures

from .planfile import BYTES, Precision, WorkloadKind, WorkloadSection

__all__ = ["DEFAULT_PRECISION", "MEMORY_OVERHEAD", "ClassSize", "Sizing", "SizingError",
           "size_workload", "table_throughput", "weights_gb"]

# weights plus 20% for the KV cache, activations and the runtime (SPEC 14)
MEMORY_OVERHEAD = 1.2
DEFAULT_PRECISION = Precision.BF16
SECONDS_PER_HOUR = 3600.0
# the precision whose measured rows size a model of each weight format (bf16 and fp16 weights
# are the same size and run on the same tensor cores)
_TABLE_PRECISION = {Precision.BF16: "fp16", Precision.FP16: "fp16", Precision.FP8: "fp8",
                    Precision.FP4: "fp4"}
_TABLE = "pricing/data/throughput.csv"


class SizingError(ValueError):
    """No acceptable class of a workload could be sized; the message names each reason."""


@dataclass(frozen=True)
class ClassSize:
    """One acceptable class of a sized workload: what it needs, from which figure."""

    gpu: str
    amount: float | None      # training: GPU-hours per run; inference: GPUs in the first month
    speed: float | None       # rate relative to the reference class
    figure: str               # the class's figures, as the formula used them
    source: str               # where those figures come from
    min_gpus: int | None = None    # inference: GPUs an instance or server needs for the weights
    excluded: str | None = None
    rate: float | None = None      # training: model FLOP/s per GPU; inference: tokens/s per GPU

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu, "amount": None if self.amount is None else round(self.amount, 4),
                "speed": None if self.speed is None else round(self.speed, 6),
                "figure": self.figure, "source": self.source, "min_gpus": self.min_gpus,
                "excluded": self.excluded,
                "rate": None if self.rate is None else round(self.rate, 4)}


@dataclass(frozen=True)
class Sizing:
    """How one workload's demand was derived from its model."""

    workload: str
    kind: WorkloadKind
    quantity: str             # "gpu_hours" (per run) or "gpus"
    basis: str                # the model's figures: FLOPs per run, or traffic and weights
    classes: tuple[ClassSize, ...]
    weights_gb: float | None = None
    every_months: int | None = None
    demand: float = 0.0       # training: model FLOPs per run; inference: output tokens/s

    @property
    def reference(self) -> ClassSize:
        return next(c for c in self.classes if c.excluded is None)

    @property
    def speeds(self) -> dict[str, float]:
        return {c.gpu: c.speed for c in self.classes if c.speed is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "kind": self.kind.value, "quantity": self.quantity,
                "basis": self.basis, "reference": self.reference.gpu,
                "weights_gb": None if self.weights_gb is None else round(self.weights_gb, 3),
                "every_months": self.every_months, "demand": self.demand,
                "classes": [c.to_dict() for c in self.classes]}


def _count(x: float) -> str:
    """70e9 -> 70B, 1.5e12 -> 1.5T: how model sizes and token counts are spoken of."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if x >= scale:
            return f"{x / scale:,.4g}{suffix}"
    return f"{x:,.4g}"


def weights_gb(params: float, precision: Precision) -> float:
    """GB an inference replica needs: ``params × bytes(precision) × 1.2``."""
    return params * BYTES[precision] * MEMORY_OVERHEAD / 1e9


def size_workload(w: WorkloadSection) -> Sizing | None:
    """The sizing of a workload that gives a model (None for one that gives GPU-hours or GPUs);
    raises :class:`SizingError` when no class can be sized."""
    if w.model is None:
        return None
    sizing = _training(w) if w.kind == WorkloadKind.TRAINING else _inference(w)
    if all(c.excluded is not None for c in sizing.classes):
        raise SizingError("no GPU class can be sized: " + "; ".join(
            f"{c.gpu}: {c.excluded}" for c in sizing.classes))
    return sizing


def _relative(sizing_classes: list[ClassSize], rate: dict[str, float]) -> tuple[ClassSize, ...]:
    """Speeds relative to the first class that could be sized."""
    ref = next((c.gpu for c in sizing_classes if c.excluded is None), None)
    if ref is None:
        return tuple(sizing_classes)
    return tuple(c if c.excluded is not None else ClassSize(
        c.gpu, c.amount, rate[c.gpu] / rate[ref], c.figure, c.source, c.min_gpus,
        rate=rate[c.gpu]) for c in sizing_classes)


def _training(w: WorkloadSection) -> Sizing:
    assert w.model is not None and w.model.tokens is not None
    params, tokens = w.model.params, w.model.tokens
    flops = 6.0 * params * tokens
    out: list[ClassSize] = []
    rate: dict[str, float] = {}
    for gpu in w.classes:
        spec = gpu_classes()[gpu]
        peak = spec.bf16_dense_tflops
        if peak is None:
            out.append(ClassSize(gpu, None, None, "", spec.source, excluded=(
                f"no published dense BF16 peak for {gpu} (pricing/data/gpus.csv)")))
            continue
        mfu, mfu_source = _mfu(w, gpu)
        if mfu is None:
            out.append(ClassSize(gpu, None, None, "", "", excluded=(
                f"no published training MFU for {gpu} (pricing/data/mfu.csv); give "
                f"mfu = {{ {gpu} = ... }}")))
            continue
        kind = "FP16" if gpu in ("T4", "V100") else "BF16"
        rate[gpu] = peak * 1e12 * mfu
        hours = flops / (rate[gpu] * SECONDS_PER_HOUR)
        out.append(ClassSize(gpu, hours, None,
                             f"{peak:,.6g} TFLOPS dense {kind} x MFU {mfu:.4g}",
                             f"peak: {spec.source.split()[0]} (pricing/data/gpus.csv); "
                             f"MFU: {mfu_source}"))
    runs = ("" if not w.every_months else ", every month" if w.every_months == 1 else
            f", every {w.every_months} months")
    basis = (f"6 x {_count(params)} params x {_count(tokens)} tokens = {flops:.4g} FLOPs per "
             f"run{runs}")
    return Sizing(w.name, w.kind, "gpu_hours", basis, _relative(out, rate),
                  every_months=w.every_months, demand=flops)


def _mfu(w: WorkloadSection, gpu: str) -> tuple[float | None, str]:
    if isinstance(w.mfu, float | int):
        return float(w.mfu), "the plan (mfu)"
    if isinstance(w.mfu, dict) and gpu in w.mfu:
        return w.mfu[gpu], f"the plan (mfu.{gpu})"
    fig = mfu_defaults().get(gpu)
    if fig is None:
        return None, ""
    return fig.mfu, (f"{fig.source} ({fig.as_of}; {fig.model_params_b:g}B model on "
                     f"{fig.gpus_used} GPUs)")


def _inference(w: WorkloadSection) -> Sizing:
    assert w.model is not None and w.tokens_per_second is not None
    precision = w.model.precision or DEFAULT_PRECISION
    need = weights_gb(w.model.params, precision)
    tps = w.tokens_per_second
    out: list[ClassSize] = []
    rate: dict[str, float] = {}
    for gpu in w.classes:
        memory = gpu_classes()[gpu].memory_gib
        min_gpus = max(1, math.ceil(need / memory - 1e-9))
        if w.throughput is not None and gpu in w.throughput:
            per_gpu = w.throughput[gpu]
            figure = f"{per_gpu:,.6g} output tokens/s per GPU"
            source = f"the plan (throughput.{gpu})"
        else:
            found = table_throughput(gpu, w.model.params, precision)
            if found is None:
                out.append(ClassSize(gpu, None, None, "", "", min_gpus, excluded=(
                    f"no measured throughput for {gpu} serving {precision.value} weights in "
                    f"{_TABLE}; give throughput = {{ {gpu} = ... }}")))
                continue
            per_gpu, figure, source = found
        rate[gpu] = per_gpu
        out.append(ClassSize(gpu, tps / per_gpu, None, figure, source, min_gpus))
    basis = (f"{tps:,.6g} output tokens/s; weights {_count(w.model.params)} params x "
             f"{BYTES[precision]:g} B ({precision.value}) x {MEMORY_OVERHEAD:g} = {need:,.1f} GB")
    return Sizing(w.name, w.kind, "gpus", basis, _relative(out, rate), weights_gb=need,
                  demand=tps)


def table_throughput(gpu: str, params: float,
                     precision: Precision) -> tuple[float, str, str] | None:
    """Output tokens/s per GPU for a model of ``params`` at ``precision`` on ``gpu``, from the
    default rows of ``throughput.csv``, with how it was found and its sources.

    At a measured size, the measurement. Between two measured sizes, interpolated on a log-log
    line (throughput falls as a power of model size). Below the smallest, the smallest's figure
    (a smaller model is not assumed faster than measured). Above the largest, the largest's
    figure scaled by ``largest / params`` (decoding reads every weight once per step)."""
    key = _TABLE_PRECISION.get(precision)
    if key is None:
        return None
    rows = sorted((f for f in throughput_figures()
                   if f.default and f.gpu == gpu and f.precision == key),
                  key=lambda f: f.model_params_b)
    if not rows:
        return None
    size = params / 1e9
    lo = max((f for f in rows if f.model_params_b <= size), default=None,
             key=lambda f: f.model_params_b)
    hi = min((f for f in rows if f.model_params_b >= size), default=None,
             key=lambda f: f.model_params_b)
    if lo is not None and hi is not None and lo.model_params_b == hi.model_params_b:
        return lo.tokens_per_s_per_gpu, f"measured {_measured(lo)}", _cite(lo)
    if lo is not None and hi is not None:
        slope = (math.log(hi.tokens_per_s_per_gpu / lo.tokens_per_s_per_gpu)
                 / math.log(hi.model_params_b / lo.model_params_b))
        value = lo.tokens_per_s_per_gpu * (size / lo.model_params_b) ** slope
        return value, (f"{value:,.1f} output tokens/s per GPU, log-log between "
                       f"{_measured(lo)} and {_measured(hi)}"), f"{_cite(lo)}; {_cite(hi)}"
    if hi is not None:
        return hi.tokens_per_s_per_gpu, (
            f"{_measured(hi)}, the smallest size measured (not scaled up)"), _cite(hi)
    assert lo is not None
    value = lo.tokens_per_s_per_gpu * lo.model_params_b / size
    return value, (f"{value:,.1f} output tokens/s per GPU = {_measured(lo)} x "
                   f"{lo.model_params_b:g}B / {size:g}B"), _cite(lo)


def _measured(f: ThroughputFigure) -> str:
    shape = f", {f.isl}/{f.osl} tokens in/out" if f.isl else ""
    return (f"{f.tokens_per_s_per_gpu:,.1f} tokens/s per GPU at {f.model_params_b:g}B "
            f"{f.precision} ({f.engine}{shape}, {f.gpus_per_replica} GPU replica)")


def _cite(f: ThroughputFigure) -> str:
    return f"{f.source} ({f.as_of})"
