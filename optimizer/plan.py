"""A resolved plan: every value the optimizer reads, none missing.

``load_plan`` reads a plan file (``planfile``: schema and checks), then ``resolve`` fills
every key the plan left out from the defaults table (``pricing/data/defaults.csv``), in one
place (``_FIELD_DEFAULTS``), recording each use as an :class:`Assumption` with its source.
The resolved types are frozen dataclasses whose fields are all set; what stays ``None`` means
"none" (no capex budget, no power cap, no latency bound), never "not yet known".
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields, is_dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from tco.pricing.models import HOURS_PER_MONTH, Provider, Purchase
from tco.pricing.settings import Refresh

from . import planfile
from .defaults import Default, defaults, plausible
from .errors import PlanError
from .months import month_label, month_offset
from .planfile import PlanFile, Spread, WorkloadKind
from .sizing import DEFAULT_PRECISION, Sizing, SizingError, size_workload
from .solver import SolverName

__all__ = ["Assumption", "Cloud", "Existing", "LatLon", "LoadedPlan", "OnPrem", "Plan", "Quota",
           "Server", "Settings", "Site", "Trends", "Workload", "WorkloadKind", "load_plan",
           "plan_from_dict", "resolve"]


def _within(what: str, value: float | None, low: float | None = None,
            high: float | None = None, *, above: bool = False, below: bool = False) -> None:
    """Raise ``PlanError`` unless ``value`` (None passes) lies in the range: a resolved plan
    changed in code (``dataclasses.replace``, a lever) is held to the plan file's rules."""
    if value is None:
        return
    ok = ((low is None or (value > low if above else value >= low))
          and (high is None or (value < high if below else value <= high)))
    if not ok or math.isnan(value):          # NaN is never in range
        lo = "" if low is None else f"{'above' if above else 'at least'} {low:g}"
        hi = "" if high is None else f"{'below' if below else 'at most'} {high:g}"
        raise PlanError(f"{what}: must be {' and '.join(x for x in (lo, hi) if x)} "
                        f"(got {value:g})")


@dataclass(frozen=True)
class Settings:
    """``[plan]``."""

    name: str
    start: str
    months: int
    discount_rate: float
    capex_budget_usd: float | None       # None: no budget
    solver: SolverName
    mip_gap: float
    fiscal_year_start: int = 1           # the calendar month a fiscal year starts in

    def __post_init__(self) -> None:
        _within("plan.months", self.months, 1)
        _within("plan.fiscal_year_start", self.fiscal_year_start, 1, 12)
        _within("plan.discount_rate", self.discount_rate, -1, above=True)
        _within("plan.capex_budget_usd", self.capex_budget_usd, 0)
        _within("plan.mip_gap", self.mip_gap, 0, 1, below=True)


@dataclass(frozen=True)
class Quota:
    provider: Provider
    region: str
    gpu: str
    max_gpus: int

    def __post_init__(self) -> None:
        _within(f"cloud.quotas ({self.provider.value}:{self.region} {self.gpu}).max_gpus",
                self.max_gpus, 0)


@dataclass(frozen=True)
class Quote:
    """A team's negotiated offer (``[[cloud.quotes]]``, SPEC 18): ``gpus`` GPUs of class ``gpu``
    for ``months`` months from ``start``, at ``usd_per_gpu_hour`` for every hour of the term,
    used or not, and ``upfront_usd`` in its first month. Signed (``optional`` False), it belongs
    to every scenario; otherwise taking it is a first-stage decision of ``hybrid``,
    ``cloud-only`` and ``<provider>-only``. Latency is measured from the metro ``location``."""

    name: str
    provider: str
    gpu: str
    location: str
    gpus: int
    usd_per_gpu_hour: float
    start: str
    months: int
    upfront_usd: float
    optional: bool
    as_of: dt.date

    @property
    def venue(self) -> str:
        """Its venue: ``<provider>:quote:<name>`` (its egress is billed with its provider's)."""
        return f"{self.provider}:quote:{self.name}"

    @property
    def usd_per_month(self) -> float:
        return self.usd_per_gpu_hour * self.gpus * HOURS_PER_MONTH


@dataclass(frozen=True)
class Cloud:
    """``[cloud]``: ``discounts`` has every provider of the plan."""

    providers: tuple[Provider, ...]
    regions: tuple[str, ...] | None      # None: every region
    purchase_options: tuple[Purchase, ...]
    discounts: dict[Provider, float]
    quotas: tuple[Quota, ...]
    region_availability: float
    commit_every_months: int
    quotes: tuple[Quote, ...] = ()

    def __post_init__(self) -> None:
        for provider, discount in self.discounts.items():
            _within(f"cloud.discounts.{getattr(provider, 'value', provider)}", discount, 0, 1,
                    below=True)
        _within("cloud.region_availability", self.region_availability, 0, 1, above=True,
                below=True)
        _within("cloud.commit_every_months", self.commit_every_months, 1)


@dataclass(frozen=True)
class Prices:
    refresh: Refresh


@dataclass(frozen=True)
class Finance:
    """``[finance]`` (SPEC 20): the tax rate (None: no after-tax view) and whether the
    recommendation is the lowest NPV (``npv``) or the lowest NPV after tax (``after_tax``)."""

    tax_rate: float | None = None
    criterion: str = "npv"

    def __post_init__(self) -> None:
        _within("finance.tax_rate", self.tax_rate, 0, 1, below=True)
        if self.criterion not in ("npv", "after_tax"):
            raise PlanError(f"finance.criterion: expected \"npv\" or \"after_tax\", got "
                            f"{self.criterion!r}")
        if self.criterion == "after_tax" and self.tax_rate is None:
            raise PlanError("finance.criterion: \"after_tax\" needs finance.tax_rate")


@dataclass(frozen=True)
class Trends:
    """Annual rates of change of prices from the plan's first month (SPEC 11): a price p is
    ``p × (1 + rate) ** (m / 12)`` in month m. 0 holds a price flat."""

    cloud: float = 0.0
    cloud_by_gpu: dict[str, float] = field(default_factory=dict)
    servers: float = 0.0
    electricity: float = 0.0

    def cloud_rate(self, gpu: str) -> float:
        return self.cloud_by_gpu.get(gpu, self.cloud)

    def cloud_factor(self, gpu: str, month: int) -> float:
        """What a cloud list price of GPU class ``gpu`` is multiplied by in ``month``."""
        rate = self.cloud_by_gpu.get(gpu, self.cloud)
        return 1.0 if rate == 0 else (1.0 + rate) ** (month / 12)

    def server_factor(self, month: int) -> float:
        return 1.0 if self.servers == 0 else (1.0 + self.servers) ** (month / 12)

    def electricity_factor(self, month: int) -> float:
        return 1.0 if self.electricity == 0 else (1.0 + self.electricity) ** (month / 12)

    @property
    def flat(self) -> bool:
        return not (self.cloud or self.servers or self.electricity
                    or any(self.cloud_by_gpu.values()))


@dataclass(frozen=True)
class LatLon:
    lat: float
    lon: float


@dataclass(frozen=True)
class Existing:
    server: str
    count: int
    age_months: int


@dataclass(frozen=True)
class Site:
    name: str
    location: str | LatLon               # a metro key or coordinates
    power_kw: float | None               # None: no power cap
    pue: float
    electricity_usd_per_kwh: float
    colo_usd_per_kw_month: float
    staff_usd_per_server_month: float
    storage_usd_per_tb_month: float
    egress_usd_per_gb: float
    availability: float
    existing: tuple[Existing, ...] = ()

    def __post_init__(self) -> None:
        at = f"onprem.sites ({self.name})"
        _within(f"{at}.power_kw", self.power_kw, 0)
        _within(f"{at}.pue", self.pue, 1)
        for key in ("electricity_usd_per_kwh", "colo_usd_per_kw_month",
                    "staff_usd_per_server_month", "storage_usd_per_tb_month",
                    "egress_usd_per_gb"):
            _within(f"{at}.{key}", getattr(self, key), 0)
        _within(f"{at}.availability", self.availability, 0, 1, above=True, below=True)
        for e in self.existing:
            _within(f"{at}.existing ({e.server}).count", e.count, 0)
            _within(f"{at}.existing ({e.server}).age_months", e.age_months, 0)


@dataclass(frozen=True)
class Financing:
    """A way to pay for servers of a type other than outright (SPEC 20). ``lease``: ``months``
    payments of ``usd_per_month`` from the arrival month, no capex and no resale, and at the
    end either returned or, with ``buyout_usd``, bought. ``loan``: ``down_fraction`` of the
    price at arrival and the rest as an annuity at ``rate`` a year over ``months`` from the
    month after; the server is owned."""

    kind: str
    months: int
    usd_per_month: float = 0.0
    buyout_usd: float | None = None
    rate: float = 0.0
    down_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("lease", "loan"):
            raise PlanError(f"financing.kind: expected \"lease\" or \"loan\", got "
                            f"{self.kind!r}")
        _within("financing.months", self.months, 1)
        _within("financing.usd_per_month", self.usd_per_month, 0)
        _within("financing.buyout_usd", self.buyout_usd, 0)
        _within("financing.rate", self.rate, 0)
        _within("financing.down_fraction", self.down_fraction, 0, 1)

    def scaled(self, x: float) -> Financing:
        """The amounts times ``x`` (the server_prices lever): a lease's payments and buyout
        move with the price; a loan's follow the price by themselves."""
        return replace(self, usd_per_month=self.usd_per_month * x,
                       buyout_usd=None if self.buyout_usd is None else self.buyout_usd * x)


@dataclass(frozen=True)
class Server:
    """A server type. Its value follows ``residual_fraction`` (book value, straight line) when
    set, else ``resale_retention_per_year`` (market value), which is then always set."""

    name: str
    gpu: str
    gpus: int
    price_usd: float
    network_usd: float
    power_kw: float
    idle_power_fraction: float
    useful_life_months: int
    residual_fraction: float | None
    resale_retention_per_year: float | None
    resale_fee_fraction: float
    decommission_usd: float
    maintenance_rate: float
    lead_time_months: int
    max_utilization: float
    available_from: str | None = None    # the first month a server of the type can arrive
    value_factor: float = 1.0            # times its value (the resale lever; 1 in a plan file)
    financing: Financing | None = None   # besides buying outright (SPEC 20)

    def __post_init__(self) -> None:
        at = f"onprem.servers ({self.name})"
        _within(f"{at}.gpus", self.gpus, 1)
        _within(f"{at}.price_usd", self.price_usd, 0, above=True)
        _within(f"{at}.power_kw", self.power_kw, 0, above=True)
        for key in ("network_usd", "decommission_usd", "maintenance_rate",
                    "lead_time_months", "value_factor"):
            _within(f"{at}.{key}", getattr(self, key), 0)
        for key in ("idle_power_fraction", "residual_fraction", "resale_retention_per_year",
                    "resale_fee_fraction", "max_utilization"):
            _within(f"{at}.{key}", getattr(self, key), 0, 1)
        _within(f"{at}.useful_life_months", self.useful_life_months, 1)
        if self.financing is not None and self.financing.kind == "lease" and (
                self.financing.months > self.useful_life_months):
            raise PlanError(f"{at}.financing.months: a lease of {self.financing.months} "
                            f"months is longer than the server's useful life "
                            f"({self.useful_life_months} months)")


@dataclass(frozen=True)
class OnPrem:
    sites: tuple[Site, ...]
    servers: tuple[Server, ...]
    order_every_months: int


# multi-node training needs 8-GPU nodes and their interconnect (SPEC 17)
DEFAULT_NODE_GPUS = 8


@dataclass(frozen=True)
class Workload:
    """One workload; ``gpu_hours`` is set for training and ``gpus`` for inference."""

    name: str
    kind: WorkloadKind
    speeds: dict[str, float]             # acceptable GPU classes, relative speed
    window: tuple[str, str]
    gpu_hours: float | None = None
    gpus: float | None = None
    growth_per_month: float = 0.0
    interruptible: bool = False
    spot_overhead: float = 0.0
    dataset_tb: float = 0.0
    data_at: str | None = None
    single_venue: bool = False
    users: dict[str, float] | None = None
    max_latency_ms: float | None = None
    availability: float | None = None
    egress_tb_per_month: float = 0.0
    storage_tb: float = 0.0
    # training that recurs: ``gpu_hours`` is one run's, in the window's first month and every
    # ``every_months`` after it; None: one run spread evenly over the window
    every_months: int | None = None
    # inference sized from a model: GB its weights need in one instance or server (SPEC 14)
    weights_gb: float | None = None
    from_model: bool = False             # sized from its model (SPEC 14)
    # a gang (SPEC 17): each run in one venue on one GPU class, on nodes of at least
    # ``node_gpus`` GPUs when it needs more GPUs than one node holds
    gang: bool = False
    node_gpus: int = DEFAULT_NODE_GPUS

    def __post_init__(self) -> None:
        at = f"workloads ({self.name})"
        for gpu, speed in self.speeds.items():
            _within(f"{at}.gpu.{gpu}", speed, 0, above=True)
        # demand may reach 0 (a lever drawn at 0), never below
        for key in ("gpu_hours", "gpus", "spot_overhead", "dataset_tb", "egress_tb_per_month",
                    "storage_tb"):
            _within(f"{at}.{key}", getattr(self, key), 0)
        _within(f"{at}.growth_per_month", self.growth_per_month, -1, above=True)
        _within(f"{at}.max_latency_ms", self.max_latency_ms, 0, above=True)
        _within(f"{at}.availability", self.availability, 0, 1, above=True, below=True)
        _within(f"{at}.node_gpus", self.node_gpus, 1)
        for metro, share in (self.users or {}).items():
            _within(f"{at}.users.{metro}", share, 0, 1)

    @property
    def training(self) -> bool:
        return self.kind == WorkloadKind.TRAINING


@dataclass(frozen=True)
class Plan:
    """A plan with every default filled in."""

    plan: Settings
    cloud: Cloud
    prices: Prices
    onprem: OnPrem
    workloads: tuple[Workload, ...]
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    trends: Trends = field(default_factory=Trends)
    # [uncertainty]: lever -> how it may vary (``tco risk``; the levers are tco.analysis's)
    uncertainty: dict[str, Spread] = field(default_factory=dict)
    finance: Finance = field(default_factory=Finance)

    @property
    def months(self) -> int:
        return self.plan.months

    def month_label(self, offset: int) -> str:
        return month_label(self.plan.start, offset)

    def site(self, name: str) -> Site:
        return next(s for s in self.onprem.sites if s.name == name)

    def server(self, name: str) -> Server:
        return next(s for s in self.onprem.servers if s.name == name)

    def offset(self, month: str) -> int:
        """Months from the plan's first month to ``month`` (YYYY-MM)."""
        return month_offset(self.plan.start, month)

    def runs(self, w: Workload) -> list[range]:
        """A training workload's runs, as month ranges: its window, or each month it recurs
        in (``every_months``)."""
        months = self.window(w)
        if w.every_months:
            return [range(m, m + 1) for m in months if (m - months.start) % w.every_months == 0]
        return [months]

    def multi_node(self, w: Workload, gpu: str) -> bool:
        """Whether a gang run of ``w`` on class ``gpu`` needs more GPUs than one node holds:
        its GPU-hours a month on that class, over 730, exceed ``node_gpus`` (SPEC 17)."""
        if not (w.gang and w.training and w.gpu_hours) or gpu not in w.speeds:
            return False
        months = len(self.window(w))
        per_month = w.gpu_hours if w.every_months else w.gpu_hours / months
        return per_month / w.speeds[gpu] / HOURS_PER_MONTH > w.node_gpus + 1e-9

    def window(self, w: Workload) -> range:
        """The months of ``w``'s window, as offsets from the plan's first month."""
        return range(month_offset(self.plan.start, w.window[0]),
                     month_offset(self.plan.start, w.window[1]) + 1)


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
    """A resolved plan, the list of what was assumed, and warnings about values far outside
    the range of published figures (each naming its key path)."""

    plan: Plan
    assumptions: tuple[Assumption, ...]
    origin: str
    warnings: tuple[str, ...] = ()
    # how each workload given as a model was sized (SPEC 14)
    sizings: tuple[Sizing, ...] = ()


def load_plan(path: str | Path) -> LoadedPlan:
    """Read, validate and resolve a plan file; raises :class:`PlanError` naming file and key."""
    return plan_from_dict(planfile.read(path), origin=str(path))


def plan_from_dict(doc: dict[str, Any] | PlanFile, origin: str = "<plan>") -> LoadedPlan:
    """Validate and resolve a plan given as the dict a TOML parser would return (or as the
    schema's objects, built in code)."""
    return resolve(planfile.validate(doc, origin), origin)


# --------------------------------------------------------------------------------------------
# defaults: which key of defaults.csv fills which field, in one table

# section -> {field: defaults.csv key}; every field here is filled when the plan leaves it out
_FIELD_DEFAULTS: dict[str, dict[str, str]] = {
    "plan": {"discount_rate": "plan.discount_rate"},
    "cloud": {"region_availability": "cloud.region_availability",
              "commit_every_months": "cloud.commit_every_months"},
    "onprem": {"order_every_months": "onprem.order_every_months"},
    "sites": {k: f"sites.{k}" for k in (
        "pue", "electricity_usd_per_kwh", "colo_usd_per_kw_month", "staff_usd_per_server_month",
        "storage_usd_per_tb_month", "egress_usd_per_gb", "availability")},
    "servers": {k: f"servers.{k}" for k in (
        "idle_power_fraction", "useful_life_months", "decommission_usd", "resale_fee_fraction",
        "maintenance_rate", "lead_time_months", "max_utilization")},
    "trends": {k: f"trends.{k}" for k in ("cloud", "servers", "electricity")},
}
# an annual rate outside this range is allowed but warned about: published rates of GPU and
# electricity prices lie well inside it (docs/prices-over-time.md)
_PLAUSIBLE_RATE = (-0.6, 1.0)
_WHOLE = {"commit_every_months", "order_every_months", "useful_life_months", "lead_time_months"}


class _Resolver:
    """Fills defaults and records each one used; collects the keys with no default."""

    def __init__(self) -> None:
        self.assumptions: list[Assumption] = []
        self.missing: list[str] = []

    def take(self, key: str, where: str, label: str | None = None) -> Default | None:
        d = defaults().get(key)
        if d is None:
            self.missing.append(f"{where}: required (tco ships no sourced default for it)")
            return None
        self.assumptions.append(Assumption(label or where, d.display, d.citation))
        return d

    def fill(self, section: str, obj: Any, where: str, name: str | None = None,
             extra: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
        """``obj``'s fields, each one left out taken from the table (and ``extra``)."""
        values = dict(obj)
        for f, key in (*_FIELD_DEFAULTS[section].items(), *extra):
            if values.get(f) is None:
                label = f"{where}.{f}" + (f" ({name})" if name else "")
                d = self.take(key, f"{where}.{f}", label)
                if d is not None:
                    values[f] = int(d.value) if f in _WHOLE else d.value
        return values


def _financing(f: planfile.FinancingEntry | None) -> Financing | None:
    if f is None:
        return None
    return Financing(f.kind.value, f.months, f.usd_per_month or 0.0, f.buyout_usd,
                     f.rate or 0.0, f.down_fraction or 0.0)


def resolve(file: PlanFile, origin: str = "<plan>") -> LoadedPlan:
    """The resolved plan of a validated plan file; raises :class:`PlanError` naming every key
    that has no sourced default and was left out."""
    r = _Resolver()
    p = r.fill("plan", file.plan, "plan")
    settings = Settings(p["name"], p["start"], p["months"], p["discount_rate"],
                        p["capex_budget_usd"], SolverName(p["solver"]), p["mip_gap"],
                        file.plan.fiscal_year_start)

    c = r.fill("cloud", file.cloud, "cloud")
    discounts = dict(file.cloud.discounts)
    missing = [prov for prov in file.cloud.providers if prov not in discounts]
    if missing:
        d = r.take("cloud.discount", "cloud.discounts",
                   f"cloud.discounts ({', '.join(prov.value for prov in missing)})")
        if d is not None:
            discounts.update(dict.fromkeys(missing, d.value))
    cloud = Cloud(tuple(file.cloud.providers),
                  tuple(file.cloud.regions) if file.cloud.regions is not None else None,
                  tuple(file.cloud.purchase_options), discounts,
                  tuple(Quota(q.provider, q.region, q.gpu, q.max_gpus) for q in file.cloud.quotas),
                  c["region_availability"], c["commit_every_months"],
                  tuple(Quote(q.name, q.provider, q.gpu, q.location, q.gpus, q.usd_per_gpu_hour,
                              q.start, q.months, q.upfront_usd, q.optional, q.as_of)
                        for q in file.cloud.quotes))

    sites = []
    for i, s in enumerate(file.onprem.sites):
        v = r.fill("sites", s, f"onprem.sites[{i}]", s.name)
        location = s.location if isinstance(s.location, str) else LatLon(s.location.lat,
                                                                          s.location.lon)
        sites.append(Site(s.name, location, s.power_kw, v["pue"], v["electricity_usd_per_kwh"],
                          v["colo_usd_per_kw_month"], v["staff_usd_per_server_month"],
                          v["storage_usd_per_tb_month"], v["egress_usd_per_gb"],
                          v["availability"],
                          tuple(Existing(e.server, e.count, e.age_months) for e in s.existing)))
    servers = []
    for i, z in enumerate(file.onprem.servers):
        where = f"onprem.servers[{i}]"
        # no book value given: valued at what the market pays for used servers
        extra = (("resale_retention_per_year", "servers.resale_retention_per_year"),) if (
            z.residual_fraction is None) else ()
        v = r.fill("servers", z, where, z.name, extra)
        network = z.network_usd
        if network is None:
            d = r.take("servers.network_usd_fraction", f"{where}.network_usd")
            if d is not None:
                network = round(z.price_usd * d.value, 2)
                r.assumptions[-1] = Assumption(f"{where}.network_usd ({z.name})",
                                               f"{network:,.2f} (= {d.value:g} x price_usd)",
                                               d.citation)
        servers.append(Server(
            z.name, z.gpu, z.gpus, z.price_usd, network if network is not None else 0.0,
            z.power_kw,
            v["idle_power_fraction"], v["useful_life_months"], z.residual_fraction,
            v.get("resale_retention_per_year"), v["resale_fee_fraction"], v["decommission_usd"],
            v["maintenance_rate"], v["lead_time_months"], v["max_utilization"],
            z.available_from, 1.0, _financing(z.financing)))
    onprem = OnPrem(tuple(sites), tuple(servers),
                    r.fill("onprem", file.onprem, "onprem")["order_every_months"]
                    if file.onprem.servers else 1)

    sizings: list[Sizing] = []
    workloads = [_workload(r, i, w, settings, cloud, sizings)
                 for i, w in enumerate(file.workloads)]
    t = r.fill("trends", file.trends, "trends")
    trends = Trends(t["cloud"], dict(file.trends.cloud_by_gpu), t["servers"], t["electricity"])
    if r.missing:
        raise PlanError(planfile.join(origin, r.missing))
    plan = Plan(settings, cloud, Prices(file.prices.refresh), onprem, tuple(workloads),
                {metro: dict(table) for metro, table in file.latency.items()}, trends,
                dict(file.uncertainty),
                Finance(file.finance.tax_rate, file.finance.criterion.value))
    return LoadedPlan(plan, tuple(r.assumptions), origin,
                      (*_warnings(file), *_implausible(plan)), tuple(sizings))


def _implausible(plan: Plan) -> list[str]:
    """Site, server and workload figures far outside the range of published ones
    (``plausible.csv``): allowed, but named with their key path and what they are compared
    to."""
    ranges = plausible()
    out = []

    def check(key: str, where: str, value: float) -> None:
        r = ranges.get(key)
        if r is not None and not r.low <= value <= r.high:
            side = "above" if value > r.high else "below"
            bound = r.high if value > r.high else r.low
            out.append(f"{where} = {value:,.6g} {r.unit} is {side} {bound:,.6g}, far from "
                       f"published figures: {r.note}")
    for i, site in enumerate(plan.onprem.sites):
        for name in ("electricity_usd_per_kwh", "pue", "colo_usd_per_kw_month",
                      "staff_usd_per_server_month"):
            check(f"sites.{name}", f"onprem.sites[{i}].{name}", getattr(site, name))
    for i, w in enumerate(plan.workloads):
        # the GPUs of the reference class a workload keeps busy at once, at its peak: a
        # training run's GPU-hours over the hours of its window (or of one recurrence's
        # month), an inference service's GPUs at the end of its growth
        months = len(plan.window(w))
        if w.training and w.gpu_hours:
            hours = (1 if w.every_months else months) * HOURS_PER_MONTH
            where = f"workloads[{i}].gpu_hours / hours of its {'run' if w.every_months else 'window'}"
            check("workloads.concurrent_gpus", where, w.gpu_hours / hours)
        elif w.gpus:
            peak = w.gpus * max(1.0, (1 + w.growth_per_month) ** (months - 1))
            check("workloads.concurrent_gpus", f"workloads[{i}].gpus at its peak", peak)
    for i, server in enumerate(plan.onprem.servers):
        check("servers.price_usd_per_gpu", f"onprem.servers[{i}].price_usd / gpus",
              server.price_usd / server.gpus)
        check("servers.maintenance_rate", f"onprem.servers[{i}].maintenance_rate",
              server.maintenance_rate)
    return out


def _warnings(file: PlanFile) -> list[str]:
    """Values far outside the range of published figures: allowed, but named."""
    out = []
    low, high = _PLAUSIBLE_RATE
    rates = {f"trends.{k}": getattr(file.trends, k) for k in ("cloud", "servers", "electricity")}
    rates.update({f"trends.cloud_by_gpu.{g}": v for g, v in file.trends.cloud_by_gpu.items()})
    for key, rate in rates.items():
        if rate is not None and not low <= rate <= high:
            out.append(f"{key} = {rate:g}: a price change of {rate:+.0%} a year, outside the "
                       f"{low:+.0%} to {high:+.0%} that published GPU and electricity price "
                       f"trends span")
    return out


def _sized(r: _Resolver, where: str, w: planfile.WorkloadSection,
           sizings: list[Sizing]) -> tuple[dict[str, float], float | None, float | None]:
    """Speeds, GPU-hours and GPUs of a workload, derived from its model when it gives one
    (each class's figure recorded as an assumption)."""
    try:
        sizing = size_workload(w)
    except SizingError as exc:
        r.missing.append(f"{where}.gpu: {exc}")
        return w.speeds, w.gpu_hours, w.gpus
    if sizing is None:
        return w.speeds, w.gpu_hours, w.gpus
    sizings.append(sizing)
    assert w.model is not None
    if w.kind == WorkloadKind.INFERENCE and w.model.precision is None:
        r.assumptions.append(Assumption(f"{where}.model.precision ({w.name})",
                                        DEFAULT_PRECISION.value,
                                        "tco default: weights served in 16-bit (SPEC 14)"))
    unit = "GPU-hours per run" if sizing.quantity == "gpu_hours" else "GPUs"
    for c in sizing.classes:
        if c.excluded is not None:
            r.assumptions.append(Assumption(f"{where}.gpu.{c.gpu} ({w.name})", "left out",
                                            c.excluded))
            continue
        assert c.amount is not None and c.rate is not None
        if sizing.quantity == "gpu_hours":
            how = f"{sizing.demand:.4g} FLOPs / ({c.figure} x 3600 s)"
        else:
            how = f"{sizing.demand:,.6g} tokens/s / {c.rate:,.1f} tokens/s per GPU"
        r.assumptions.append(Assumption(f"{where}.{sizing.quantity}.{c.gpu} ({w.name})",
                                        f"{c.amount:,.2f} {unit} = {how}", c.source))
    ref = sizing.reference
    if sizing.quantity == "gpu_hours":
        return sizing.speeds, ref.amount, None
    return sizing.speeds, None, ref.amount


def _workload(r: _Resolver, i: int, w: planfile.WorkloadSection, settings: Settings,
              cloud: Cloud, sizings: list[Sizing]) -> Workload:
    where = f"workloads[{i}]"
    speeds, gpu_hours, gpus = _sized(r, where, w, sizings)
    growth = w.growth_per_month
    if growth is None:
        growth = 0.0
        if w.kind == WorkloadKind.INFERENCE:
            d = r.take("workloads.growth_per_month", f"{where}.growth_per_month",
                       f"{where}.growth_per_month ({w.name})")
            growth = d.value if d is not None else 0.0
    overhead = w.spot_overhead
    if overhead is None:
        overhead = 0.0
        if w.interruptible and Purchase.SPOT in cloud.purchase_options:
            d = r.take("workloads.spot_overhead", f"{where}.spot_overhead",
                       f"{where}.spot_overhead ({w.name})")
            overhead = d.value if d is not None else 0.0
    window = w.window
    if window is None:
        window = (settings.start, month_label(settings.start, settings.months - 1))
        r.assumptions.append(Assumption(f"{where}.window ({w.name})",
                                        f"{window[0]} .. {window[1]}",
                                        "tco default: a workload without a window runs over the whole "
                                        "horizon (docs/plan-file.md)"))
    if not w.interruptible:
        r.assumptions.append(Assumption(f"{where}.interruptible ({w.name})", "false",
                                        "tco default: no spot unless the workload says it may "
                                        "be interrupted"))
    weights = sizings[-1].weights_gb if sizings and sizings[-1].workload == w.name else None
    gang = w.gang
    if gang is None:
        gang = w.kind == WorkloadKind.TRAINING and w.model is not None and not w.interruptible
        if gang:
            r.assumptions.append(Assumption(
                f"{where}.gang ({w.name})", "true",
                "tco default: a training run sized from its model and not interruptible runs "
                "as one job, in one venue on one GPU class; gang = false makes it a pool of "
                "independent jobs (docs/plan-file.md, \"Training runs as gangs\")"))
    node_gpus = w.node_gpus
    if node_gpus is None:
        node_gpus = DEFAULT_NODE_GPUS
        if gang:
            r.assumptions.append(Assumption(
                f"{where}.node_gpus ({w.name})", str(DEFAULT_NODE_GPUS),
                "tco default: a multi-node run needs nodes of 8 GPUs and their interconnect "
                "(the HGX/DGX 8-GPU baseboard); instances and servers with fewer GPUs are "
                "left out of a run that needs more GPUs than that"))
    return Workload(w.name, w.kind, speeds, (window[0], window[1]), gpu_hours, gpus,
                    growth, w.interruptible, overhead, w.dataset_tb, w.data_at, w.single_venue,
                    dict(w.users) if w.users is not None else None, w.max_latency_ms,
                    w.availability, w.egress_tb_per_month, w.storage_tb, w.every_months,
                    weights, w.model is not None, gang, node_gpus)


def plan_inputs(plan: Plan) -> list[tuple[str, object]]:
    """Every input of a resolved plan (defaults filled in) as ``(key path, value)``, in plan
    order: ``onprem.sites[campus].electricity_usd_per_kwh`` → 0.14. Items with a name are
    keyed by it, so that reordering a list changes no key; a list of plain values is one
    value. What ``tco diff`` compares to say which inputs changed."""
    out: list[tuple[str, object]] = []

    def scalar(value: object) -> object:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def walk(value: object, path: str) -> None:
        if is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                walk(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
        elif hasattr(value, "model_dump"):            # a schema object kept as written
            walk(value.model_dump(mode="json", exclude_none=True), path)
        elif isinstance(value, dict):
            for k in value:
                walk(value[k], f"{path}.{getattr(k, 'value', k)}")
        elif isinstance(value, list | tuple):
            if all(not is_dataclass(v) and not isinstance(v, dict | list | tuple)
                   for v in value):
                out.append((path, ", ".join(str(scalar(v)) for v in value)))
                return
            for i, item in enumerate(value):
                walk(item, f"{path}[{getattr(item, 'name', i)}]")
        else:
            out.append((path, scalar(value)))
    walk(plan, "")
    return out
