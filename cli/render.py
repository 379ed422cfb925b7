"""Renderers for ``tco compare``: one per output format, all from the same Result."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tco.optimizer import Result, ScenarioResult
from tco.optimizer.finance import OPEX
from tco.optimizer.result import Commitment, Procurement

from .formats import CsvTable, OutputFormat


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) < 0.005:
        value = 0.0
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"${value:,.3f}"


# A section is a title, column headers, rows of text, and which columns are numbers.
Section = tuple[str, list[str], list[list[str]], set[int]]


def scenario_rows(result: Result) -> Section:
    best = result.recommended.npv_usd if result.feasible else None
    taxed = any(s.after_tax_npv_usd is not None for s in result.scenarios)
    rows = []
    for s in result.scenarios:
        mark = " *" if s.name == result.recommended_name else ""
        if s.feasible:
            delta = (s.npv_usd - best) if s.npv_usd is not None and best is not None else None
            rows.append([s.name + mark, "unproven" if s.unproven else "yes", usd(s.npv_usd),
                         *([usd(s.after_tax_npv_usd)] if taxed else []),
                         _delta(delta), usd(s.total_usd), usd(s.capex_usd), usd(s.opex_usd),
                         _rate(s.usd_per_gpu_hour), _gap(s)])
        else:
            rows.append([s.name, f"no [{_note_number(result, s)}]", "-",
                         *(["-"] if taxed else []), "-", "-", "-", "-", "-", "-"])
    chosen = ("the lowest NPV after tax" if result.criterion == "after_tax"
              else "the lowest NPV")
    after = ("; after tax = the NPV of the cash flows less the tax on opex, depreciation and "
             "losses on sales, at finance.tax_rate" if taxed else "")
    return ((f"Scenarios (* = recommended: {chosen}; Δ NPV = how much more than the "
             f"recommended plan; gap = the most a plan may cost above the best one, proven by a "
             f"lower bound, and that as a share of its NPV{after})"),
            ["scenario", "feasible", "NPV", *(["after tax"] if taxed else []), "Δ NPV", "total",
             "capex", "opex", "$/GPU-hour", "gap"], rows,
            set(range(2, 10 if taxed else 9)))


def _delta(value: float | None) -> str:
    if value is None:
        return "-"
    return "0" if abs(value) < 0.5 else f"+{usd(value)}"


def ranking_note(result: Result) -> str | None:
    """A note when the scenarios' totals rank them differently from their NPVs, so that a
    recommendation that spends more in all is read for what it is."""
    feasible = [s for s in result.scenarios if s.feasible and s.total_usd is not None]
    if not result.feasible or len(feasible) < 2:
        return None
    rec = result.recommended
    cheapest = min(feasible, key=lambda s: s.total_usd or 0.0)
    if rec.total_usd is None or cheapest.total_usd is None or \
            cheapest.total_usd >= rec.total_usd - 0.5:
        return None
    return (f"{rec.name} is recommended on NPV, though {cheapest.name} spends less in total "
            f"({usd(cheapest.total_usd)} against {usd(rec.total_usd)}): the NPV discounts "
            f"later cash flows, and {rec.name} spends later or is paid back earlier")


def infeasible_notes(result: Result) -> list[str]:
    """Each infeasible scenario's reason, numbered as the scenarios table refers to it."""
    return [f"[{_note_number(result, s)}] {s.name} is not feasible: {s.reason or 'infeasible'}"
            for s in result.scenarios if not s.feasible]


def _note_number(result: Result, scenario: ScenarioResult) -> int:
    return [s.name for s in result.scenarios if not s.feasible].index(scenario.name) + 1


def venue_rows(s: ScenarioResult) -> Section:
    rows = [[v.venue, f"{v.gpu_hours:,.0f}", usd(v.running_usd),
             _rate(v.running_usd_per_gpu_hour), usd(v.all_in_usd),
             _rate(v.all_in_usd_per_gpu_hour)] for v in s.venues]
    return ((f"Venues: {s.name} (running: hours, reservation fees, a fleet's energy, colo, "
             f"maintenance and staff; all-in adds the servers: price or value at the start, "
             f"less sales and value at the end)"),
            ["venue", "GPU-hours", "running", "$/GPU-h", "all-in", "all-in $/GPU-h"], rows,
            {1, 2, 3, 4, 5})


def _gap(s: ScenarioResult) -> str:
    if s.solver is None or s.solver.mip_gap is None or s.solver.gap_usd is None:
        return "unknown"
    # not within the plan's gap: the search stopped at its work budget, or at the time limit
    stopped = "" if s.solver.status.value == "optimal" else (
        " (time)" if s.solver.time_limited else " (budget)")
    return f"{usd(s.solver.gap_usd)} {s.solver.mip_gap:.2%}{stopped}"


def margin_note(result: Result) -> str | None:
    """The recommendation's margin over the next feasible scenario, or the tie (SPEC 16)."""
    m = result.margin
    if m is None:
        return None
    same = (f" ({', '.join(m.same)} {'has' if len(m.same) == 1 else 'have'} the same plan)"
            if m.same else "")
    share = "" if m.share is None else f" ({m.share:.1%})"
    if not m.tie:
        return (f"Margin: {result.recommended_name} is {usd(m.usd)}{share} cheaper than "
                f"{m.over}, the next feasible scenario{same}; more than their gaps together "
                f"({usd(m.within_usd)})")
    within = ("an unknown amount: a gap is unknown" if m.within_usd is None
              else f"±{usd(m.within_usd)}")
    return (f"Margin: a tie: {result.recommended_name} and {m.over}{same} differ by "
            f"{usd(m.usd)}{share}, within the solver's precision ({within}); either plan may be "
            f"the cheaper")


def allocation_rows(s: ScenarioResult) -> Section:
    agg: dict[tuple[str, str, str, str, str], list] = defaultdict(lambda: [None, None, 0.0, 0.0])
    for a in s.allocations:
        key = (a.workload, a.venue, a.instance_type, a.gpu, a.purchase)
        item = agg[key]
        item[0] = a.month if item[0] is None else min(item[0], a.month)
        item[1] = a.month if item[1] is None else max(item[1], a.month)
        item[2] += a.gpu_hours
        item[3] += a.cost_usd
    rows = [[w, v, it, g, p, f"{first} .. {last}" if first != last else first, f"{hours:,.0f}",
             usd(cost)] for (w, v, it, g, p), (first, last, hours, cost) in sorted(agg.items())]
    return (f"Allocation: {s.name}",
            ["workload", "venue", "instance/server", "GPU", "purchase", "months", "GPU-hours",
             "cost"], rows, {6, 7})


def _financed(p: Procurement) -> str:
    """``" (2 leased)"``, ``" (1 on a loan)"`` or nothing."""
    parts = [*([f"{p.leased} leased"] if p.leased else []),
             *([f"{p.loan} on a loan"] if p.loan else [])]
    return f" ({', '.join(parts)})" if parts else ""


def procurement_rows(s: ScenarioResult) -> Section:
    rows = [[p.site, p.server, p.order_month, p.arrival_month, f"{p.count}{_financed(p)}",
             usd(p.capex_usd)] for p in s.procurement]
    return ((f"Procurement: {s.name} (capex: the servers' price; leased ones pay their lease "
             f"instead, a loan's its down payment and annuity)"
             if any(p.leased or p.loan for p in s.procurement) else f"Procurement: {s.name}"),
            ["site", "server", "order", "arrives", "count", "capex"], rows, {4, 5})


def retirement_rows(s: ScenarioResult) -> Section:
    rows = [[r.site, r.server, r.cohort, r.month, str(r.age_months), str(r.count), r.reason,
             usd(r.resale_usd), usd(r.decommission_usd)] for r in s.retirements]
    return ((f"Retirements: {s.name} (servers sold or at end of life; those still owned at "
             f"the end are credited at their value then)"),
            ["site", "server", "cohort", "month", "age", "count", "why", "resale",
             "decommission"], rows, {4, 5, 7, 8})


def commitment_term_usd(c: Commitment, start: str) -> float:
    """What a commitment costs over its whole term: every month's payment, and a quote's
    upfront fee (a reservation's is spread over its months, so it is in them already)."""
    months = _offset(start, c.end_month) - _offset(start, c.start_month) + 1
    return c.usd_per_month * months + (c.upfront_usd if c.purchase == "quote" else 0.0)


def commitment_rows(s: ScenarioResult, start: str) -> Section:
    rows = [[f"{c.provider}:{c.region}", c.instance_type, c.purchase.removeprefix("reserved_"),
             c.start_month, c.end_month, str(c.count), usd(c.usd_per_month),
             usd(commitment_term_usd(c, start)),
             usd(c.upfront_usd) if c.upfront_usd else "-",
             str(c.months_past_horizon) if c.months_past_horizon else "-"]
            for c in s.commitments]
    return ((f"Commitments: {s.name} (term in years; per month is paid every month of the "
             f"term, a reservation's upfront fee spread over it; term total is all of it, the "
             f"upfront fee included once)"),
            ["venue", "instance", "term", "from", "to", "count", "per month", "term total",
             "of which upfront", "months past horizon"], rows, {5, 6, 7, 8, 9})


def price_path_rows(s: ScenarioResult) -> Section:
    rows = [[p.item, p.first_month, f"{p.first_usd:,.4g}" if p.first_usd < 10 else
             f"{p.first_usd:,.2f}", p.last_month,
             f"{p.last_usd:,.4g}" if p.last_usd < 10 else f"{p.last_usd:,.2f}", p.unit]
            for p in s.price_paths]
    return (f"Price path: {s.name} (the plan's price trends, first and last month bought)",
            ["item", "first", "price", "last", "price", "unit"], rows, {2, 4})


def breakdown_rows(s: ScenarioResult) -> Section:
    rows = [[k, usd(v), usd(s.breakdown_npv.get(k))] for k, v in s.breakdown.items()]
    rows.append(["total", usd(s.total_usd), usd(s.npv_usd)])
    return (f"Cost breakdown: {s.name}", ["category", "total", "NPV"], rows, {1, 2})


def price_rows(result: Result) -> Section:
    rows = [[str(p["provider"]), str(p["source"]), str(p["as_of"]), _spot_dates(p),
             str(p["records"])] for p in result.prices]
    return ("Prices used (as of: the oldest record; spot prices are indicative)",
            ["provider", "source", "as of", "spot as of", "records"], rows, {4})


def _spot_dates(p: dict[str, Any]) -> str:
    dates = p.get("spot_as_of")
    if not dates:
        return "-"
    return dates[0] if dates[0] == dates[1] else f"{dates[0]} .. {dates[1]}"


def spot_note(result: Result) -> str | None:
    """Spot prices are indicative: when the plan could buy spot, say so with their dates."""
    dated = [f"{p['provider']} {_spot_dates(p)}" for p in result.prices if p.get("spot_as_of")]
    if not dated:
        return None
    return ("Spot prices are indicative: they move with demand, often by tens of percent "
            "within weeks, and the ones used date from " + ", ".join(dated) + ". "
            "Refresh them (tco prices refresh) before relying on a plan's spot use.")


def sizing_rows(result: Result) -> Section:
    """Each workload given as a model: its figures, and per class what it needs and why."""
    rows = []
    for z in result.sizings:
        rows.append([z.workload, "model", "", "", "", z.basis, ""])
        for c in z.classes:
            if c.excluded is not None:
                rows.append(["", c.gpu, "left out", "", "", c.excluded, ""])
                continue
            assert c.amount is not None and c.speed is not None
            needs = (f"{c.amount:,.0f} GPU-h/run" if z.quantity == "gpu_hours"
                     else f"{c.amount:,.2f} GPUs")
            rows.append(["", c.gpu, needs, f"{c.speed:.3g}",
                         "" if c.min_gpus is None else str(c.min_gpus), c.figure, c.source])
    return (("Workloads sized from their models (needs on each class, speed against the "
             "first; min GPUs: per instance or server, to hold the weights)"),
            ["workload", "class", "needs", "speed", "min GPUs", "from", "cited"], rows,
            {2, 3, 4})


def token_rows(result: Result) -> Section:
    """What a million output tokens cost, per inference workload sized from throughput, at
    each venue of the recommended plan and over all of them."""
    from tco.optimizer.result import token_costs

    rows = [[t.workload if t.venue != "all" else "", t.venue, f"{t.gpu_hours:,.0f}",
             f"{t.tokens / 1e9:,.2f}B", usd(t.cost_usd),
             "-" if t.usd_per_million_tokens is None else f"${t.usd_per_million_tokens:,.4f}"]
            for t in token_costs(result.recommended, result.sizings)]
    return ((f"Cost per million output tokens: {result.recommended.name} (tokens = "
             f"GPU-hours x the class's tokens/s per GPU x 3,600; cost = the workload's "
             f"allocated cost: on owned servers their running costs, not their price)"),
            ["workload", "venue", "GPU-hours", "tokens", "cost", "$ per M tokens"], rows,
            {2, 3, 4, 5})


def budget_rows(result: Result) -> Section:
    """The recommended plan by fiscal year (SPEC 20)."""
    import calendar

    rec = result.recommended
    rows = [[f"FY{b.fiscal_year}", f"{b.start}..{b.end}", usd(b.capex_usd),
             usd(sum(b.opex_usd.values())), usd(b.depreciation_usd), usd(b.loss_on_sales_usd),
             usd(b.pnl_cost_usd), usd(b.cash_out_usd), usd(b.book_value_usd)]
            for b in rec.budget]
    first = calendar.month_name[result.fiscal_year_start]
    return ((f"Budget by fiscal year: {rec.name} (years start in {first}, named by the year "
             f"they end in; depreciation straight line over each server's useful life to zero; "
             f"P&L = opex + depreciation + loss on sales; cash out = the year's cash flows, the "
             f"credit for servers still owned after the horizon included)"),
            ["fiscal year", "months", "capex", "opex", "depreciation", "loss on sales",
             "P&L cost", "cash out", "book value"], rows, {2, 3, 4, 5, 6, 7, 8})


_INDEX = re.compile(r"\[\d+\]")
_NAMED = re.compile(r"^(?P<key>.*?) \((?P<names>[^()]*)\)$")


def assumption_rows(result: Result) -> Section:
    """One row per default, those of several server types, sites or workloads with the same
    value and source merged into one (``onprem.servers[*].decommission_usd (a, b)``); a
    source the row above has already given is not repeated (the JSON keeps every row)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for a in result.assumptions:
        m = _NAMED.match(a.key)
        key, name = (m.group("key"), m.group("names")) if m else (a.key, "")
        groups.setdefault((_INDEX.sub("[*]", key) if name else key, a.value, a.source),
                          []).append(name)
    rows = []
    last = None
    for (key, value, source), names in groups.items():
        names = [n for n in names if n]
        label = f"{key} ({', '.join(names)})" if names else key
        if len(names) == 1:
            # one entry: its own index, as the plan file has it
            label = next(a.key for a in result.assumptions
                         if a.key.endswith(f"({names[0]})") and _INDEX.sub("[*]", _NAMED.match(
                             a.key).group("key")) == key)  # type: ignore[union-attr]
        rows.append([label, value, "as above" if source == last else source])
        last = source
    return ("Assumptions (defaults the plan relied on)", ["key", "value", "source"], rows, set())


def sections(result: Result, budget: bool = False) -> list[Section]:
    out = [scenario_rows(result)]
    if result.recommended_name:
        rec = result.recommended
        out += [allocation_rows(rec), venue_rows(rec), procurement_rows(rec),
                retirement_rows(rec), commitment_rows(rec, result.start), breakdown_rows(rec)]
        if budget:
            out.append(budget_rows(result))
        if rec.price_paths:
            out.append(price_path_rows(rec))
    if result.sizings:
        out.append(sizing_rows(result))
        if result.recommended_name and any(z.quantity == "gpus" for z in result.sizings):
            out.append(token_rows(result))
    out += [price_rows(result), assumption_rows(result)]
    return out


# warnings printed on the terminal, at most, beside a report on standard output
MOST_WARNINGS = 3


def warning_lines(result: Result) -> list[str]:
    """The result's warnings for standard error: at most ``MOST_WARNINGS``, the last line
    saying how many more there are and where they are listed."""
    lines = [f"warning: {w}" for w in result.warnings]
    if len(lines) <= MOST_WARNINGS:
        return lines
    rest = len(lines) - (MOST_WARNINGS - 1)
    return [*lines[:MOST_WARNINGS - 1],
            f"warning: {rest} more warnings; `--format json` lists them all"]


def notes(result: Result, warnings: bool = True) -> list[str]:
    out = infeasible_notes(result)
    ranking = ranking_note(result)
    if ranking:
        out.append(ranking)
    spot = spot_note(result)
    if spot:
        out.append(spot)
    if result.recommended_name:
        out.append(f"Recommended: {result.recommended_name} "
                   f"(NPV {usd(result.recommended.npv_usd)} over {result.months} months from "
                   f"{result.start})")
        margin = margin_note(result)
        if margin:
            out.append(margin)
        if result.unproven:
            solver = result.recommended.solver
            gap = solver.mip_gap if solver else None
            stopped = ("the time limit stopped its search: allow more time with --time-limit"
                       if solver is not None and solver.time_limited else
                       "its search stopped at its work budget (docs/solving.md)")
            out.append("warning: the recommended plan is unproven: it may be "
                       + (f"up to {usd(solver.gap_usd)} ({gap:.1%})"
                          if solver is not None and gap is not None else "an unknown amount")
                       + f" dearer than the best plan (over 5%); {stopped}; treat it as an "
                         "estimate before acting on it")
        out += list(result.recommended.notes)
        moving = [(k, r) for k, r in result.trends if r]
        if moving:
            out.append("Prices over time (annual): " + ", ".join(f"{k} {r * 100:+g}%"
                                                               for k, r in moving))
    else:
        out.append("No scenario is feasible.")
    if warnings:
        out += [f"warning: {w}" for w in result.warnings]
    return out


# Columns a table drops, first to last, when it does not fit the terminal: detail that the
# JSON and CSV keep, never a name or an amount the table is about.
# dropped in this order when a table is too wide; what a decision needs is never dropped (a
# plan's NPV, Δ NPV, $/GPU-hour and gap; a price's $/GPU-hour and date)
OPTIONAL_COLUMNS = ("age (days)", "origin", "$/hour", "upfront",
                    "upfront fee", "of which upfront", "months past horizon", "cohort",
                    "instance/server", "arrives", "opex", "capex", "total", "GPU", "$/GPU-h",
                    "running", "term total", "age", "GPUs", "provider", "gap", "decommission",
                    "recommended", "NPV low", "NPV high", "low .. high", "P10 ━ P90",
                    "lower ← base → higher", "P10", "CVaR 90%", "unit", "cited")


def _min_width(header: str, cells: list[str], number: bool) -> int:
    """The narrowest a column can be without breaking a number or a word."""
    words = [*header.split(), *(c for cell in cells
                                for c in ([cell] if number else cell.split()))]
    return max((len(w) for w in words), default=1)


def _table(title: str, headers: list[str], rows: list[list[str]], numeric: set[int],
           keep: list[int], widths: dict[int, int]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False)
    for i in keep:
        table.add_column(headers[i], justify="right" if i in numeric else "left",
                         no_wrap=i in numeric, overflow="fold", width=widths[i])
    for row in rows:
        # as text, never markup: a key such as onprem.sites[campus] keeps its brackets
        table.add_row(*(Text(row[i]) for i in keep))
    return table


def fitted(console: Console, title: str, headers: list[str], rows: list[list[str]],
           numeric: set[int]) -> Table | None:
    """The table at the console's width, optional columns dropped (``OPTIONAL_COLUMNS``) until
    no number and no word has to be broken; None when even then it does not fit. Text columns
    narrower than their longest cell wrap between words; every width is set here."""
    least = [_min_width(h, [r[i] for r in rows], i in numeric) for i, h in enumerate(headers)]
    most = [max(least[i], *(len(r[i]) for r in rows), len(h)) for i, h in enumerate(headers)]
    keep = list(range(len(headers)))
    order = sorted((i for i, h in enumerate(headers) if h in OPTIONAL_COLUMNS),
                   key=lambda i: OPTIONAL_COLUMNS.index(headers[i]))

    def room() -> int:
        # columns are three characters apart (padding, a space, padding), with no outer edge
        return console.width - 3 * (len(keep) - 1)

    while sum(least[i] for i in keep) > room():
        if not order:
            return None
        keep.remove(order.pop(0))
    dropped = [h for i, h in enumerate(headers) if i not in keep]
    if dropped:
        note = (f"not shown at {console.width} columns: {', '.join(dropped)} (--format json "
                f"or csv has them)")
        title = f"{title}; {note}" if title else note[0].upper() + note[1:]
    widths = {i: most[i] for i in keep}
    excess = sum(widths.values()) - room()
    while excess > 0:
        # narrow the column with the most room to give, a character at a time
        i = max(keep, key=lambda k: (widths[k] - least[k], -k))
        if widths[i] <= least[i]:
            break
        widths[i] -= 1
        excess -= 1
    return _table(title, headers, rows, numeric, keep, widths)


def print_sections(console: Console, heading: str, parts: list[Section],
                   lines: list[str]) -> None:
    """A report on the terminal: a heading, its tables and notes below them, at the console's
    width. A table too wide for it drops optional columns; one still too wide prints a line
    per row, which the terminal wraps between words."""
    console.print(heading, soft_wrap=False)
    for title, headers, rows, numeric in parts:
        if not rows:
            console.print(f"{title}: none", style="dim", markup=False, highlight=False,
                          soft_wrap=False)
            continue
        table = fitted(console, title, headers, rows, numeric)
        if table is not None:
            console.print(table, soft_wrap=False)
            continue
        console.print(title, markup=False, highlight=False, soft_wrap=False)
        for row in rows:
            console.print("  " + " · ".join(f"{h}: {c}" for h, c in zip(headers, row,
                                                                        strict=True) if c),
                          markup=False, highlight=False, soft_wrap=False)
    for line in lines:
        style = "yellow" if line.startswith("warning") else "bold green"
        # wrapped between words at the console's width
        console.print(line, style=style, markup=False, highlight=False, soft_wrap=False)


def markdown(title: str, subtitle: str, parts: list[Section], lines: list[str]) -> str:
    """A report as Markdown: its tables and notes."""
    out = [f"# {title}", "", subtitle, ""]
    for heading, headers, rows, numeric in parts:
        out += [f"## {heading}", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out.append("| " + " | ".join(headers) + " |")
        out.append("| " + " | ".join("---:" if i in numeric else "---"
                                     for i in range(len(headers))) + " |")
        for row in rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        out.append("")
    out += [f"- {n}" for n in lines]
    return "\n".join(out) + "\n"


def render_table(result: Result, console: Console, warnings: bool = True,
                 table: CsvTable | None = None) -> None:
    """The report's tables and notes; its warnings too unless ``warnings`` is False (on a
    terminal they go to standard error: ``warning_lines``). ``table`` ``budget`` adds the
    budget by fiscal year."""
    print_sections(console, f"[bold]{result.plan_name}[/bold]: {result.months} months from "
                   f"{result.start}", sections(result, table == CsvTable.BUDGET),
                   notes(result, warnings))


def render_markdown(result: Result) -> str:
    return markdown(result.plan_name, f"{result.months} months from {result.start}.",
                    sections(result), notes(result))


ALLOCATION_FIELDS = ["scenario", "workload", "month", "venue", "provider", "region",
                     "instance_type", "gpu", "purchase", "gpu_hours", "cost_usd"]


def _csv_rows(result: Result, table: CsvTable) -> list[dict[str, object]]:
    if table in (CsvTable.SCENARIOS, CsvTable.BREAKDOWN):
        return _summary_rows(result, table)
    if table == CsvTable.BUDGET:
        return _budget_rows(result)
    rows: list[dict[str, object]] = []
    for s in result.scenarios:
        items: tuple[object, ...] = {
            CsvTable.ALLOCATIONS: s.allocations, CsvTable.CASH_FLOWS: s.cash_flows,
            CsvTable.PROCUREMENT: s.procurement, CsvTable.COMMITMENTS: s.commitments,
            CsvTable.RETIREMENTS: s.retirements}[table]
        rows += [item.to_dict() for item in items]  # type: ignore[attr-defined]
    return rows


def _budget_rows(result: Result) -> list[dict[str, object]]:
    """One row per scenario and fiscal year, the opex by category in columns of its own."""
    rows: list[dict[str, object]] = []
    for s in result.scenarios:
        for b in s.budget:
            doc = b.to_dict()
            opex = doc.pop("opex_usd")
            rows.append({**doc, "opex_usd": round(sum(opex.values()), 2),
                         **{f"opex_{k}_usd": v for k, v in opex.items()}})
    return rows


def _summary_rows(result: Result, table: CsvTable) -> list[dict[str, object]]:
    """One row per scenario, or per scenario and cost category: the JSON document's figures."""
    doc = result.to_dict()
    scenarios: list[dict[str, Any]] = doc["scenarios"]
    rows: list[dict[str, object]] = []
    for s in scenarios:
        if table == CsvTable.BREAKDOWN:
            rows += [{"scenario": s["name"], "category": category, "usd": usd_,
                      "npv_usd": (s.get("breakdown_npv") or {}).get(category)}
                     for category, usd_ in (s.get("breakdown") or {}).items()]
            continue
        solver = s.get("solver") or {}
        rows.append({"scenario": s["name"], "recommended": s["name"] == doc["recommended"],
                     **{k: s.get(k) for k in ("feasible", "unproven", "npv_usd",
                                              "after_tax_npv_usd",
                                              "delta_npv_vs_recommended_usd", "total_usd",
                                              "capex_usd", "opex_usd", "usd_per_gpu_hour",
                                              "gpu_hours")},
                     "gap_usd": solver.get("gap_usd"), "mip_gap": solver.get("mip_gap"),
                     "reason": s.get("reason")})
    return rows


CSV_FIELDS = {
    CsvTable.SCENARIOS: ["scenario", "recommended", "feasible", "unproven", "npv_usd",
                         "after_tax_npv_usd", "delta_npv_vs_recommended_usd", "total_usd", "capex_usd", "opex_usd",
                         "usd_per_gpu_hour", "gpu_hours", "gap_usd", "mip_gap", "reason"],
    CsvTable.BREAKDOWN: ["scenario", "category", "usd", "npv_usd"],
    CsvTable.ALLOCATIONS: ALLOCATION_FIELDS,
    CsvTable.CASH_FLOWS: ["scenario", "month", "category", "usd", "npv_usd"],
    CsvTable.PROCUREMENT: ["scenario", "site", "server", "order_month", "arrival_month", "count",
                           "capex_usd", "leased", "loan"],
    CsvTable.COMMITMENTS: ["scenario", "provider", "region", "instance_type", "purchase",
                           "start_month", "end_month", "count", "usd_per_month", "upfront_usd",
                           "months_past_horizon", "source", "name"],
    CsvTable.RETIREMENTS: ["scenario", "site", "server", "cohort", "month", "age_months", "count",
                           "reason", "resale_usd", "decommission_usd"],
    CsvTable.BUDGET: ["scenario", "fiscal_year", "start", "end", "capex_usd", "opex_usd",
                      *(f"opex_{c}_usd" for c in OPEX),
                      "depreciation_usd", "book_value_usd", "loss_on_sales_usd",
                      "pnl_cost_usd", "cash_out_usd"],
}


def render_csv(result: Result, table: CsvTable = CsvTable.ALLOCATIONS) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS[table], lineterminator="\n")
    writer.writeheader()
    for row in _csv_rows(result, table):
        writer.writerow(row)
    return buf.getvalue()


def render_json(result: Result) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"


def figures(result: Result) -> list[tuple[str, str]]:
    """The compare report's charts: cumulative cash flow by month per scenario, the cost
    breakdown per scenario, and GPU-hours by venue by month for the recommended plan; each
    read from the report's own cash flows, breakdown and allocations."""
    from tco.optimizer.ledger import CATEGORIES
    from tco.optimizer.months import month_label

    from . import charts

    feasible = [s for s in result.scenarios if s.feasible]
    if not feasible:
        return []
    last = max([result.months - 1] + [_offset(result.start, f.month) for s in feasible
                                      for f in s.cash_flows])
    months = [month_label(result.start, m) for m in range(last + 1)]
    series = []
    for s in feasible:
        by_month = [0.0] * len(months)
        for f in s.cash_flows:
            by_month[_offset(result.start, f.month)] += f.usd
        running, total = [], 0.0
        for v in by_month:
            total += v
            running.append(total)
        series.append((s.name, running))
    caption = ("Cumulative cash flow by month, per scenario (the recommended plan's line is "
               "solid and thicker, the others dashed; sales of servers show as steps down")
    if last >= result.months:
        caption += ("; the shaded months after the horizon hold the credit for servers still "
                    "owned at its end and the months of commitments that run past it")
    out = [(caption + ")",
            charts.cumulative_cash(months, series, result.recommended_name, result.months))]
    categories = [c for c in CATEGORIES
                  if any(abs(s.breakdown.get(c, 0.0)) > 0.005 for s in feasible)]
    out.append(("Cost breakdown per scenario, over the horizon",
                charts.breakdown([s.name for s in feasible],
                                 [(c, [s.breakdown.get(c, 0.0) for s in feasible])
                                  for c in categories])))
    rec = result.recommended if result.feasible else None
    if rec is not None and rec.allocations:
        horizon = months[:result.months]
        hours: dict[str, dict[str, list[float]]] = {}
        for a in rec.allocations:
            by_venue = hours.setdefault(a.gpu, {})
            by_venue.setdefault(a.venue, [0.0] * len(horizon))[
                _offset(result.start, a.month)] += a.gpu_hours
        out.append((f"GPU-hours by venue by month, one panel per GPU class: {rec.name}",
                    charts.hours_by_venue(horizon, [
                        (gpu, [(v, hours[gpu][v]) for v in sorted(hours[gpu])])
                        for gpu in sorted(hours)])))
    return out


def _offset(start: str, month: str) -> int:
    from tco.optimizer.months import month_offset

    return month_offset(start, month)


def render_html(result: Result) -> str:
    """The page opens with the answer (the recommendation and its margin), then the notes
    (reasons, caveats, warnings), the charts and the tables."""
    from .html import page

    lead = [line for line in notes(result) if _is_lead(line)]
    rest = [line for line in notes(result) if not _is_lead(line)]
    actions: list[str] = []
    summary: list[Section] = []
    if result.recommended_name:
        lead += proof_lines(result)
        actions = action_lines(result.recommended)
        if result.recommended.budget:
            summary = [fiscal_summary(result)]
    return page(result.plan_name, f"{result.months} months from {result.start}.",
                figures(result), sections(result, budget=True), rest, lead, actions, summary)


# the most commitments the summary lists one by one
MOST_ACTIONS = 6


def proof_lines(result: Result) -> list[str]:
    """How far the recommended plan may be from the best one, and after tax."""
    rec = result.recommended
    out = []
    solver = rec.solver
    if solver is not None and solver.gap_usd is not None and not result.unproven:
        share = "" if solver.mip_gap is None else f" ({solver.mip_gap:.2%})"
        out.append(f"Proof: the solver proved this plan at most {usd(solver.gap_usd)}{share} "
                   f"dearer than the best possible plan.")
    if rec.after_tax_npv_usd is not None:
        out.append(f"After tax: NPV {usd(rec.after_tax_npv_usd)}.")
    return out


def action_lines(s: ScenarioResult) -> list[str]:
    """What the recommended plan asks to sign now: orders, sales, commitments."""
    out = [f"Order {p.count} {p.server} for {p.site} in {p.order_month} (arrive "
           f"{p.arrival_month}; {usd(p.capex_usd)}){_financed(p)}" for p in s.procurement]
    out += [f"Sell {r.count} {r.server} ({r.cohort}) at {r.site} in {r.month} "
            f"(brings in {usd(r.resale_usd)})" for r in s.retirements if r.reason == "sold"]
    commits = [f"Commit {c.count} x {c.instance_type} ({c.purchase}) on {c.provider} "
               f"{c.region}, {c.start_month}..{c.end_month}"
               + (f" ({c.name})" if c.name else "") for c in s.commitments]
    if len(commits) > MOST_ACTIONS:
        rest = len(commits) - MOST_ACTIONS + 1
        commits = [*commits[:MOST_ACTIONS - 1],
                   f"and {rest} more commitments (the Commitments table below)"]
    out += commits
    return out or ["Nothing to buy, sell or commit: every hour is paid as it is used."]


def fiscal_summary(result: Result) -> Section:
    """The recommended plan's budget by fiscal year, in brief."""
    rec = result.recommended
    rows = [[f"FY{b.fiscal_year}", f"{b.start}..{b.end}", usd(b.capex_usd),
             usd(sum(b.opex_usd.values())), usd(b.pnl_cost_usd), usd(b.cash_out_usd)]
            for b in rec.budget]
    return ("Budget by fiscal year (the table below has depreciation and book value)",
            ["fiscal year", "months", "capex", "opex", "P&L cost", "cash out"], rows,
            {2, 3, 4, 5})


def _is_lead(line: str) -> bool:
    return line.startswith(("Recommended:", "No scenario is feasible", "Margin:",
                            "warning: the recommended plan is unproven"))


TEXT_RENDERERS: dict[OutputFormat, Callable[[Result], str]] = {
    OutputFormat.JSON: render_json,
    OutputFormat.CSV: render_csv,
    OutputFormat.MARKDOWN: render_markdown,
    OutputFormat.HTML: render_html,
}


def render(result: Result, fmt: OutputFormat, console: Console,
           table: CsvTable = CsvTable.ALLOCATIONS) -> str | None:
    """Text for a file or stdout; the table format prints to ``console`` and returns None."""
    if fmt == OutputFormat.TABLE:
        render_table(result, console, table=table)
        return None
    if fmt == OutputFormat.CSV:
        return render_csv(result, table)
    return TEXT_RENDERERS[fmt](result)
