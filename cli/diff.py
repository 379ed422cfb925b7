"""``tco diff OLD.json NEW.json``: what changed between two reports of ``tco compare --format
json`` (the recommended scenario, the NPV and total of each scenario, and the rows of
procurement, retirements, commitments and prices that differ), and its renderers.

The comparison is a pure function of the two parsed documents (:func:`diff_reports`); reading
the files (:func:`read_report`) and rendering are kept apart from it. A row is matched across
the reports on the fields that identify it (:data:`KEYS`), so a changed count is one changed
row, not a removed row and an added one. An amount missing from a report (a scenario only in
the other report, an infeasible scenario) is ``None``, never 0.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from tco.pricing.errors import TcoError
from tco.pricing.files import atomic_write_text

from .formats import OutputFormat

if TYPE_CHECKING:
    from rich.console import Console

    from .render import Section

__all__ = ["DIFF_FORMATS", "KEYS", "Change", "Diff", "ReportError", "RowChange", "RowTable",
           "ScenarioChange", "check_report", "cmd_diff", "diff_reports", "diff_rows",
           "read_report", "render_diff"]

DIFF_FORMATS = (OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.MARKDOWN)
EXPECTED = "a report written by `tco compare --format json`"


class ReportError(TcoError):
    """A file given to ``tco diff`` is missing, unreadable, not JSON, or not a report of
    ``tco compare --format json``."""


class Change(StrEnum):
    ADDED = "added"        # only in the new report
    REMOVED = "removed"    # only in the old report
    CHANGED = "changed"
    SAME = "same"          # scenarios only: rows that did not change are left out


class RowTable(StrEnum):
    """The tables of a report compared row by row."""

    PROCUREMENT = "procurement"
    RETIREMENTS = "retirements"
    COMMITMENTS = "commitments"
    PRICES = "prices"
    INPUTS = "inputs"


# The fields that identify a row of each table; every other field of the row is compared.
KEYS: dict[RowTable, tuple[str, ...]] = {
    RowTable.INPUTS: ("key",),
    RowTable.PROCUREMENT: ("scenario", "site", "server", "order_month"),
    RowTable.RETIREMENTS: ("scenario", "site", "server", "cohort", "month"),
    RowTable.COMMITMENTS: ("scenario", "provider", "region", "instance_type", "purchase",
                           "start_month"),
    RowTable.PRICES: ("provider",),
}
PLAN_FIELDS = ("name", "start", "months")
SCENARIO_FIELDS = ("feasible", "reason", "npv_usd", "total_usd")
HALF_CENT = 0.005


@dataclass(frozen=True)
class ScenarioChange:
    """One scenario in either report. ``old``/``new`` hold its ``feasible``, ``reason``,
    ``npv_usd`` and ``total_usd``, or are None when the report has no such scenario; a change
    is None when either amount is missing, a percentage (of the old amount) also when the old
    amount is 0."""

    name: str
    change: Change
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    npv_change_usd: float | None
    npv_change_pct: float | None
    total_change_usd: float | None
    total_change_pct: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "change": self.change.value, "old": self.old,
                "new": self.new, "npv_change_usd": self.npv_change_usd,
                "npv_change_pct": self.npv_change_pct,
                "total_change_usd": self.total_change_usd,
                "total_change_pct": self.total_change_pct}


@dataclass(frozen=True)
class RowChange:
    """A row added, removed or changed: its identifying fields (``key``), its other fields in
    each report (None where it is absent), and which of them differ."""

    change: Change
    key: dict[str, Any]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    changed_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change.value, **self.key, "old": self.old, "new": self.new,
                "changed_fields": list(self.changed_fields)}


@dataclass(frozen=True)
class Diff:
    """What changed from one report to the other. ``tables`` maps each row table to its
    changes, or to None when a report has no such table (it is then not compared)."""

    old_file: str
    new_file: str
    old_plan: dict[str, Any]
    new_plan: dict[str, Any]
    plan_changes: tuple[str, ...]
    old_recommended: str | None
    new_recommended: str | None
    scenarios: tuple[ScenarioChange, ...]
    tables: dict[RowTable, tuple[RowChange, ...] | None]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The document of ``tco diff --format json``."""
        doc: dict[str, Any] = {
            "old_file": self.old_file, "new_file": self.new_file,
            "plan": {"old": self.old_plan, "new": self.new_plan,
                     "changed": list(self.plan_changes)},
            "recommended": {"old": self.old_recommended, "new": self.new_recommended,
                            "changed": self.old_recommended != self.new_recommended},
            "scenarios": [s.to_dict() for s in self.scenarios],
        }
        for table, rows in self.tables.items():
            doc[table.value] = None if rows is None else [r.to_dict() for r in rows]
        doc["notes"] = list(self.notes)
        return doc


# --- reading and checking a report --------------------------------------------------------------

def read_report(path: str | Path) -> dict[str, Any]:
    """The report in the file at ``path``, checked (:func:`check_report`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file; expected {EXPECTED}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ReportError(f"{path}: cannot read it ({reason}); expected {EXPECTED}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column "
                          f"{exc.colno}); expected {EXPECTED}") from None
    check_report(doc, str(path))
    return doc


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_report(doc: object, name: str) -> None:
    """Raise :class:`ReportError` naming ``name`` unless ``doc`` has the shape of a report of
    ``tco compare --format json``: its plan, recommendation and scenarios, and rows that carry
    their identifying fields. Keys this module does not read are allowed."""
    def bad(what: str) -> ReportError:
        return ReportError(f"{name}: not {EXPECTED}: {what}")

    if not isinstance(doc, dict):
        raise bad(f"found a JSON {type(doc).__name__}, not an object with 'plan', 'recommended' "
                  f"and 'scenarios'")
    missing = [k for k in ("plan", "recommended", "scenarios") if k not in doc]
    if missing:
        raise bad("no " + ", ".join(repr(k) for k in missing))
    plan = doc["plan"]
    if not (isinstance(plan, dict) and isinstance(plan.get("name"), str)
            and isinstance(plan.get("start"), str) and isinstance(plan.get("months"), int)):
        raise bad("'plan' needs 'name', 'start' and 'months'")
    if doc["recommended"] is not None and not isinstance(doc["recommended"], str):
        raise bad("'recommended' is neither a scenario name nor null")
    scenarios = doc["scenarios"]
    if not isinstance(scenarios, list):
        raise bad("'scenarios' is not a list")
    seen: set[str] = set()
    for i, s in enumerate(scenarios):
        if not (isinstance(s, dict) and isinstance(s.get("name"), str)
                and isinstance(s.get("feasible"), bool)):
            raise bad(f"scenarios[{i}] needs a 'name' and 'feasible'")
        if s["name"] in seen:
            raise bad(f"scenario {s['name']!r} appears twice")
        seen.add(s["name"])
        for k in ("npv_usd", "total_usd"):
            if s.get(k) is not None and not _is_number(s[k]):
                raise bad(f"scenarios[{i}].{k} is not a number")
    for table, fields in KEYS.items():
        rows = doc.get(table.value)
        if rows is None:
            continue
        if not isinstance(rows, list):
            raise bad(f"'{table}' is not a list")
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise bad(f"{table}[{i}] is not an object")
            absent = [f for f in fields if not isinstance(row.get(f), str)]
            if absent:
                raise bad(f"{table}[{i}] has no " + ", ".join(repr(f) for f in absent))


# --- the comparison -----------------------------------------------------------------------------

def _differ(a: object, b: object) -> bool:
    if _is_number(a) and _is_number(b):
        return abs(a - b) >= HALF_CENT
    return a != b


def _change(old: object, new: object) -> tuple[float | None, float | None]:
    """New less old, and that as a percentage of the old amount; None where it is missing."""
    if not (_is_number(old) and _is_number(new)):
        return None, None
    delta = round(float(new - old), 2)
    pct = round(100 * (new - old) / abs(old), 2) if old else None
    return delta, pct


def _field(side: dict[str, Any] | None, key: str) -> object:
    return None if side is None else side.get(key)


def _scenario(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
              ) -> ScenarioChange:
    o = {k: old.get(k) for k in SCENARIO_FIELDS} if old is not None else None
    n = {k: new.get(k) for k in SCENARIO_FIELDS} if new is not None else None
    if o is None:
        change = Change.ADDED
    elif n is None:
        change = Change.REMOVED
    else:
        change = Change.CHANGED if any(_differ(o[k], n[k]) for k in SCENARIO_FIELDS) \
            else Change.SAME
    npv, npv_pct = _change(_field(o, "npv_usd"), _field(n, "npv_usd"))
    total, total_pct = _change(_field(o, "total_usd"), _field(n, "total_usd"))
    return ScenarioChange(name, change, o, n, npv, npv_pct, total, total_pct)


def _index(rows: list[dict[str, Any]], fields: tuple[str, ...]
           ) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows by their identifying fields; a key seen again gets its occurrence number added, so
    the n-th of a repeated key is matched with the other report's n-th."""
    seen: Counter[tuple[Any, ...]] = Counter()
    out = {}
    for row in rows:
        key = tuple(row[f] for f in fields)
        seen[key] += 1
        out[key if seen[key] == 1 else (*key, seen[key])] = row
    return out


def diff_rows(old: list[dict[str, Any]], new: list[dict[str, Any]], fields: tuple[str, ...],
              order: dict[str, int] | None = None) -> tuple[RowChange, ...]:
    """The rows added, removed or changed from ``old`` to ``new``, matched on ``fields``;
    sorted by scenario (in ``order``) and then by those fields."""
    before, after = _index(old, fields), _index(new, fields)
    rank = order or {}

    def sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple((rank.get(v, len(rank)), v) if f == "scenario" else (0, v)
                     for f, v in zip(fields, key, strict=False)) + key[len(fields):]

    out = []
    for key in sorted(before.keys() | after.keys(), key=sort_key):
        o, n = before.get(key), after.get(key)
        ident = dict(zip(fields, key, strict=False))
        o_rest = None if o is None else {k: v for k, v in o.items() if k not in fields}
        n_rest = None if n is None else {k: v for k, v in n.items() if k not in fields}
        if o_rest is None:
            out.append(RowChange(Change.ADDED, ident, None, n_rest))
        elif n_rest is None:
            out.append(RowChange(Change.REMOVED, ident, o_rest, None))
        else:
            names = list(o_rest) + [k for k in n_rest if k not in o_rest]
            changed = tuple(k for k in names if _differ(o_rest.get(k), n_rest.get(k)))
            if changed:
                out.append(RowChange(Change.CHANGED, ident, o_rest, n_rest, changed))
    return tuple(out)


def _plan_label(plan: dict[str, Any]) -> str:
    return f"{plan['name']}, {plan['months']} months from {plan['start']}"


def diff_reports(old: dict[str, Any], new: dict[str, Any], old_file: str = "OLD",
                 new_file: str = "NEW") -> Diff:
    """What changed from the report ``old`` to the report ``new`` (both documents of
    ``tco compare --format json``; checked first, errors naming ``old_file``/``new_file``)."""
    check_report(old, old_file)
    check_report(new, new_file)
    old_plan = {k: old["plan"][k] for k in PLAN_FIELDS}
    new_plan = {k: new["plan"][k] for k in PLAN_FIELDS}
    plan_changes = tuple(k for k in PLAN_FIELDS if old_plan[k] != new_plan[k])
    notes = []
    if plan_changes:
        notes.append(f"warning: the reports are of different plans or horizons "
                     f"({_plan_label(old_plan)} -> {_plan_label(new_plan)}): their amounts "
                     f"and months do not compare like for like")

    before = {s["name"]: s for s in old["scenarios"]}
    after = {s["name"]: s for s in new["scenarios"]}
    names = list(after) + [n for n in before if n not in after]
    scenarios = tuple(_scenario(n, before.get(n), after.get(n)) for n in names)
    for s in scenarios:
        if s.old is None:
            notes.append(f"{s.name}: only in {new_file}")
        elif s.new is None:
            notes.append(f"{s.name}: only in {old_file}")
        infeasible = [(file, side["reason"] or "no reason given")
                      for file, side in ((old_file, s.old), (new_file, s.new))
                      if side is not None and not side["feasible"]]
        if len(infeasible) == 2 and infeasible[0][1] == infeasible[1][1]:
            infeasible = [("both reports", infeasible[0][1])]
        notes += [f"{s.name}: infeasible in {file}: {reason}" for file, reason in infeasible]

    order = {n: i for i, n in enumerate(names)}
    tables: dict[RowTable, tuple[RowChange, ...] | None] = {}
    for table, fields in KEYS.items():
        lacking = [f for f, doc in ((old_file, old), (new_file, new))
                   if doc.get(table.value) is None]
        if lacking:
            tables[table] = None
            notes.append(f"{table}: not compared ({' and '.join(lacking)} "
                         f"{'has' if len(lacking) == 1 else 'have'} no {table} table)")
        else:
            tables[table] = diff_rows(old[table.value], new[table.value], fields, order)
    return Diff(old_file, new_file, old_plan, new_plan, plan_changes, old["recommended"],
                new["recommended"], scenarios, tables, tuple(notes))


# --- rendering ----------------------------------------------------------------------------------

# Per table: the columns of its identifying fields (a header and the fields shown in it, joined
# by ":"), then the other fields shown and their headers (the JSON document has every field).
COLUMNS: dict[RowTable, tuple[tuple[tuple[str, tuple[str, ...]], ...],
                              tuple[tuple[str, str], ...]]] = {
    RowTable.PROCUREMENT: ((("scenario", ("scenario",)), ("site", ("site",)),
                            ("server", ("server",)), ("order", ("order_month",))),
                           (("arrival_month", "arrives"), ("count", "count"),
                            ("capex_usd", "capex"))),
    RowTable.RETIREMENTS: ((("scenario", ("scenario",)), ("site", ("site",)),
                            ("server", ("server",)), ("cohort", ("cohort",)),
                            ("month", ("month",))),
                           (("count", "count"), ("reason", "why"), ("resale_usd", "resale"),
                            ("decommission_usd", "decommission"))),
    RowTable.COMMITMENTS: ((("scenario", ("scenario",)), ("venue", ("provider", "region")),
                            ("instance", ("instance_type",)), ("term", ("purchase",)),
                            ("from", ("start_month",))),
                           (("count", "count"), ("usd_per_month", "per month"))),
    RowTable.PRICES: ((("provider", ("provider",)),),
                      (("source", "source"), ("as_of", "as of"), ("records", "records"))),
    RowTable.INPUTS: ((("input", ("key",)),), (("value", "value"),)),
}
TITLES = {RowTable.PROCUREMENT: "Procurement changes", RowTable.RETIREMENTS: "Retirement changes",
          RowTable.COMMITMENTS: "Commitment changes", RowTable.PRICES: "Price source changes",
          RowTable.INPUTS: "Input changes (the plan's keys, defaults filled in)"}


def _cell(field: str, value: object) -> str:
    from .render import usd

    if value is None:
        return "-"
    if (field.endswith("_usd") or field.startswith("usd_")) and _is_number(value):
        return usd(value)
    return str(value)


def _signed(value: float | None) -> str:
    from .render import usd

    if value is None:
        return "-"
    return ("+" if value >= HALF_CENT else "") + usd(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _status(s: ScenarioChange, d: Diff) -> str:
    parts = []
    if s.old is None:
        parts.append("only in new")
    elif s.new is None:
        parts.append("only in old")
    infeasible = [w for w, side in (("old", s.old), ("new", s.new))
                  if side is not None and not side["feasible"]]
    if infeasible:
        parts.append("infeasible in " + " and ".join(infeasible))
    if s.name == d.new_recommended:
        parts.append("recommended" if s.name == d.old_recommended else "now recommended")
    elif s.name == d.old_recommended:
        parts.append("was recommended")
    return "; ".join(parts)


def scenario_section(d: Diff) -> Section:
    rows = []
    for s in d.scenarios:
        old, new = s.old or {}, s.new or {}
        status = _status(s, d)
        rows.append([s.name, "NPV", _cell("npv_usd", old.get("npv_usd")),
                     _cell("npv_usd", new.get("npv_usd")), _signed(s.npv_change_usd),
                     _pct(s.npv_change_pct)])
        # what is special about the scenario goes under its name
        rows.append([f"({status})" if status else "", "total",
                     _cell("total_usd", old.get("total_usd")),
                     _cell("total_usd", new.get("total_usd")), _signed(s.total_change_usd),
                     _pct(s.total_change_pct)])
    return ("Scenarios: NPV and total, old -> new (change as a % of the old amount)",
            ["scenario", "amount", "old", "new", "change", "%"], rows, {2, 3, 4, 5})


def row_section(table: RowTable, changes: tuple[RowChange, ...]) -> Section:
    keys, shown = COLUMNS[table]
    rows = []
    for c in changes:
        cells = [c.change.value, *(":".join(str(c.key[f]) for f in fields) for _, fields in keys)]
        for field, _ in shown:
            old = None if c.old is None else c.old.get(field)
            new = None if c.new is None else c.new.get(field)
            if c.change == Change.ADDED:
                cells.append(_cell(field, new))
            elif c.change == Change.REMOVED:
                cells.append(_cell(field, old))
            elif field in c.changed_fields:
                cells.append(f"{_cell(field, old)} -> {_cell(field, new)}")
            else:
                cells.append(_cell(field, new))
        rows.append(cells)
    headers = ["change", *(h for h, _ in keys), *(h for _, h in shown)]
    numeric = {i for i, (f, _) in enumerate(shown, 1 + len(keys))
               if f in ("count", "records") or f.endswith("_usd") or f.startswith("usd_")}
    return TITLES[table], headers, rows, numeric


def sections(d: Diff) -> list[Section]:
    out = [scenario_section(d)]
    out += [row_section(t, rows) for t, rows in d.tables.items() if rows is not None]
    return out


def _recommended(d: Diff) -> str:
    def name(n: str | None) -> str:
        return n if n is not None else "none (no feasible scenario)"

    if d.old_recommended == d.new_recommended:
        return f"Recommended: {name(d.new_recommended)} (unchanged)"
    return f"Recommended: {name(d.old_recommended)} -> {name(d.new_recommended)}"


def _plan_line(d: Diff) -> str:
    if not d.plan_changes:
        return f"Plan: {_plan_label(d.new_plan)}"
    return f"Plan: {_plan_label(d.old_plan)} -> {_plan_label(d.new_plan)}"


def render_table(d: Diff, console: Console) -> None:
    from rich.markup import escape

    from .render import print_sections

    title = f"[bold]What changed[/bold]: {escape(d.old_file)} -> {escape(d.new_file)}"
    heading = "\n".join([title, escape(_plan_line(d)), escape(_recommended(d))])
    print_sections(console, heading, sections(d), list(d.notes))


def render_markdown(d: Diff) -> str:
    from .render import markdown

    return markdown(f"What changed: {d.old_file} -> {d.new_file}",
                    f"{_plan_line(d)}. {_recommended(d)}.", sections(d), list(d.notes))


def render_json(d: Diff) -> str:
    return json.dumps(d.to_dict(), indent=2) + "\n"


def render_diff(d: Diff, fmt: OutputFormat, console: Console) -> str | None:
    """Text for a file or stdout; the table format prints to ``console`` and returns None."""
    if fmt == OutputFormat.TABLE:
        render_table(d, console)
        return None
    if fmt == OutputFormat.JSON:
        return render_json(d)
    if fmt == OutputFormat.MARKDOWN:
        return render_markdown(d)
    raise ReportError(f"tco diff writes {', '.join(f.value for f in DIFF_FORMATS)}, not {fmt}")


def cmd_diff(args: argparse.Namespace) -> int:
    """``tco diff OLD.json NEW.json``: exit 0 whether or not anything changed."""
    from rich.console import Console

    from .main import EXIT_OK, WIDE, _console

    d = diff_reports(read_report(args.old), read_report(args.new), args.old, args.new)
    fmt = OutputFormat(args.format)
    if args.output:
        if fmt == OutputFormat.TABLE:
            file_console = Console(record=True, width=WIDE, file=io.StringIO(),
                                   color_system=None)
            render_diff(d, fmt, file_console)
            text = file_console.export_text().rstrip("\n") + "\n"
        else:
            text = render_diff(d, fmt, _console()) or ""
        try:
            atomic_write_text(args.output, text)
        except OSError as exc:
            raise ReportError(f"{args.output}: cannot write it ({exc.strerror or exc})") from None
        _console(stderr=True).print(f"wrote {args.output}", markup=False, highlight=False)
    else:
        shown = render_diff(d, fmt, _console())
        if shown is not None:
            sys.stdout.write(shown)
    return EXIT_OK
