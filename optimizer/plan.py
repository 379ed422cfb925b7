"""The plan file (``workload.toml``, SPEC section 4) → validated, defaults-resolved objects.

Validation is pydantic's (types, ranges, unknown keys); cross-references (``data_at``,
``existing.server``, metros, GPU classes) and windows are checked afterwards. Every error
names the file and the key path (``workloads[2].gpu_hours``; list indices count from 0), and
every default the plan relied on is recorded as an :class:`Assumption` with its source.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from tco.pricing.errors import PlanError
from tco.pricing.models import Provider, Purchase
from tco.pricing.reference import gpu_classes, metros, regions

from .defaults import Default, defaults
from .months import month_label, month_offset, parse_month

Fraction = Annotated[float, Field(ge=0, le=1)]
Availability = Annotated[float, Field(gt=0, lt=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanSection(_Strict):
    name: str = "unnamed plan"
    start: str
    months: Annotated[int, Field(gt=0, le=240)]
    discount_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    capex_budget_usd: NonNegative | None = None
    solver: Literal["highs", "cbc"] = "highs"
    mip_gap: Annotated[float, Field(ge=0, le=0.1)] = 0.01

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        parse_month(v)
        return v


class Quota(_Strict):
    provider: Provider
    region: str
    gpu: str
    max_gpus: Annotated[int, Field(ge=0)]


class CloudSection(_Strict):
    providers: list[Provider] = Field(default_factory=lambda: list(Provider))
    regions: list[str] | None = None
    purchase_options: list[Literal["on_demand", "spot", "reserved_1y", "reserved_3y"]] = Field(
        default_factory=lambda: ["on_demand", "spot", "reserved_1y", "reserved_3y"])
    discounts: dict[Provider, Fraction] = Field(default_factory=dict)
    quotas: list[Quota] = Field(default_factory=list)
    region_availability: Availability | None = None
    commit_every_months: Annotated[int, Field(ge=1, le=12)] | None = None


class PricesSection(_Strict):
    refresh: Literal["auto", "always", "never"] = "auto"


class LatLon(_Strict):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Existing(_Strict):
    server: str
    count: PositiveInt
    age_months: Annotated[int, Field(ge=0)] = 0


class Site(_Strict):
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
    existing: list[Existing] = Field(default_factory=list)


class Server(_Strict):
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

    @property
    def capex_usd(self) -> float:
        return self.price_usd + (self.network_usd or 0.0)


class OnPrem(_Strict):
    sites: list[Site] = Field(default_factory=list)
    servers: list[Server] = Field(default_factory=list)
    order_every_months: Annotated[int, Field(ge=1, le=12)] | None = None


class Workload(_Strict):
    name: str
    kind: Literal["training", "inference"]
    gpu: str | dict[str, Positive]
    gpu_hours: Positive | None = None
    gpus: Positive | None = None
    growth_per_month: Annotated[float, Field(ge=-0.5, le=1)] | None = None
    window: tuple[str, str] | None = None
    interruptible: bool = False
    spot_overhead: NonNegative | None = None
    dataset_tb: NonNegative = 0.0
    data_at: str | None = None
    single_venue: bool = False
    users: dict[str, Fraction] | None = None
    max_latency_ms: Positive | None = None
    availability: Availability | None = None
    egress_tb_per_month: NonNegative = 0.0
    storage_tb: NonNegative = 0.0

    @model_validator(mode="after")
    def _kind_fields(self) -> Workload:
        if self.kind == "training" and self.gpu_hours is None:
            raise ValueError("a training workload needs 'gpu_hours' (GPU-hours over its window)")
        if self.kind == "training" and self.gpus is not None:
            raise ValueError("'gpus' is for inference workloads; training uses 'gpu_hours'")
        if self.kind == "inference" and self.gpus is None:
            raise ValueError("an inference workload needs 'gpus' (concurrent GPUs in its first "
                             "month)")
        if self.kind == "inference" and self.gpu_hours is not None:
            raise ValueError("'gpu_hours' is for training workloads; inference uses 'gpus'")
        return self

    @property
    def speeds(self) -> dict[str, float]:
        """Acceptable GPU classes with their speed relative to the workload's reference class."""
        return {self.gpu: 1.0} if isinstance(self.gpu, str) else dict(self.gpu)


class Plan(_Strict):
    plan: PlanSection
    cloud: CloudSection = Field(default_factory=CloudSection)
    prices: PricesSection = Field(default_factory=PricesSection)
    onprem: OnPrem = Field(default_factory=OnPrem)
    workloads: list[Workload]
    latency: dict[str, dict[str, Positive]] = Field(default_factory=dict)

    @property
    def months(self) -> int:
        return self.plan.months

    def month_label(self, offset: int) -> str:
        return month_label(self.plan.start, offset)

    def site(self, name: str) -> Site:
        return next(s for s in self.onprem.sites if s.name == name)

    def server(self, name: str) -> Server:
        return next(s for s in self.onprem.servers if s.name == name)


@dataclass(frozen=True)
class Assumption:
    """A value the plan relied on without stating it."""

    key: str
    value: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "source": self.source}


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan with its defaults filled in and the list of what was assumed."""

    plan: Plan
    assumptions: tuple[Assumption, ...]
    origin: str


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
    model: Any = Plan
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
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


# --------------------------------------------------------------------------------------------
# loading


def load_plan(path: str | Path) -> LoadedPlan:
    """Read, validate and resolve a plan file; raises :class:`PlanError` naming file and key."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PlanError(f"{p}: cannot read plan ({exc.strerror or exc})") from exc
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(str(p), exc) from exc
    return plan_from_dict(doc, origin=str(p))


def plan_from_dict(doc: dict[str, Any], origin: str = "<plan>") -> LoadedPlan:
    """Validate a plan given as the dict a TOML parser would return."""
    try:
        plan = Plan.model_validate(doc)
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors()]
        raise PlanError(_join(origin, lines)) from None
    problems = _check_references(plan)
    if problems:
        raise PlanError(_join(origin, problems))
    resolved, assumptions, missing = _resolve_defaults(plan)
    if missing:
        raise PlanError(_join(origin, missing))
    return LoadedPlan(resolved, tuple(assumptions), origin)


def _join(origin: str, lines: list[str]) -> str:
    shown = lines[:12]
    more = f"\n  ... and {len(lines) - 12} more" if len(lines) > 12 else ""
    if len(shown) == 1:
        return f"{origin}: {shown[0]}"
    return f"{origin}: {len(lines)} problems\n" + "\n".join(f"  {line}" for line in shown) + more


def _suggest(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def _check_references(plan: Plan) -> list[str]:
    errs: list[str] = []
    gpus = list(gpu_classes())
    metro_keys = list(metros())
    months = plan.plan.months
    providers = [p.value for p in plan.cloud.providers]
    known_regions = {r for (_, r) in regions()}

    def unique(items: list[Any], where: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                errs.append(f"{where}[{i}].name: '{item.name}' is used twice; names must be unique")
            seen.add(item.name)

    unique(plan.workloads, "workloads")
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
        if (q.provider.value, q.region) not in regions():
            errs.append(f"cloud.quotas[{i}].region: '{q.region}' is not a region of "
                        f"{q.provider.value}")

    server_names = [s.name for s in plan.onprem.servers]
    for i, srv in enumerate(plan.onprem.servers):
        if srv.gpu not in gpu_classes():
            errs.append(f"onprem.servers[{i}].gpu: unknown GPU class '{srv.gpu}'"
                        f"{_suggest(srv.gpu, gpus)}")
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
        for gpu in w.speeds:
            if gpu not in gpu_classes():
                key = f"{where}.gpu" + ("" if isinstance(w.gpu, str) else f".{gpu}")
                errs.append(f"{key}: unknown GPU class '{gpu}'{_suggest(gpu, gpus)}")
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


_SITE_DEFAULTS = ("pue", "electricity_usd_per_kwh", "colo_usd_per_kw_month",
                  "staff_usd_per_server_month", "storage_usd_per_tb_month", "egress_usd_per_gb",
                  "availability")
_SERVER_DEFAULTS = ("idle_power_fraction", "useful_life_months", "decommission_usd",
                    "resale_fee_fraction", "maintenance_rate", "lead_time_months",
                    "max_utilization")


def _take(key: str, where: str, errors: list[str]) -> Default | None:
    d = defaults().get(key)
    if d is None:
        errors.append(f"{where}: required (tco ships no sourced default for it)")
    return d


def _resolve_defaults(plan: Plan) -> tuple[Plan, list[Assumption], list[str]]:
    """Fill every optional value from ``pricing/data/defaults.csv``, recording each use."""
    out: list[Assumption] = []
    errors: list[str] = []

    def note(key: str, d: Default) -> None:
        out.append(Assumption(key, d.display, d.citation))

    plan_section = plan.plan
    if plan_section.discount_rate is None:
        d = _take("plan.discount_rate", "plan.discount_rate", errors)
        if d:
            plan_section = plan_section.model_copy(update={"discount_rate": d.value})
            note("plan.discount_rate", d)
    cloud = plan.cloud
    if cloud.region_availability is None:
        d = _take("cloud.region_availability", "cloud.region_availability", errors)
        if d:
            cloud = cloud.model_copy(update={"region_availability": d.value})
            note("cloud.region_availability", d)
    if cloud.commit_every_months is None:
        d = _take("cloud.commit_every_months", "cloud.commit_every_months", errors)
        if d:
            cloud = cloud.model_copy(update={"commit_every_months": int(d.value)})
            note("cloud.commit_every_months", d)
    missing_discounts = [p for p in cloud.providers if p not in cloud.discounts]
    if missing_discounts:
        d = _take("cloud.discount", "cloud.discounts", errors)
        if d:
            cloud = cloud.model_copy(update={"discounts": {**cloud.discounts, **{
                p: d.value for p in missing_discounts}}})
            out.append(Assumption(f"cloud.discounts ({', '.join(p.value for p in missing_discounts)})",
                                  d.display, d.citation))

    onprem_section = plan.onprem
    if onprem_section.servers and onprem_section.order_every_months is None:
        d = _take("onprem.order_every_months", "onprem.order_every_months", errors)
        if d:
            onprem_section = onprem_section.model_copy(update={"order_every_months": int(d.value)})
            note("onprem.order_every_months", d)
    sites = []
    for i, site in enumerate(plan.onprem.sites):
        update: dict[str, Any] = {}
        for key in _SITE_DEFAULTS:
            if getattr(site, key) is None:
                d = _take(f"sites.{key}", f"onprem.sites[{i}].{key}", errors)
                if d:
                    update[key] = d.value
                    note(f"onprem.sites[{i}].{key} ({site.name})", d)
        sites.append(site.model_copy(update=update))
    servers = []
    for i, srv in enumerate(plan.onprem.servers):
        update = {}
        if srv.network_usd is None:
            d = _take("servers.network_usd_fraction", f"onprem.servers[{i}].network_usd", errors)
            if d:
                update["network_usd"] = round(srv.price_usd * d.value, 2)
                out.append(Assumption(f"onprem.servers[{i}].network_usd ({srv.name})",
                                      f"{update['network_usd']:,.2f} (= {d.value:g} x price_usd)",
                                      d.citation))
        keys = _SERVER_DEFAULTS
        if srv.residual_fraction is None:
            # no book value given: the server is valued at what the market pays for used ones
            keys = (*keys, "resale_retention_per_year")
        for key in keys:
            if getattr(srv, key) is None:
                d = _take(f"servers.{key}", f"onprem.servers[{i}].{key}", errors)
                if d:
                    value: float | int = int(d.value) if key.endswith("_months") else d.value
                    update[key] = value
                    note(f"onprem.servers[{i}].{key} ({srv.name})", d)
        servers.append(srv.model_copy(update=update))
    workloads = []
    for i, w in enumerate(plan.workloads):
        update = {}
        if w.growth_per_month is None and w.kind == "inference":
            d = _take("workloads.growth_per_month", f"workloads[{i}].growth_per_month", errors)
            if d:
                update["growth_per_month"] = d.value
                note(f"workloads[{i}].growth_per_month ({w.name})", d)
        if (w.spot_overhead is None and w.interruptible
                and Purchase.SPOT.value in cloud.purchase_options):
            d = _take("workloads.spot_overhead", f"workloads[{i}].spot_overhead", errors)
            if d:
                update["spot_overhead"] = d.value
                note(f"workloads[{i}].spot_overhead ({w.name})", d)
        if w.window is None:
            update["window"] = (plan_section.start, month_label(plan_section.start,
                                                                plan_section.months - 1))
            out.append(Assumption(f"workloads[{i}].window ({w.name})",
                                  f"{update['window'][0]} .. {update['window'][1]}",
                                  "SPEC section 4: default is the whole horizon"))
        if not w.interruptible:
            out.append(Assumption(f"workloads[{i}].interruptible ({w.name})", "false",
                                  "tco default: no spot unless the workload says it may be "
                                  "interrupted"))
        workloads.append(w.model_copy(update=update))
    resolved = plan.model_copy(update={
        "plan": plan_section, "cloud": cloud, "workloads": workloads,
        "onprem": onprem_section.model_copy(update={"sites": sites, "servers": servers})})
    return resolved, out, errors
