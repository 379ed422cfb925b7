"""Rendering ``tco alternatives``: the range of each dimension within the slack, the plans at
its ends, the plans in random directions; as tables, Markdown, JSON (SPEC 19), CSV and an HTML
page with two charts."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console

from tco.analysis.near_optimal import AlternativesResult, DimRange
from tco.optimizer.alternatives import Explored

from .analysis import _csv
from .formats import OutputFormat
from .render import Section, markdown, print_sections, usd

# what each dimension counts, for the notes and the charts
MEANING = {
    "onprem_gpus": "GPUs of servers ordered",
    "onprem_gpu_hours": "GPU-hours on owned servers",
    "cloud_gpu_hours": "GPU-hours on any cloud",
    "capex_usd": "price of the servers ordered",
    "committed_usd": "reservations, savings plans, blocks and quotes over their terms",
}


def meaning(dim: str) -> str:
    if dim.startswith("cloud_gpu_hours."):
        return f"GPU-hours on {dim.split('.', 1)[1]}"
    return MEANING.get(dim, dim)


def amount(dim: str, value: float | None) -> str:
    """A dimension's value in its unit: dollars, GPUs or GPU-hours."""
    if value is None:
        return "-"
    if dim.endswith("_usd"):
        return usd(value)
    if dim == "onprem_gpus":
        return f"{value:,.0f} GPUs"
    return f"{value:,.0f} GPU-h"


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b)) + 0.5e-3


def _proven(d: DimRange) -> str:
    """``exact`` when the bounds proved are the least and most found; else the range no plan
    within the slack can leave."""
    if _close(d.min, d.min_bound) and _close(d.max, d.max_bound):
        return "exact"
    return f"{amount(d.dim, d.min_bound)} .. {amount(d.dim, d.max_bound)}"


def _orders(e: Explored) -> str:
    r = e.result
    if r is None:
        return "-"
    bought: dict[str, int] = {}
    for p in r.procurement:
        bought[p.server] = bought.get(p.server, 0) + p.count
    return ", ".join(f"{n} {s}" for s, n in sorted(bought.items())) or "none"


def _sold(e: Explored) -> str:
    r = e.result
    if r is None:
        return "-"
    sold = sum(x.count for x in r.retirements if x.reason == "sold")
    return f"{sold}" if sold else "none"


def _commits(e: Explored) -> str:
    if e.result is None:
        return "-"
    value = e.values.get("committed_usd")
    return "none" if not value else usd(value)


def sections(r: AlternativesResult) -> list[Section]:
    if r.budget_usd is None:
        return []
    ranges = [[d.dim, amount(d.dim, d.optimum), amount(d.dim, d.min), usd(d.low.npv_usd),
               amount(d.dim, d.max), usd(d.high.npv_usd), _proven(d)] for d in r.dims]
    out: list[Section] = [(
        (f"Within {r.slack:.1%} of the optimal NPV {usd(r.optimum_npv_usd)}: every plan up to "
         f"{usd(r.budget_usd)}; each dimension's least and most, with the NPV of the cheapest "
         f"plan there; proven = the range no plan within the slack leaves"),
        ["dimension", "optimum", "least", "NPV at least", "most", "NPV at most", "proven"],
        ranges, {1, 2, 3, 4, 5})]
    ends = []
    for d in r.dims:
        if _close(d.min, d.max):
            continue
        for end, e in (("least", d.low), ("most", d.high)):
            ends.append([d.dim, end, _orders(e), _sold(e), _commits(e),
                         f"{e.excess_gpu_hours:,.0f}" if e.result else "-", usd(e.npv_usd)])
    out.append((("The plans at the ends of each range that has one (servers ordered and "
                 "sold, commitments over their terms, GPU-hours paid for beyond the demand)"),
                ["dimension", "end", "servers ordered", "sold", "committed", "beyond demand",
                 "NPV"], ends, {5, 6}))
    if r.points:
        dims = list(r.points[0].explored.values)
        rows = [[str(k + 1), *(amount(d, p.explored.values.get(d)) for d in dims),
                 usd(p.explored.npv_usd)] for k, p in enumerate(r.points)]
        out.append(((f"Plans in {len(r.points)} random directions (seed {r.seed}): each "
                     f"minimizes a random weighted sum of the dimensions, scaled by their "
                     f"ranges; any plan within the slack, not the cheapest"),
                    ["#", *dims, "NPV"], rows, set(range(1, len(dims) + 2))))
    return out


def lead(r: AlternativesResult) -> list[str]:
    """The answer: the optimum, and how much freedom the slack leaves."""
    if r.budget_usd is None:
        return [f"No feasible plan: {r.optimum.reason}"]
    gap = r.optimum.solver.gap_usd if r.optimum.solver else None
    out = [f"Optimum: {r.optimum.name}, NPV {usd(r.optimum_npv_usd)}"
           + ("" if gap is None else f" (at most {usd(gap)} above the best plan)")]
    free = [f"{meaning(d.dim)} from {amount(d.dim, d.min)} to {amount(d.dim, d.max)}"
            for d in r.dims if not _close(d.min, d.max)]
    fixed = [d.dim for d in r.dims if _close(d.min, d.max)]
    if free:
        out.append(f"Within {r.slack:.1%} ({usd(r.budget_usd - (r.optimum_npv_usd or 0.0))} "
                   f"more at most): " + "; ".join(free))
    if fixed:
        out.append(f"The same in every plan within {r.slack:.1%}: {', '.join(fixed)}")
    return out


def notes(r: AlternativesResult) -> list[str]:
    out = lead(r)
    if r.unproven:
        out.append("warning: the optimum is unproven (its gap is over 5% or unknown): the "
                   "ranges are measured from a plan that may not be the cheapest "
                   "(docs/solving.md)")
    idle = [f"{d.dim} ({d.high.excess_gpu_hours:,.0f})" for d in r.dims
            if "gpu_hours" in d.dim and d.high.excess_gpu_hours > 0.5]
    if idle:
        out.append("The most GPU-hours of " + ", ".join(idle) + " include GPU-hours paid for "
                   "beyond the demand: within the slack a plan can buy hours it does not "
                   "need; read the most as hours paid for, and the least as a floor")
    for d in r.dims:
        for side, beyond in (("least", min((p.explored.values.get(d.dim, math.inf)
                                            for p in r.points), default=math.inf)),
                             ("most", max((p.explored.values.get(d.dim, -math.inf)
                                           for p in r.points), default=-math.inf))):
            found = d.min if side == "least" else d.max
            if found is None or not math.isfinite(beyond) or _close(beyond, found):
                continue
            if (beyond < found) if side == "least" else (beyond > found):
                out.append(f"A random direction found a plan with {amount(d.dim, beyond)} of "
                           f"{d.dim}, beyond the {side} its own search found within its work "
                           f"budget: the proven range ({_proven(d)}) is how far that end "
                           f"may be")
    if r.budget_usd is not None:
        out.append("An extreme's NPV is that of the cheapest plan found at it (the dimension "
                   "held at its least or most, the cost minimized); a dimension's least is "
                   "proven by the search's bound where the range says exact")
    out += [f"warning: {d} failed twice and is left out" for d in r.failed]
    if r.stopped_by_time:
        out.append(f"warning: {r.stopped_by_time} solves were stopped by the time limit, not "
                   f"their work budget: their ranges may differ on another machine")
    out += list(r.notes)
    return out


def rows(r: AlternativesResult) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.to_dict().items() if k not in ("at_min", "at_max")}
            for d in r.dims]


def figures(r: AlternativesResult) -> list[tuple[str, str]]:
    from . import charts

    if not r.dims:
        return []
    out = [((f"The range of each dimension within {r.slack:.1%} of the optimal NPV, each on "
             f"its own scale (diamond: the optimum)"),
            charts.alternative_ranges([
                (d.dim, d.min or 0.0, d.max or 0.0, d.optimum, amount(d.dim, d.min),
                 amount(d.dim, d.max)) for d in r.dims]))]
    x, y = r.plot or ((r.dims[0].dim, r.dims[1].dim) if len(r.dims) > 1 else (None, None))
    if x is not None and y is not None and x in r.optimum_values and y in r.optimum_values:
        extremes = [(e.values[x], e.values[y]) for d in r.dims for e in (d.low, d.high)
                    if x in e.values and y in e.values]
        points = [(p.explored.values[x], p.explored.values[y]) for p in r.points
                  if x in p.explored.values and y in p.explored.values]
        out.append(((f"Plans within {r.slack:.1%} of the optimal NPV: {meaning(x)} against "
                     f"{meaning(y)}"),
                    charts.alternative_points(x, y, points,
                                              (r.optimum_values[x], r.optimum_values[y]),
                                              extremes)))
    return out


def _subtitle(r: AlternativesResult) -> str:
    return (f"{r.months} months from {r.start}; slack {r.slack:.1%}, every solve to "
            f"{r.gap:.2%}.")


def render(r: AlternativesResult, fmt: OutputFormat, console: Console) -> str | None:
    """Text for a file or stdout; the table format prints to ``console`` and returns None."""
    title = f"Alternatives: {r.plan_name}"
    if fmt == OutputFormat.TABLE:
        print_sections(console, f"[bold]{title}[/bold]", sections(r), notes(r))
        return None
    if fmt == OutputFormat.JSON:
        return json.dumps(r.to_dict(), indent=2) + "\n"
    if fmt == OutputFormat.CSV:
        return _csv(rows(r))
    if fmt == OutputFormat.MARKDOWN:
        return markdown(title, _subtitle(r), sections(r), notes(r))
    from .html import page

    first = lead(r)
    return page(title, _subtitle(r), figures(r), sections(r),
                [n for n in notes(r) if n not in first], first)
