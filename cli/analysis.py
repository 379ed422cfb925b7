"""Rendering ``tco sensitivity``, ``tco breakeven`` and ``tco risk``: tables with text bars on a
terminal, the same tables as Markdown, the JSON documents of SPEC 12, and CSV rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console

from tco.analysis import AlternativesResult, BreakevenResult, RiskResult, SensitivityResult
from tco.analysis.evaluate import Outcome

from .formats import OutputFormat
from .render import Section, markdown, print_sections, usd

AnalysisResult = SensitivityResult | BreakevenResult | RiskResult
BAR = 24           # the widest bar, in characters


def _bar(value: float, most: float, width: int = BAR) -> str:
    """A bar of ``value / most`` of ``width`` characters, in eighths of a block."""
    if most <= 0 or value <= 0:
        return ""
    eighths = round(8 * width * min(value, most) / most)
    return "█" * (eighths // 8) + ("" if eighths % 8 == 0 else "▏▎▍▌▋▊▉"[eighths % 8 - 1])


def tornado_bars(base: float, low: float | None, high: float | None, most: float) -> str:
    """A lever's two NPVs as bars either side of the base: left for an NPV below it, right
    for one above, each ending in the lever's end that gave it (L its low value, H its high).
    A lever that lowers cost as it rises has its H on the left; both ends on one side share
    it, the wider drawn."""
    half = BAR // 2
    below = [(base - v, end) for v, end in ((low, "L"), (high, "H")) if v is not None and v < base]
    above = [(v - base, end) for v, end in ((low, "L"), (high, "H")) if v is not None and v > base]

    def side(found: list[tuple[float, str]]) -> tuple[str, str]:
        if not found:
            return "", ""
        width, _ = max(found)
        ends = {end for _, end in found}
        return _bar(width, most, half - 2), "".join(e for e in ("L", "H") if e in ends)
    left, left_ends = side(below)
    right, right_ends = side(above)
    return (f"{(left_ends + ' ' + left) if left else '':>{half}}|"
            f"{(right + ' ' + right_ends) if right else ''}")


def _num(x: float) -> str:
    return f"{x:,.4g}"


# --- sensitivity --------------------------------------------------------------------------------

def sensitivity_sections(r: SensitivityResult) -> list[Section]:
    base = r.base.npv_usd or 0.0
    most = max((abs(v - base) for p in r.parameters for v in (p.npv_low_usd, p.npv_high_usd)
                if v is not None), default=0.0)
    tornado = []
    for p in r.parameters:
        tornado.append([p.param, f"{_num(p.low)} .. {_num(p.high)}",
                        usd(p.npv_low_usd) + ("" if p.proven_low else " ?"),
                        usd(p.npv_high_usd) + ("" if p.proven_high else " ?"),
                        tornado_bars(base, p.npv_low_usd, p.npv_high_usd, most)])
    held = [row for p in r.parameters for row in (
        [p.param, f"low {_num(p.low)}", usd(p.committed_npv_low_usd),
         _pm(p.committed_gap_low_usd), usd(p.regret_low_usd),
         _changed(p.decision_changes_low, p.recommended_low, p.tie_low_usd, p.proven_low
                  and p.committed_proven_low, p.unproven_change_low)],
        ["", f"high {_num(p.high)}", usd(p.committed_npv_high_usd),
         _pm(p.committed_gap_high_usd), usd(p.regret_high_usd),
         _changed(p.decision_changes_high, p.recommended_high, p.tie_high_usd, p.proven_high
                  and p.committed_proven_high, p.unproven_change_high)])]
    return [((f"Sensitivity: NPV re-optimized at each lever's low and high value (swing "
              f"{r.swing:.0%}; base {usd(r.base.npv_usd)} {_pm(r.base.gap_usd)}, "
              f"{r.base.recommended}; every NPV within {r.gap:.2%} of the best plan unless "
              f"marked ?)"),
             ["lever", "low .. high", "NPV low", "NPV high", "lower ← base → higher"], tornado,
             {2, 3}),
            (("Base decisions held (committed NPV, ± its gap) and what re-optimizing saves "
              "(regret); a change is reported only where the two plans are told apart"),
             ["lever", "at", "held", "±", "regret", "decisions"], held, {2, 3, 4})]


def _pm(gap: float | None) -> str:
    return "±?" if gap is None else f"±{usd(gap)}"


def _changed(changed: bool, scenario: str | None, tie: float | None, proven: bool,
             unproven_change: bool) -> str:
    if changed:
        return f"change ({scenario})"
    if unproven_change:
        return f"other decisions cheaper ({scenario}), a solve unproven"
    if tie is not None:
        return f"tie within ±{usd(tie)}"
    return "same" if proven else "same (unproven)"


def sensitivity_notes(r: SensitivityResult) -> list[str]:
    out = _base_notes(r.base, r.gap)
    flips = [p.param for p in r.parameters if p.decision_changes_low or p.decision_changes_high]
    if flips:
        out.append("The first-stage decisions change within the swing of: " + ", ".join(flips)
                   + "; run tco breakeven on them to find where")
    else:
        out.append("No lever changes the first-stage decisions within the swing by more than "
                   "the solves can tell apart.")
    unsure = [p.param for p in r.parameters if p.unproven_change_low or p.unproven_change_high]
    if unsure:
        out.append("Other decisions are cheaper beyond the solves' gaps, but a solve was not "
                   f"proven within {r.gap:.2%} within its work budget (so no change is "
                   "reported) for: " + ", ".join(unsure))
    ties = [p.param for p in r.parameters if p.tie_low_usd is not None
            or p.tie_high_usd is not None]
    if ties:
        out.append("Ties (other decisions found, but no cheaper than the base decisions beyond "
                   "the solves' gaps): " + ", ".join(ties))
    out += [f"warning: {p}: a solve failed twice; it is left out" for p in r.failed]
    return out


def sensitivity_rows(r: SensitivityResult) -> list[dict[str, Any]]:
    return [{**p.to_dict(), "base_unproven": r.unproven} for p in r.parameters]


# --- break-even ---------------------------------------------------------------------------------

def _decisions(point: dict[str, Any]) -> str:
    servers = ", ".join(f"{n} {s}" for s, n in point["servers"].items()) or "no servers"
    reserved = ", ".join(f"{c['count']} {c['instance_type']} {c['purchase']}"
                         for c in point["commitments"]) or "no reservations"
    return f"{point['recommended']}: {servers}; {reserved}"


def breakeven_sections(r: BreakevenResult) -> list[Section]:
    doc = r.to_dict()
    flips = [[f"{_num(f['interval'][0])} .. {_num(f['interval'][1])}",
              _decisions(f["before"]), _decisions(f["after"]),
              usd(f["before"]["npv_usd"]), usd(f["after"]["npv_usd"])] for f in doc["flips"]]
    npvs = [c["npv_usd"] for c in doc["curve"] if c["npv_usd"] is not None]
    low, high = (min(npvs), max(npvs)) if npvs else (0.0, 0.0)
    curve = [[_num(c["value"]), usd(c["npv_usd"]), _pm(c["gap_usd"])
              + ("" if c["proven"] else " ?"), c["recommended"] or "none",
              _bar((c["npv_usd"] or low) - low + (high - low) * 0.05, (high - low) * 1.05)]
             for c in doc["curve"]]
    return [((f"Break-even: where the recommendation changes as {r.param} goes from "
              f"{_num(r.low)} to {_num(r.high)}: between the two values of each interval, "
              f"each side's plan proven cheaper at its end than the other's decisions held "
              f"there (located to {r.tolerance:.1%} of the range at best)"),
             ["between", "below it", "above it", "NPV below", "NPV above"], flips, {3, 4}),
            ((f"NPV across {r.param} (± the most each may be above the best plan; ? = not "
              f"proven within {r.gap:.2%})"),
             ["value", "NPV", "±", "recommended", ""], curve, {0, 1, 2})]


def breakeven_notes(r: BreakevenResult) -> list[str]:
    out = [] if r.base is None else _base_notes(r.base, r.gap)
    out.append(f"{len(r.flips)} change(s) of the recommended decisions between {_num(r.low)} "
               f"and {_num(r.high)}" if r.flips else
               f"No change of the recommended decisions between {_num(r.low)} and "
               f"{_num(r.high)} that the solves can tell apart")
    for t in r.ties:
        where = f"between {_num(t.low.value)} and {_num(t.high.value)}"
        if t.reason == "tie":
            within = "an unknown amount" if t.within_usd is None else f"±{usd(t.within_usd)}"
            out.append(f"{where} the solver returns other decisions ({t.low.outcome.recommended}"
                       f" → {t.high.outcome.recommended}), but the two plans cost the same "
                       f"within {within}: a tie, not a change")
        elif t.reason == "unproven":
            out.append(f"{where} the decisions differ, but a solve is not proven within "
                       f"{r.gap:.2%}: not reported as a change")
        else:
            out.append(f"{where} the decisions differ, but holding one side's decisions at "
                       f"the other failed twice: not reported as a change")
    out += [f"warning: {r.param} = {_num(v)}: a solve failed twice; left out" for v in r.failed]
    return out


def breakeven_rows(r: BreakevenResult) -> list[dict[str, Any]]:
    return [{**c, "base_unproven": r.unproven} for c in r.to_dict()["curve"]]


# --- risk ---------------------------------------------------------------------------------------

def risk_sections(r: RiskResult) -> list[Section]:
    finite = [x for c in r.candidates for x in (c.p10_usd, c.p90_usd) if x is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (high - low) or 1.0
    rows = []
    for c in r.candidates:
        mark = " *" if c.scenario == r.recommended else ""
        name = c.scenario + mark + (f" (= {', '.join(c.same_as)})" if c.same_as else "")
        if c.p10_usd is not None and c.p90_usd is not None:
            start = round(BAR * (c.p10_usd - low) / span)
            end = max(start + 1, round(BAR * (c.p90_usd - low) / span))
            band = " " * start + "━" * (end - start)
        else:
            band = ""
        rows.append([name, usd(c.base_npv_usd), usd(c.mean_usd), usd(c.p10_usd),
                     usd(c.p50_usd), usd(c.p90_usd),
                     usd(c.cvar90_usd), f"{c.p_cheapest:.0%}", f"{c.p_infeasible:.0%}", band])
    solved = (f"{r.samples_solved} samples" if not r.samples_failed else
              f"{r.samples_solved} of {r.samples} samples ({r.samples_failed} failed)")
    return [((f"Risk: committed NPV of each candidate over {solved} (seed "
              f"{r.seed}; * = best by {r.criterion.value}; - = infinitely expensive where "
              f"infeasible; cheapest = feasible and not dearer than another beyond the two "
              f"NPVs' gaps, ties counting for each)"),
             ["candidate", "base NPV", "mean", "P10", "P50", "P90", "CVaR 90%", "cheapest",
              "infeasible", "P10 ━ P90"], rows, {1, 2, 3, 4, 5, 6, 7, 8})]


def risk_notes(r: RiskResult) -> list[str]:
    out = [] if r.base is None else _base_notes(r.base, r.gap)
    chosen = next((c for c in r.candidates if c.scenario == r.recommended), None)
    if chosen is not None:
        out.append(f"Recommended by {r.criterion.value}: {chosen.scenario} (its NPV at the "
                   f"base inputs {usd(chosen.base_npv_usd)})")
    else:
        out.append("No candidate is feasible in every sample.")
    if r.failed_samples:
        out.append(f"warning: samples {', '.join(map(str, r.failed_samples))} failed twice and "
                   f"are left out; the statistics are over the {r.samples_solved} that solved")
    return [*out, *_robust_notes(r)]


def _robust_notes(r: RiskResult) -> list[str]:
    """What ``--optimize`` found: the robust plan, how, and what it and perfect information
    are worth (SPEC 19)."""
    s = r.robust
    if r.evaluation_seed is None:
        return []
    if s is None:
        return ["The robust search found no plan that every training sample can carry out."]
    crit = r.criterion.value
    how = (f"one program of {s.columns:,} columns ({s.integers:,} whole-number)"
           if s.programs == 1 else
           f"{s.programs} programs of up to {s.per_program} samples (the largest "
           f"{s.columns:,} columns), each one's plan then priced in all {s.samples}")
    bound = "" if s.bound_usd is None else f", proven no less than {usd(s.bound_usd)}"
    start = ("" if s.started_from is None or s.start_objective_usd is None else
             f", against {usd(s.start_objective_usd)} for {s.started_from}'s plan")
    out = [(f"Robust candidate: the first-stage decisions best by {crit} over the {s.samples} "
           f"samples of seed {s.seed} jointly, {how}: {crit} {usd(s.objective_usd)} there"
           f"{bound}{start}. Every candidate is evaluated above on the samples of seed "
           f"{r.evaluation_seed}, which the program did not see.")]
    robust = next((c for c in r.candidates if c.scenario == "robust"), None)
    if robust is not None and robust.decisions is not None:
        out.append("Robust plan: " + _decisions_text(robust.decisions))
    if crit == "p90":
        out.append("The program minimizes CVaR 90% for the p90 criterion (a percentile of "
                   "the samples' NPVs is not convex; CVaR is never below it).")
    vss = ("infinite or unknown (a candidate is infeasible in some sample)"
           if r.vss_usd is None else usd(r.vss_usd))
    out.append(f"Value of the stochastic solution: {vss} (the best scenario candidate's {crit} "
               f"less the robust candidate's)")
    if r.vss_usd is not None and r.vss_usd < 0:
        out.append("The robust plan did worse on the evaluation samples than a scenario's plan: "
                   "what it fitted on its own samples does not carry over to others; draw more "
                   "samples (--samples) before relying on it")
    if r.evpi_usd is None:
        out.append("Expected value of perfect information: unknown (some sample has no "
                   "re-optimized plan)")
    else:
        within = ("" if r.evpi_gap_usd is None else
                  f"; each re-optimized NPV within {usd(r.evpi_gap_usd)} of its best plan")
        out.append(f"Expected value of perfect information: {usd(r.evpi_usd)} (the robust "
                   f"candidate's {crit} less that of the plans re-optimized knowing each "
                   f"sample{within})")
    return out


def _decisions_text(d: dict[str, Any]) -> str:
    parts = [f"order {n} {server} at {site} in {month}"
             for site, server, month, n in d.get("orders", [])]
    parts += [f"sell {n} {server} of {cohort} at {site} in {month}"
              for site, server, cohort, month, n in d.get("sales", [])]
    parts += [f"commit {n} {itype} ({term}) at {venue} from {month}"
              for venue, _gpu, term, itype, month, n in d.get("commitments", [])]
    return "; ".join(parts) if parts else "no purchase, sale or commitment"


def risk_rows(r: RiskResult) -> list[dict[str, Any]]:
    return [{**c.to_dict(), "base_unproven": r.unproven} for c in r.candidates]


def samples_csv(r: RiskResult) -> str:
    """Every sample that solved, a row each: its index, its drawn levers, and each
    candidate's committed NPV and gap (empty where infeasible)."""
    rows = []
    for doc in r.sample_rows():
        row: dict[str, Any] = {"sample": doc["sample"], **doc["levers"]}
        for name in doc["npv_usd"]:
            row[f"{name}.npv_usd"] = doc["npv_usd"][name]
            row[f"{name}.gap_usd"] = doc["gap_usd"][name]
        rows.append(row)
    return _csv(rows)


def _base_notes(base: Outcome, gap: float) -> list[str]:
    """What the base solve proved (SPEC 16), and a warning when it is unproven."""
    if base.npv_usd is None:
        return []
    proof = ("gap unknown" if base.gap_usd is None else
             f"at most {usd(base.gap_usd)} above the best plan")
    out = [(f"Base plan: {base.recommended}, NPV {usd(base.npv_usd)} ({proof}; "
            f"{'proven' if base.proven else 'not proven'} within {gap:.2%})")]
    if base.unproven:
        out.append("warning: the base plan is unproven (its gap is over 5% or unknown): the "
                   "analysis cannot be relied on (its search stopped at its work budget or "
                   "time limit: docs/solving.md)")
    return out


def _stopped_notes(r: AnalysisResult) -> list[str]:
    """A warning when the time limit, not the work budgets, stopped some solves."""
    n = r.stopped_by_time_limit
    if not n:
        return []
    return [(f"warning: the time limit stopped {n} solve{'s' if n > 1 else ''} before "
             f"{'their' if n > 1 else 'its'} work budget: the result may differ on another "
             f"machine or under another load; raise --time-limit to get the same answer "
             f"everywhere")]


# --- dispatch -----------------------------------------------------------------------------------

def _parts(r: AnalysisResult) -> tuple[str, list[Section], list[str], list[dict[str, Any]]]:
    stopped = _stopped_notes(r)
    if isinstance(r, SensitivityResult):
        return ("Sensitivity", sensitivity_sections(r), [*sensitivity_notes(r), *stopped],
                sensitivity_rows(r))
    if isinstance(r, BreakevenResult):
        return ("Break-even", breakeven_sections(r), [*breakeven_notes(r), *stopped],
                breakeven_rows(r))
    return "Risk", risk_sections(r), [*risk_notes(r), *stopped], risk_rows(r)


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        flat = [{k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.items()}
                for r in rows]
        writer = csv.DictWriter(buf, fieldnames=list(flat[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
    return buf.getvalue()


def _figures(r: AnalysisResult) -> list[tuple[str, str]]:
    from . import charts

    if isinstance(r, SensitivityResult):
        if not r.parameters or r.base.npv_usd is None:
            return []
        return [((f"Tornado: NPV re-optimized with each lever {r.swing:.0%} below (blue) and "
                 f"above (orange) its value; the line is the base plan's "
                 f"{usd(r.base.npv_usd)}"),
                 charts.tornado(r.base.npv_usd, [(p.param, p.npv_low_usd, p.npv_high_usd)
                                                 for p in r.parameters]))]
    if isinstance(r, BreakevenResult):
        return [((f"NPV of the recommended plan across {r.param}; dashed: where the "
                 f"recommended decisions change"),
                 charts.breakeven_curve(r.param, [(p.value, p.outcome.npv_usd)
                                                  for p in r.curve],
                                        [f.value for f in r.flips]))]
    if not r.candidates:
        return []
    columns = [[None if (x := row[k]) is None else x.usd for row in r.npvs]
               for k in range(len(r.candidates))]
    return [(f"Committed NPV of each candidate over {len(r.npvs)} samples",
             charts.risk_distribution([c.scenario for c in r.candidates], columns))]


# the text bars of the terminal's tables, which the HTML page draws as charts instead
_BAR_COLUMNS = {"lower ← base → higher", "P10 ━ P90", ""}


def _without_bars(section: Section) -> Section:
    title, headers, rows, numeric = section
    keep = [i for i, h in enumerate(headers) if h not in _BAR_COLUMNS]
    return (title, [headers[i] for i in keep], [[row[i] for i in keep] for row in rows],
            {keep.index(i) for i in numeric if i in keep})


def _html(r: AnalysisResult) -> str:
    from .html import page

    kind, parts, lines, _ = _parts(r)
    return page(f"{kind}: {r.plan_name}", _subtitle(r), _figures(r),
                [_without_bars(p) for p in parts], lines)


def _subtitle(r: AnalysisResult) -> str:
    if isinstance(r, SensitivityResult):
        return (f"Each lever {r.swing:.0%} either way; base NPV {usd(r.base.npv_usd)} "
                f"({r.base.recommended}).")
    if isinstance(r, BreakevenResult):
        return f"{r.param} from {_num(r.low)} to {_num(r.high)}."
    return (f"{r.samples_solved} samples solved of {r.samples}, seed {r.seed}, best by "
            f"{r.criterion.value}.")


RENDERERS: dict[OutputFormat, Callable[[AnalysisResult], str]] = {
    OutputFormat.HTML: _html,
    OutputFormat.JSON: lambda r: json.dumps(r.to_dict(), indent=2) + "\n",
    OutputFormat.CSV: lambda r: _csv(_parts(r)[3]),
    OutputFormat.MARKDOWN: lambda r: markdown(f"{_parts(r)[0]}: {r.plan_name}", "",
                                              _parts(r)[1], _parts(r)[2]),
}


def render(result: AnalysisResult | AlternativesResult, fmt: OutputFormat,
           console: Console) -> str | None:
    """Text for a file or stdout; the table format prints to ``console`` and returns None."""
    if isinstance(result, AlternativesResult):
        from . import alternatives

        return alternatives.render(result, fmt, console)
    if fmt == OutputFormat.TABLE:
        kind, parts, lines, _ = _parts(result)
        print_sections(console, f"[bold]{kind}: {result.plan_name}[/bold]", parts, lines)
        return None
    return RENDERERS[fmt](result)
