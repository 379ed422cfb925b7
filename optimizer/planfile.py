"""The plan file as written (``workload.toml``, SPEC section 4): its schema and its checks.

Validation is pydantic's (types, ranges, unknown keys); cross-references (``data_at``,
``existing.server``, metros, GPU classes) and windows are checked afterwards. Every error
names the file and the key path (``workloads[2].gpu_hours``; list indices count from 0). Keys
left out stay ``None`` here; ``plan.resolve`` fills them from the defaults table.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import tomllib
import typing
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tco.pricing.models import CLOUD_PURCHASES, DEFAULT_PROVIDERS, Provider, Purchase
from tco.pricing.names import did_you_mean
from tco.pricing.reference import gpu_classes, metros, regions
from tco.pricing.settings import Refresh
from tco.pricing.snapshot import load_snapshot

from .errors import PlanError
from .months import month_label, month_offset, parse_month
from .solver import SolverName

Fraction = Annotated[float, Field(ge=0, le=1)]
Availability = Annotated[float, Field(gt=0, lt=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class WorkloadKind(StrEnum):
    TRAINING = "training"
    INFERENCE = "inference"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSection(_Strict):
    name: str = "unnamed plan"
    start: str
    months: Annotated[int, Field(gt=0, le=240)]
    discount_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    capex_budget_usd: NonNegative | None = None
    solver: SolverName = SolverName.HIGHS
    mip_gap: Annotated[float, Field(ge=0, le=0.1)] = 0.01
    # the calendar month a fiscal year starts in (SPEC 20); a year is named by the calendar
    # year it ends in
    fiscal_year_start: Annotated[int, Field(ge=1, le=12)] = 1

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        parse_month(v)
        return v


class QuotaEntry(_Strict):
    provider: Provider
    region: str
    gpu: str
    max_gpus: Annotated[int, Field(ge=0)]


class QuoteEntry(_Strict):
    """``[[cloud.quotes]]``: a negotiated offer of ``gpus`` GPUs for ``months`` months."""

    name: str
    provider: str
    gpu: str
    location: str
    gpus: PositiveInt
    usd_per_gpu_hour: NonNegative
    start: str
    months: PositiveInt
    upfront_usd: NonNegative = 0.0
    optional: bool = True
    as_of: dt.date


class CloudSection(_Strict):
    providers: list[Provider] = Field(default_factory=lambda: list(DEFAULT_PROVIDERS))
    regions: list[str] | None = None
    purchase_options: list[Purchase] = Field(default_factory=lambda: list(CLOUD_PURCHASES))
    discounts: dict[Provider, Fraction] = Field(default_factory=dict)
    quotas: list[QuotaEntry] = Field(default_factory=list)
    quotes: list[QuoteEntry] = Field(default_factory=list)
    region_availability: Availability | None = None
    commit_every_months: Annotated[int, Field(ge=1, le=12)] | None = None

    @field_validator("purchase_options")
    @classmethod
    def _cloud_purchases(cls, values: list[Purchase]) -> list[Purchase]:
        for v in values:
            if v not in CLOUD_PURCHASES:
                raise ValueError(f"'{v.value}' is not a cloud purchase option; expected one "
                                 f"of {', '.join(p.value for p in CLOUD_PURCHASES)}")
        return values


class PricesSection(_Strict):
    refresh: Refresh = Refresh.AUTO


class LatLon(_Strict):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class ExistingEntry(_Strict):
    server: str
    count: PositiveInt
    age_months: Annotated[int, Field(ge=0)] = 0


class SiteSection(_Strict):
    name: str
    location: str | LatLon
    power_kw: Positive | None = None
    pue: Annotated[float, Field(ge=1, le=5)] | None = None
    electricity_usd_per_kwh: NonNegative | None = None
    colo_usd_per_kw_month: NonNegative | None = None
    staff_usd_per_server_month: NonNegative | None = None
    storage_usd_per_tb_month: NonNegative | None = None
    egress_usd_per_gb: NonNegative | None = None
    availability: Availability | None = None
    existing: list[ExistingEntry] = Field(default_factory=list)


class FinancingKind(StrEnum):
    LEASE = "lease"
    LOAN = "loan"


class FinancingEntry(_Strict):
    """How a server type may be financed instead of bought outright (SPEC 20): a lease
    (``months``, ``usd_per_month`` paid in advance from arrival, optional ``buyout_usd`` at
    its end) or a loan (``rate`` a year, ``months``, ``down_fraction`` paid at arrival)."""

    kind: FinancingKind
    months: PositiveInt
    usd_per_month: NonNegative | None = None
    buyout_usd: NonNegative | None = None
    rate: Annotated[float, Field(ge=0, le=1)] | None = None
    down_fraction: Fraction | None = None

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> FinancingEntry:
        if self.kind == FinancingKind.LEASE:
            if self.usd_per_month is None:
                raise ValueError("a lease needs usd_per_month")
            if self.rate is not None or self.down_fraction is not None:
                raise ValueError("rate and down_fraction are a loan's, not a lease's")
        else:
            if self.rate is None:
                raise ValueError("a loan needs rate (a year, 0.07 is 7%)")
            if self.usd_per_month is not None or self.buyout_usd is not None:
                raise ValueError("usd_per_month and buyout_usd are a lease's, not a loan's")
        return self


class ServerSection(_Strict):
    name: str
    gpu: str
    gpus: PositiveInt
    price_usd: Positive
    network_usd: NonNegative | None = None
    power_kw: Positive
    idle_power_fraction: Fraction | None = None
    useful_life_months: PositiveInt | None = None
    residual_fraction: Fraction | None = None
    resale_retention_per_year: Annotated[float, Field(gt=0, le=1)] | None = None
    resale_fee_fraction: Fraction | None = None
    decommission_usd: NonNegative | None = None
    maintenance_rate: Fraction | None = None
    lead_time_months: Annotated[int, Field(ge=0)] | None = None
    max_utilization: Annotated[float, Field(gt=0, le=1)] | None = None
    available_from: str | None = None
    financing: FinancingEntry | None = None

    @field_validator("available_from")
    @classmethod
    def _month(cls, v: str | None) -> str | None:
        if v is not None:
            parse_month(v)
        return v


class OnPremSection(_Strict):
    sites: list[SiteSection] = Field(default_factory=list)
    servers: list[ServerSection] = Field(default_factory=list)
    order_every_months: Annotated[int, Field(ge=1, le=12)] | None = None


class Precision(StrEnum):
    """The format of a served model's weights (SPEC 14); bytes per parameter in ``BYTES``."""

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    FP4 = "fp4"
    INT4 = "int4"


BYTES: dict[Precision, float] = {
    Precision.FP32: 4.0, Precision.BF16: 2.0, Precision.FP16: 2.0, Precision.FP8: 1.0,
    Precision.INT8: 1.0, Precision.FP4: 0.5, Precision.INT4: 0.5}


class ModelSpec(_Strict):
    """``model = { params = 70e9, tokens = 1.5e12 }`` (training) or ``{ params = 8e9,
    precision = "bf16" }`` (inference)."""

    params: Positive
    tokens: Positive | None = None
    precision: Precision | None = None


MfuValue = Annotated[float, Field(gt=0, le=1)]


class WorkloadSection(_Strict):
    name: str
    kind: WorkloadKind
    gpu: str | list[str] | dict[str, Positive]
    gpu_hours: Positive | None = None
    gpus: Positive | None = None
    model: ModelSpec | None = None
    mfu: MfuValue | dict[str, MfuValue] | None = None
    every_months: Annotated[int, Field(ge=1, le=120)] | None = None
    tokens_per_second: Positive | None = None
    throughput: dict[str, Positive] | None = None
    growth_per_month: Annotated[float, Field(ge=-0.5, le=1)] | None = None
    window: tuple[str, str] | None = None
    interruptible: bool = False
    spot_overhead: NonNegative | None = None
    dataset_tb: NonNegative = 0.0
    data_at: str | None = None
    single_venue: bool = False
    gang: bool | None = None
    node_gpus: Annotated[int, Field(ge=1, le=4096)] | None = None
    users: dict[str, Fraction] | None = None
    max_latency_ms: Positive | None = None
    availability: Availability | None = None
    egress_tb_per_month: NonNegative = 0.0
    storage_tb: NonNegative = 0.0

    @model_validator(mode="after")
    def _kind_fields(self) -> WorkloadSection:
        if self.kind == WorkloadKind.TRAINING:
            self._training_fields()
        else:
            self._inference_fields()
        if self.model is not None and isinstance(self.gpu, dict):
            raise ValueError("with 'model', list the acceptable classes (gpu = [\"H100\", "
                             "\"H200\"]): their speeds follow from the model")
        if self.model is None and isinstance(self.gpu, list):
            raise ValueError("'gpu' as a list needs 'model' to derive each class's speed; "
                             "otherwise give speeds: gpu = { H100 = 1.0, A100-80GB = 0.45 }")
        if isinstance(self.gpu, list) and (not self.gpu or len(set(self.gpu)) != len(self.gpu)):
            raise ValueError("'gpu' must list at least one class, each once")
        return self

    def _training_fields(self) -> None:
        model = self.model
        if self.gpu_hours is None and model is None:
            raise ValueError("a training workload needs 'gpu_hours' (GPU-hours over its window) "
                             "or 'model' = { params, tokens }")
        if self.gpu_hours is not None and model is not None:
            raise ValueError("give 'gpu_hours' or 'model', not both")
        if model is not None and model.tokens is None:
            raise ValueError("model.tokens: a training model needs it (the tokens to train on)")
        if model is not None and model.precision is not None:
            raise ValueError("model.precision is for inference; training is sized at each "
                             "class's dense BF16 peak")
        if self.mfu is not None and model is None:
            raise ValueError("'mfu' sizes a training 'model'; with 'gpu_hours' it is not used")
        for key in ("gpus", "tokens_per_second", "throughput"):
            if getattr(self, key) is not None:
                raise ValueError(f"'{key}' is for inference workloads; training uses "
                                 f"'gpu_hours' or 'model'")

    def _inference_fields(self) -> None:
        model = self.model
        if self.gpus is None and self.tokens_per_second is None:
            raise ValueError("an inference workload needs 'gpus' (concurrent GPUs in its first "
                             "month) or 'tokens_per_second' with 'model'")
        if self.gpus is not None and self.tokens_per_second is not None:
            raise ValueError("give 'gpus' or 'tokens_per_second', not both")
        if self.tokens_per_second is not None and model is None:
            raise ValueError("'tokens_per_second' needs 'model' = { params, precision } to "
                             "size GPUs from")
        if model is not None and self.tokens_per_second is None:
            raise ValueError("'model' sizes an inference workload from 'tokens_per_second'; "
                             "give it (peak output tokens/s in the first month)")
        if model is not None and model.tokens is not None:
            raise ValueError("model.tokens is for training; inference is sized from "
                             "'tokens_per_second'")
        if self.throughput is not None and model is None:
            raise ValueError("'throughput' sizes an inference 'model'; with 'gpus' it is not used")
        for key in ("gpu_hours", "mfu", "every_months"):
            if getattr(self, key) is not None:
                raise ValueError(f"'{key}' is for training workloads; inference uses 'gpus' "
                                 f"or 'tokens_per_second'")
        for key in ("gang", "node_gpus"):
            if getattr(self, key) is not None:
                raise ValueError(f"'{key}' is for training workloads: a training run that "
                                 f"must execute in one venue on one GPU class")

    @property
    def classes(self) -> list[str]:
        """The acceptable GPU classes, in the order written (the first is the reference)."""
        return [self.gpu] if isinstance(self.gpu, str) else list(self.gpu)

    @property
    def speeds(self) -> dict[str, float]:
        """Acceptable GPU classes with their speed relative to the workload's reference class
        (as written; a workload sized from a model gets its speeds in ``plan.resolve``)."""
        if isinstance(self.gpu, dict):
            return dict(self.gpu)
        return dict.fromkeys(self.classes, 1.0)


# an annual rate of change of a price: -0.2 is 20% cheaper a year; below -1 a price would
# turn negative
Rate = Annotated[float, Field(gt=-1)]


class TrendsSection(_Strict):
    """Annual rates of change of prices from the plan's first month (SPEC 11)."""

    cloud: Rate | None = None
    cloud_by_gpu: dict[str, Rate] = Field(default_factory=dict)
    servers: Rate | None = None
    electricity: Rate | None = None


class Dist(StrEnum):
    """The distributions a lever may be drawn from (SPEC 12, ``[uncertainty]``)."""

    UNIFORM = "uniform"
    TRIANGULAR = "triangular"
    NORMAL = "normal"
    LOGNORMAL = "lognormal"
    CHOICE = "choice"


_PARAMS: dict[Dist, tuple[set[str], set[str]]] = {   # required, optional
    Dist.UNIFORM: ({"low", "high"}, set()),
    Dist.TRIANGULAR: ({"low", "mode", "high"}, set()),
    Dist.NORMAL: ({"mean", "sd"}, {"low", "high"}),
    Dist.LOGNORMAL: ({"median", "sigma"}, set()),
    Dist.CHOICE: ({"values"}, {"weights"}),
}


class Spread(_Strict):
    """How one lever may vary: ``{ dist = "uniform", low = 0.8, high = 1.4 }`` and the like.
    A normal distribution may be truncated to ``[low, high]``."""

    dist: Dist
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: Annotated[float, Field(gt=0)] | None = None
    median: Annotated[float, Field(gt=0)] | None = None
    sigma: Annotated[float, Field(gt=0)] | None = None
    values: list[float] | None = None
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Spread:
        required, optional = _PARAMS[self.dist]
        given = {k for k in ("low", "high", "mode", "mean", "sd", "median", "sigma", "values",
                             "weights") if getattr(self, k) is not None}
        missing = sorted(required - given)
        if missing:
            raise ValueError(f"a {self.dist.value} distribution needs "
                             + ", ".join(f"'{k}'" for k in missing))
        extra = sorted(given - required - optional)
        if extra:
            raise ValueError(f"a {self.dist.value} distribution takes no "
                             + ", ".join(f"'{k}'" for k in extra))
        low, high = self.low, self.high
        if low is not None and high is not None and not low < high:
            raise ValueError(f"'low' ({low:g}) must be less than 'high' ({high:g})")
        if self.dist == Dist.TRIANGULAR and not (low or 0) <= (self.mode or 0) <= (high or 0):
            raise ValueError(f"'mode' ({self.mode:g}) must lie between 'low' and 'high'")
        if self.dist == Dist.CHOICE:
            if not self.values:
                raise ValueError("'values' must list at least one value")
            if self.weights is not None and (len(self.weights) != len(self.values)
                                             or sum(self.weights) <= 0):
                raise ValueError("'weights' must give one non-negative weight per value, "
                                 "not all 0")
        return self


class FinanceCriterion(StrEnum):
    """What the recommendation is chosen by: the NPV, or the NPV after tax."""

    NPV = "npv"
    AFTER_TAX = "after_tax"


class FinanceSection(_Strict):
    """``[finance]`` (SPEC 20): the tax rate on profits, and what chooses the recommendation."""

    tax_rate: Annotated[float, Field(ge=0, lt=1)] | None = None
    criterion: FinanceCriterion = FinanceCriterion.NPV

    @model_validator(mode="after")
    def _after_tax_needs_a_rate(self) -> FinanceSection:
        if self.criterion == FinanceCriterion.AFTER_TAX and self.tax_rate is None:
            raise ValueError("criterion = \"after_tax\" needs a tax_rate")
        return self


class PlanFile(_Strict):
    plan: PlanSection
    cloud: CloudSection = Field(default_factory=CloudSection)
    prices: PricesSection = Field(default_factory=PricesSection)
    onprem: OnPremSection = Field(default_factory=OnPremSection)
    trends: TrendsSection = Field(default_factory=TrendsSection)
    workloads: list[WorkloadSection]
    latency: dict[str, dict[str, Positive]] = Field(default_factory=dict)
    uncertainty: dict[str, Spread] = Field(default_factory=dict)
    finance: FinanceSection = Field(default_factory=FinanceSection)


# --------------------------------------------------------------------------------------------
# errors


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "LatLon", "dict[str,constrained-float]") or "function-" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model at ``loc`` (for "did you mean")."""
    model: Any = PlanFile
    keyed = False                     # the model is a dict's value: the next part is its key
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        if keyed:
            keyed = False
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        keyed = typing.get_origin(ann) is dict
        model = None
        for candidate in _models_in(ann):
            model = candidate
    return list(model.model_fields) if model is not None and hasattr(model, "model_fields") else []


def _models_in(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out: list[type[BaseModel]] = []
    for arg in getattr(ann, "__args__", ()) or ():
        out.extend(_models_in(arg))
    return out


def _describe(err: Any) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else (
            f"; expected one of: {', '.join(known)}" if known else "")
        return f"{_path(loc)}: unknown key{hint}"
    if kind == "missing":
        return f"{_path(loc)}: required key is missing"
    msg = err["msg"]
    value = err.get("input")
    if msg.startswith("Value error, "):
        return f"{_path(loc)}: {msg[len('Value error, '):]}"
    msg = msg.replace("Input should be", "must be")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"{_path(loc)}: {msg}{shown}"


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _toml_error(origin: str, exc: tomllib.TOMLDecodeError) -> PlanError:
    text = str(exc)
    m = _TOML_POS.search(text)
    if m:
        msg = _TOML_POS.sub("", text).strip()
        return PlanError(f"{origin}: line {m.group(1)}, column {m.group(2)}: TOML syntax error: {msg}")
    return PlanError(f"{origin}: TOML syntax error: {text}")


def read(path: str | Path) -> dict[str, Any]:
    """The TOML document of a plan file; raises :class:`PlanError` naming the file (and line
    and column for a syntax error)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PlanError(f"{p}: cannot read plan ({exc.strerror or exc})") from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(str(p), exc) from exc


def validate(doc: dict[str, Any] | PlanFile, origin: str = "<plan>") -> PlanFile:
    """The plan as written, checked: types, ranges, unknown keys, then references. Every
    problem of the file is reported in one error: when some values are wrong, the references
    are checked on the rest (``_references_of_the_rest``)."""
    if isinstance(doc, PlanFile):
        plan = doc
    else:
        try:
            plan = PlanFile.model_validate(doc)
        except ValidationError as exc:
            problems = [_describe(e) for e in exc.errors()]
            problems += [p for p in _references_of_the_rest(doc, exc) if p not in problems]
            raise PlanError(join(origin, problems)) from None
    problems = _check_references(plan)
    if problems:
        raise PlanError(join(origin, problems))
    return plan


# a list entry whose own fields are wrong is replaced, for the references of the rest, by one
# that names the same thing: references to it still resolve, and none of its own is checked
_STAND_INS: dict[str, dict[str, Any]] = {
    "workloads": {"kind": "training", "gpu": "H100", "gpu_hours": 1.0},
    "sites": {"location": "us-east"},
    "servers": {"gpu": "H100", "gpus": 8, "price_usd": 1.0, "power_kw": 1.0},
}


def _references_of_the_rest(doc: dict[str, Any], exc: ValidationError) -> list[str]:
    """The reference problems of the parts of ``doc`` that are well formed: each wrong key is
    dropped, each list entry that cannot stand without it is replaced by a stand-in of the same
    name, and the references are checked on what is left, leaving out those of the parts
    changed. None when the plan's own start or horizon is wrong (every window depends on
    them) or what is left still does not validate."""
    import copy

    rest = copy.deepcopy(doc)
    changed: list[str] = []
    for _ in range(4):
        for err in exc.errors():
            loc = tuple(err["loc"])
            if not loc or loc[0] == "plan":
                return []
            if not _drop(rest, loc, err["type"] == "missing", changed):
                return []
        try:
            plan = PlanFile.model_validate(rest)
        except ValidationError as again:
            exc = again
            continue
        return [p for p in _check_references(plan)
                if not any(p.startswith(c) and p[len(c):len(c) + 1] in ("", ".", "[", ":")
                           for c in changed)]
    return []


def _drop(doc: Any, loc: tuple[int | str, ...], missing: bool, changed: list[str]) -> bool:
    """Remove the wrong value at ``loc`` (a missing one: replace its list entry by a stand-in);
    False when neither can be done."""
    entry: tuple[int | str, ...] | None = None
    node: Any = doc
    for k, part in enumerate(loc):
        if isinstance(part, int):
            entry = loc[:k + 1]
        last = k == len(loc) - 1
        if isinstance(node, dict) and part in node:
            if last and not missing and entry is not None and entry != loc:
                del node[part]
                changed.append(_path(loc))
                return True
            if last and not missing and isinstance(part, str) and loc[0] in (
                    "cloud", "prices", "trends", "latency", "uncertainty", "onprem"):
                del node[part]
                changed.append(_path(loc))
                return True
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    if entry is None:
        return False
    # the entry itself: a stand-in with its name
    parent: Any = doc
    for part in entry[:-1]:
        if isinstance(parent, dict):
            parent = parent.get(part)
        elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
            parent = parent[part]
        else:
            return False
    kind = str(entry[-2]) if len(entry) >= 2 else ""
    index = entry[-1]
    if not isinstance(parent, list) or not isinstance(index, int) or kind not in _STAND_INS:
        return False
    old = parent[index] if isinstance(parent[index], dict) else {}
    name = old.get("name") if isinstance(old.get("name"), str) else f"{kind}[{index}]"
    parent[index] = {"name": name, **_STAND_INS[kind]}
    changed.append(_path(entry))
    return True


def join(origin: str, lines: list[str]) -> str:
    """One error message for several problems of one plan."""
    shown = lines[:12]
    more = f"\n  ... and {len(lines) - 12} more" if len(lines) > 12 else ""
    if len(shown) == 1:
        return f"{origin}: {shown[0]}"
    return f"{origin}: {len(lines)} problems\n" + "\n".join(f"  {line}" for line in shown) + more


def _suggest(value: str, known: list[str]) -> str:
    return did_you_mean(value, known)


def _check_references(plan: PlanFile) -> list[str]:
    errs: list[str] = []
    gpus = list(gpu_classes())
    metro_keys = list(metros())
    months = plan.plan.months
    providers = [p.value for p in plan.cloud.providers]
    # regions with a location, and the snapshot's regions whose provider publishes no city
    known_pairs = set(regions()) | {(r.provider, r.region) for r in load_snapshot().compute}
    known_regions = {r for (_, r) in known_pairs}

    def unique(items: list[Any], where: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                errs.append(f"{where}[{i}].name: '{item.name}' is used twice; names must be unique")
            seen.add(item.name)

    unique(plan.workloads, "workloads")
    unique(plan.cloud.quotes, "cloud.quotes")
    unique(plan.onprem.sites, "onprem.sites")
    unique(plan.onprem.servers, "onprem.servers")
    if not plan.workloads:
        errs.append("workloads: the plan has no workloads")
    if len(set(providers)) != len(providers):
        errs.append("cloud.providers: a provider is listed twice")
    for i, region in enumerate(plan.cloud.regions or []):
        if region not in known_regions:
            errs.append(f"cloud.regions[{i}]: unknown region '{region}'"
                        f"{_suggest(region, sorted(known_regions))}")
    for i, q in enumerate(plan.cloud.quotas):
        if q.gpu not in gpu_classes():
            errs.append(f"cloud.quotas[{i}].gpu: unknown GPU class '{q.gpu}'{_suggest(q.gpu, gpus)}")
        if (q.provider.value, q.region) not in known_pairs:
            errs.append(f"cloud.quotas[{i}].region: '{q.region}' is not a region of "
                        f"{q.provider.value}")
    for i, quote in enumerate(plan.cloud.quotes):
        where = f"cloud.quotes[{i}]"
        if quote.gpu not in gpu_classes():
            errs.append(f"{where}.gpu: unknown GPU class '{quote.gpu}'{_suggest(quote.gpu, gpus)}")
        if quote.location not in metros():
            errs.append(f"{where}.location: unknown metro '{quote.location}'"
                        f"{_suggest(quote.location, metro_keys)} (latency is measured from it)")
        if not quote.provider.strip() or ":" in quote.provider:
            errs.append(f"{where}.provider: a provider name without ':', got "
                        f"'{quote.provider}'")
        try:
            off = month_offset(plan.plan.start, quote.start)
        except ValueError as exc:
            errs.append(f"{where}.start: {exc}")
        else:
            if off >= months:
                errs.append(f"{where}.start: {quote.start} lies after the horizon "
                            f"{plan.plan.start}..{month_label(plan.plan.start, months - 1)}")
            elif off < 0 and quote.optional:
                errs.append(f"{where}.start: {quote.start} is before the plan starts; only a "
                            f"signed quote (optional = false) may have started already")
            elif off + quote.months <= 0:
                errs.append(f"{where}: its term ends before the plan starts")

    server_names = [s.name for s in plan.onprem.servers]
    for i, srv in enumerate(plan.onprem.servers):
        if srv.gpu not in gpu_classes():
            errs.append(f"onprem.servers[{i}].gpu: unknown GPU class '{srv.gpu}'"
                        f"{_suggest(srv.gpu, gpus)}")
    for gpu in plan.trends.cloud_by_gpu:
        if gpu not in gpu_classes():
            errs.append(f"trends.cloud_by_gpu.{gpu}: unknown GPU class{_suggest(gpu, gpus)}")
    for i, site in enumerate(plan.onprem.sites):
        if isinstance(site.location, str) and site.location not in metros():
            errs.append(f"onprem.sites[{i}].location: unknown metro '{site.location}'"
                        f"{_suggest(site.location, metro_keys)} (or give {{ lat = .., lon = .. }})")
        for j, ex in enumerate(site.existing):
            if ex.server not in server_names:
                errs.append(f"onprem.sites[{i}].existing[{j}].server: no server named "
                            f"'{ex.server}' in [[onprem.servers]]{_suggest(ex.server, server_names)}")

    site_names = [s.name for s in plan.onprem.sites]
    for i, w in enumerate(plan.workloads):
        where = f"workloads[{i}]"
        for j, gpu in enumerate(w.classes):
            if gpu not in gpu_classes():
                key = f"{where}.gpu" + ("" if isinstance(w.gpu, str) else
                                        f"[{j}]" if isinstance(w.gpu, list) else f".{gpu}")
                errs.append(f"{key}: unknown GPU class '{gpu}'{_suggest(gpu, gpus)}")
        for rates in ("mfu", "throughput"):
            given = getattr(w, rates)
            for gpu in given if isinstance(given, dict) else ():
                if gpu not in w.classes:
                    errs.append(f"{where}.{rates}.{gpu}: not one of the workload's GPU classes "
                                f"({', '.join(w.classes)}){_suggest(gpu, w.classes)}")
        if w.window is not None:
            for j, m in enumerate(w.window):
                try:
                    off = month_offset(plan.plan.start, m)
                except ValueError as exc:
                    errs.append(f"{where}.window[{j}]: {exc}")
                    continue
                if not 0 <= off < months:
                    errs.append(f"{where}.window[{j}]: {m} lies outside the horizon "
                                f"{plan.plan.start}..{month_label(plan.plan.start, months - 1)}")
            try:
                if month_offset(w.window[0], w.window[1]) < 0:
                    errs.append(f"{where}.window: ends before it starts")
            except ValueError:
                pass
        if w.users is not None:
            for metro in w.users:
                if metro not in metros():
                    errs.append(f"{where}.users.{metro}: unknown metro{_suggest(metro, metro_keys)}")
            total = sum(w.users.values())
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                errs.append(f"{where}.users: shares must sum to 1, they sum to {total:g}")
        if w.max_latency_ms is not None and not w.users:
            errs.append(f"{where}.max_latency_ms: needs 'users' (traffic share by metro) to "
                        f"measure latency from")
        if w.data_at is not None:
            if ":" in w.data_at:
                prov, _, region = w.data_at.partition(":")
                if prov not in [p.value for p in Provider]:
                    errs.append(f"{where}.data_at: unknown provider '{prov}' in '{w.data_at}'")
                elif (prov, region) not in regions():
                    errs.append(f"{where}.data_at: '{region}' is not a region of {prov}")
            elif w.data_at not in site_names:
                errs.append(f"{where}.data_at: '{w.data_at}' is neither a site in "
                            f"[[onprem.sites]] nor 'provider:region'"
                            f"{_suggest(w.data_at, site_names)}")
        if w.dataset_tb > 0 and w.data_at is None:
            errs.append(f"{where}.data_at: dataset_tb is given, so say where the data lives "
                        f"(a site name or 'provider:region')")
    for metro, table in plan.latency.items():
        if metro not in metros():
            errs.append(f"latency.{metro}: unknown metro{_suggest(metro, metro_keys)}")
        for venue in table:
            if ":" not in venue and venue not in site_names:
                errs.append(f"latency.{metro}.{venue}: not a site name nor 'provider:region'")
    return errs
