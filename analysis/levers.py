"""Levers (SPEC 12): what a decision analysis varies, applied to a loaded plan and catalog
without editing any file.

A lever is a named one, a multiplier on a family of inputs (``cloud_prices``, ``demand.chat``,
...) or an absolute value (``discount_rate``, ``trends.cloud``), or a numeric key path of the
plan file (``onprem.sites[0].electricity_usd_per_kwh``, ``cloud.discounts.aws``), set to an
absolute value. :func:`lever` parses one against a plan, naming the key and a likely spelling
when it does not fit; :meth:`Lever.apply` returns the plan and catalog with it set.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tco.optimizer.errors import PlanError
from tco.optimizer.plan import Plan, Server, Site, Trends, Workload
from tco.optimizer.planfile import Dist, Spread
from tco.pricing.models import Catalog, ComputePrice, Purchase
from tco.pricing.names import did_you_mean

__all__ = ["NAMED", "Lever", "LeverError", "Scale", "apply", "lever", "plan_levers",
           "uncertain"]


class LeverError(PlanError):
    """A lever that names nothing in the plan, or names something that is not a number."""


class Scale(StrEnum):
    """How a lever's value is read: a multiplier (1 is the plan as written) or the value."""

    MULTIPLIER = "multiplier"
    ABSOLUTE = "absolute"


Change = Callable[[Plan, Catalog, float], tuple[Plan, Catalog]]


@dataclass(frozen=True)
class Lever:
    """One parameter of a decision analysis."""

    name: str
    scale: Scale
    base: float                     # its value in the plan as written
    _change: Change = dataclasses.field(repr=False, compare=False)

    def apply(self, plan: Plan, catalog: Catalog, value: float) -> tuple[Plan, Catalog]:
        """The plan and catalog with this lever at ``value``."""
        return self._change(plan, catalog, value)


def _prices(catalog: Catalog, x: float, keep: Callable[[ComputePrice], bool]) -> Catalog:
    return replace(catalog, compute=tuple(
        replace(r, usd_per_hour=r.usd_per_hour * x, upfront_usd=r.upfront_usd * x)
        if keep(r) else r for r in catalog.compute))


def _servers(plan: Plan, change: Callable[[Server], Server]) -> Plan:
    return replace(plan, onprem=replace(plan.onprem, servers=tuple(
        change(z) for z in plan.onprem.servers)))


def _sites(plan: Plan, change: Callable[[Site], Site]) -> Plan:
    return replace(plan, onprem=replace(plan.onprem, sites=tuple(
        change(s) for s in plan.onprem.sites)))


def _workloads(plan: Plan, change: Callable[[Workload], Workload],
               only: str | None = None) -> Plan:
    return replace(plan, workloads=tuple(
        change(w) if only is None or w.name == only else w for w in plan.workloads))


def _demand(w: Workload, x: float) -> Workload:
    """``w`` needing x times its GPUs or GPU-hours for the same work (``mfu``,
    ``throughput``): what it sends out stays."""
    if w.training:
        return replace(w, gpu_hours=(w.gpu_hours or 0.0) * x)
    return replace(w, gpus=(w.gpus or 0.0) * x)


def _more_work(w: Workload, x: float) -> Workload:
    """``w`` with x times its demand (``demand``, ``demand.<workload>``): a service x times
    the traffic, so x times the GPUs and x times the egress; a training run x times the
    GPU-hours, sending out what it did (its checkpoints and results do not grow with them)."""
    if w.training:
        return _demand(w, x)
    return replace(_demand(w, x), egress_tb_per_month=w.egress_tb_per_month * x)


def _multiplier(name: str, change: Change) -> Lever:
    return Lever(name, Scale.MULTIPLIER, 1.0, change)


# the named levers (SPEC 12) that need no argument
NAMED: dict[str, Change] = {
    "cloud_prices": lambda p, c, x: (p, _prices(c, x, lambda r: True)),
    "spot_prices": lambda p, c, x: (p, _prices(c, x, lambda r: r.purchase == Purchase.SPOT)),
    # a lease's payments and buyout move with the price (a loan's follow it by themselves)
    "server_prices": lambda p, c, x: (_servers(p, lambda z: replace(
        z, price_usd=z.price_usd * x, network_usd=z.network_usd * x,
        financing=None if z.financing is None else z.financing.scaled(x))), c),
    "electricity": lambda p, c, x: (_sites(p, lambda s: replace(
        s, electricity_usd_per_kwh=s.electricity_usd_per_kwh * x)), c),
    "demand": lambda p, c, x: (_workloads(p, lambda w: _more_work(w, x)), c),
    "utilization": lambda p, c, x: (_servers(p, lambda z: replace(
        z, max_utilization=min(1.0, z.max_utilization * x))), c),
    "resale": lambda p, c, x: (_servers(p, lambda z: replace(
        z, value_factor=z.value_factor * x)), c),
    # the rates a model's workload was sized with (SPEC 14): x times the MFU of every class
    # divides a training run's GPU-hours by x; x times the throughput divides the GPUs
    "mfu": lambda p, c, x: (_workloads(p, lambda w: _demand(w, _per("mfu", x)) if (
        w.training and w.from_model) else w), c),
    "throughput": lambda p, c, x: (_workloads(p, lambda w: _demand(w, _per("throughput", x))
                                              if not w.training and w.from_model else w), c),
}
_RATES = ("mfu", "throughput")      # multipliers on a rate: they must stay above 0


def _per(name: str, x: float) -> float:
    if x <= 0:
        raise LeverError(f"{name}: a multiplier on a rate must be above 0 (got {x:g})")
    return 1 / x
_ABSOLUTE_NAMES = ("discount_rate", "trends.cloud", "trends.servers", "trends.electricity",
                   "trends.cloud_by_gpu.<GPU>")
_FAMILIES = ("cloud_prices.<provider>", "demand.<workload>")


def lever(name: str, plan: Plan, where: str = "parameter") -> Lever:
    """The lever ``name`` of ``plan``; raises :class:`LeverError` naming ``where`` (the key
    path or option it came from) and a likely spelling."""
    if name in NAMED:
        return _multiplier(name, NAMED[name])
    head, _, rest = name.partition(".")
    if head == "cloud_prices" and rest:
        providers = [p.value for p in plan.cloud.providers]
        if rest not in providers:
            raise LeverError(f"{where}: '{name}': the plan has no provider '{rest}'"
                             f"{_suggest(rest, providers)} (its providers: "
                             f"{', '.join(providers)})")
        return _multiplier(name, lambda p, c, x: (p, _prices(c, x, lambda r: r.provider == rest)))
    if head == "demand" and rest:
        names = [w.name for w in plan.workloads]
        if rest not in names:
            raise LeverError(f"{where}: '{name}': no workload named '{rest}'"
                             f"{_suggest(rest, names)}")
        return _multiplier(name, lambda p, c, x: (_workloads(p, lambda w: _more_work(w, x), rest),
                                                  c))
    if name == "discount_rate":
        return Lever(name, Scale.ABSOLUTE, plan.plan.discount_rate, lambda p, c, x: (
            replace(p, plan=replace(p.plan, discount_rate=x)), c))
    if head == "trends" and rest:
        return _trend(name, rest, plan, where)
    if head in ("plan", "cloud", "onprem", "workloads") or "[" in name:
        return _key_path(name, plan, where)
    known = [*NAMED, *_FAMILIES, *_ABSOLUTE_NAMES]
    raise LeverError(f"{where}: unknown parameter '{name}'{_suggest(name, known)}; expected a "
                     f"lever ({', '.join(known)}) or a numeric key path of the plan file "
                     f"such as onprem.sites[0].electricity_usd_per_kwh")


def _trend(name: str, rest: str, plan: Plan, where: str) -> Lever:
    trends = plan.trends
    if rest in ("cloud", "servers", "electricity"):
        def set_rate(p: Plan, c: Catalog, x: float) -> tuple[Plan, Catalog]:
            t = p.trends
            rates = {"cloud": t.cloud, "servers": t.servers, "electricity": t.electricity,
                     rest: x}
            return replace(p, trends=Trends(rates["cloud"], t.cloud_by_gpu, rates["servers"],
                                            rates["electricity"])), c
        return Lever(name, Scale.ABSOLUTE, float(getattr(trends, rest)), set_rate)
    kind, _, gpu = rest.partition(".")
    if kind == "cloud_by_gpu" and gpu:
        from tco.pricing.reference import gpu_classes

        if gpu not in gpu_classes():
            raise LeverError(f"{where}: '{name}': unknown GPU class '{gpu}'"
                             f"{_suggest(gpu, list(gpu_classes()))}")

        def set_gpu(p: Plan, c: Catalog, x: float) -> tuple[Plan, Catalog]:
            return replace(p, trends=replace(p.trends, cloud_by_gpu={
                **p.trends.cloud_by_gpu, gpu: x})), c
        return Lever(name, Scale.ABSOLUTE, trends.cloud_rate(gpu), set_gpu)
    keys = ["cloud", "servers", "electricity", "cloud_by_gpu.<GPU>"]
    raise LeverError(f"{where}: '{name}': unknown trend '{rest}'{_suggest(rest, keys)}; "
                     f"expected one of trends.{', trends.'.join(keys)}")


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str, where: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        pos = 0
        for m in _STEP.finditer(part):
            if m.start() != pos:
                raise LeverError(f"{where}: '{path}': not a key path (keys joined by dots, list "
                                 f"entries indexed, as onprem.sites[0].pue)")
            out.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
            pos = m.end()
        if pos != len(part) or not part:
            raise LeverError(f"{where}: '{path}': not a key path (keys joined by dots, list "
                                 f"entries indexed, as onprem.sites[0].pue)")
    return out


def _key_path(name: str, plan: Plan, where: str) -> Lever:
    """A numeric value of the resolved plan at a plan-file key path."""
    steps = _steps(name, where)
    node: Any = plan
    for i, step in enumerate(steps):
        at = _shown(steps[:i + 1])
        if isinstance(step, int):
            if not isinstance(node, tuple) or not 0 <= step < len(node):
                size = len(node) if isinstance(node, tuple) else 0
                raise LeverError(f"{where}: '{name}': {at} is out of range ({size} entries)")
            node = node[step]
        elif dataclasses.is_dataclass(node):
            fields = [f.name for f in dataclasses.fields(node)]
            if step not in fields:
                raise LeverError(f"{where}: '{name}': no key '{step}' at {_shown(steps[:i]) or 'the top'}"
                                 f"{_suggest(step, fields)}")
            node = getattr(node, step)
        elif isinstance(node, dict):
            keys = {str(getattr(k, "value", k)): k for k in node}
            if step not in keys:
                raise LeverError(f"{where}: '{name}': no key '{step}' at {_shown(steps[:i])}"
                                 f"{_suggest(step, list(keys))}")
            node = node[keys[step]]
        elif isinstance(node, tuple):
            raise LeverError(f"{where}: '{name}': {_shown(steps[:i])} is a list: index it, as "
                             f"{_shown(steps[:i])}[0]")
        else:
            raise LeverError(f"{where}: '{name}': {_shown(steps[:i])} has no keys")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise LeverError(f"{where}: '{name}' is not a number in the plan")
    whole = isinstance(node, int)

    def set_value(p: Plan, c: Catalog, x: float) -> tuple[Plan, Catalog]:
        return _set(p, steps, round(x) if whole else float(x)), c
    return Lever(name, Scale.ABSOLUTE, float(node), set_value)


def _set(node: Any, steps: list[str | int], value: float) -> Any:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(step, int):
        items = list(node)
        items[step] = _set(items[step], rest, value)
        return tuple(items)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return replace(node, **{step: _set(getattr(node, step), rest, value)})
    key = next(k for k in node if str(getattr(k, "value", k)) == step)
    return {**node, key: _set(node[key], rest, value)}


def _shown(steps: list[str | int]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else s)
    return out


def _suggest(value: str, known: Iterable[str]) -> str:
    return did_you_mean(value, known)


def apply(plan: Plan, catalog: Catalog, levers: Mapping[Lever, float]) -> tuple[Plan, Catalog]:
    """The plan and catalog with every lever set, in the order given."""
    for lv, value in levers.items():
        plan, catalog = lv.apply(plan, catalog, value)
    return plan, catalog


def plan_levers(plan: Plan) -> list[str]:
    """The named levers this plan's result can depend on (the default of ``tco
    sensitivity``): cloud prices when it uses a cloud, spot prices when a workload may run on
    spot, server prices, electricity, utilization and resale when it has sites and servers,
    demand always, MFU and throughput when a workload is sized from its model, the discount
    rate when it is not 0."""
    out = []
    if plan.cloud.providers:
        out.append("cloud_prices")
        if (any(w.interruptible for w in plan.workloads)
                and Purchase.SPOT in plan.cloud.purchase_options):
            out.append("spot_prices")
    if plan.onprem.sites and plan.onprem.servers:
        out += ["server_prices", "electricity", "utilization", "resale"]
    out.append("demand")
    if any(w.training and w.from_model for w in plan.workloads):
        out.append("mfu")
    if any(not w.training and w.from_model for w in plan.workloads):
        out.append("throughput")
    if plan.plan.discount_rate:
        out.append("discount_rate")
    return out



def _support(spread: Spread) -> tuple[float, float]:
    """The smallest and largest value ``spread`` can draw."""
    inf = float("inf")
    if spread.dist == Dist.CHOICE:
        values = spread.values or [0.0]
        return min(values), max(values)
    if spread.dist == Dist.LOGNORMAL:
        return 0.0, inf
    low = -inf if spread.low is None else spread.low
    high = inf if spread.high is None else spread.high
    return low, high


def uncertain(plan: Plan, where: str = "uncertainty") -> dict[str, Lever]:
    """The levers of the plan's ``[uncertainty]`` table, each checked against the plan and
    against the values its distribution can draw: a multiplier, a trend or the discount rate
    must stay above -1 (a multiplier at 0 or above), as the plan file's own keys must."""
    out = {}
    for name, spread in plan.uncertainty.items():
        key = f"{where}.{name}" if "." not in name else f'{where}."{name}"'
        lv = lever(name, plan, key)
        low, _ = _support(spread)
        if name in _RATES and low <= 0:
            raise LeverError(f"{key}: a multiplier on a rate must stay above 0, but this "
                             f"{spread.dist.value} distribution can draw {low:g}")
        if lv.scale == Scale.MULTIPLIER and low < 0:
            hint = (" (truncate it: a normal distribution takes 'low' and 'high')"
                    if spread.dist == Dist.NORMAL else "")
            raise LeverError(f"{key}: a multiplier cannot be negative, but this "
                             f"{spread.dist.value} distribution can draw {low:g}{hint}")
        if (name == "discount_rate" or name.startswith("trends.")) and low <= -1:
            hint = (" (truncate it: a normal distribution takes 'low' and 'high')"
                    if spread.dist == Dist.NORMAL else "")
            raise LeverError(f"{key}: a rate must stay above -1, but this "
                             f"{spread.dist.value} distribution can draw {low:g}{hint}")
        out[name] = lv
    return out
