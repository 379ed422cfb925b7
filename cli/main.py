"""``tco``: parse arguments, call the library, render. Exit codes as in SPEC section 7."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from tco.analysis.criteria import Criterion
from tco.optimizer.errors import PlanError
from tco.optimizer.solver import SolverName
from tco.pricing.catalog import load_catalog, matches, write_catalog_file
from tco.pricing.errors import CatalogError, NoPriceSourceError, PricingError, TcoError
from tco.pricing.files import atomic_write_text
from tco.pricing.models import CLOUD_PURCHASES, Catalog, Provider

from .formats import CsvTable, OutputFormat
from .progress import AnalysisBar, CompareStatus

if TYPE_CHECKING:
    from tco.optimizer.plan import LoadedPlan

EXIT_OK = 0
EXIT_INFEASIBLE = 1
EXIT_USAGE = 2
EXIT_NO_PRICES = 3
EXIT_UNPROVEN = 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"tco: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tco", description="Cloud-vs-on-premise decision engine for GPU "
                     "infrastructure.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cmp_ = sub.add_parser("compare", help="price every way to run a plan and recommend one")
    _plan_options(cmp_)
    cmp_.add_argument("--table", choices=[t.value for t in CsvTable], default="allocations",
                      help="the table --format csv writes; with the table format, budget "
                           "adds the budget by fiscal year")

    sens = sub.add_parser("sensitivity", help="how the plan's NPV and decisions move with each "
                          "lever, a swing either way")
    _plan_options(sens)
    sens.add_argument("--param", action="append", metavar="P",
                      help="a lever or numeric key path (repeatable; default: every named "
                           "lever the plan uses)")
    sens.add_argument("--swing", type=float, default=0.2,
                      help="multipliers at 1 -/+ SWING, absolute levers at base -/+ SWING x "
                           "|base| (default 0.2)")
    _executor_options(sens)

    be = sub.add_parser("breakeven", help="where the recommended decisions change as one "
                        "lever moves")
    _plan_options(be)
    be.add_argument("--param", required=True, metavar="P", help="a lever or numeric key path")
    be.add_argument("--low", type=float, help="default: 0.5 for a multiplier, else half the base")
    be.add_argument("--high", type=float, help="default: 1.5 for a multiplier, else 1.5 x base")
    be.add_argument("--points", type=int, default=11,
                    help="values sampled across the range before bisection (default 11)")
    _executor_options(be)

    rk = sub.add_parser("risk", help="the candidate plans across many futures ([uncertainty])")
    _plan_options(rk)
    rk.add_argument("--samples", type=int, default=200, help="futures drawn (default 200)")
    rk.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    rk.add_argument("--criterion", choices=[c.value for c in Criterion], default="mean",
                    help="how the recommendation is chosen (default mean)")
    rk.add_argument("--optimize", action="store_true",
                    help="add the robust candidate: the first-stage decisions best by the "
                         "criterion over the samples jointly (a two-stage stochastic program "
                         "on the samples of SEED); every candidate is then evaluated on the "
                         "samples of SEED + 1")
    rk.add_argument("--per-program", type=int, default=None, metavar="N",
                    help="with --optimize: futures per joint program (default 20); more "
                         "samples are split into programs solved side by side")
    _executor_options(rk)
    rk.add_argument("--samples-out", metavar="FILE",
                    help="write every sample's drawn levers and each candidate's committed NPV "
                         "and gap to FILE (CSV), to recompute the statistics")

    alt = sub.add_parser("alternatives", help="how much freedom plans within a slack of the "
                         "cheapest leave: each dimension's least and most")
    _plan_options(alt)
    alt.add_argument("--slack", type=float, default=0.05,
                     help="plans up to NPV* + SLACK x |NPV*| (default 0.05: 5%%)")
    alt.add_argument("--dims", metavar="D,...",
                     help="dimensions, comma-separated (default: all: onprem_gpus, "
                          "onprem_gpu_hours, cloud_gpu_hours, capex_usd, committed_usd, "
                          "cloud_gpu_hours.<provider>)")
    alt.add_argument("--directions", type=int, default=0, metavar="N",
                     help="plans in N random directions over the dimensions (default 0)")
    alt.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    alt.add_argument("--plot", metavar="X,Y",
                     help="the two dimensions of the HTML page's scatter (default: the first "
                          "two)")
    _executor_options(alt)

    dif = sub.add_parser("diff", help="what changed between two reports of tco compare "
                         "--format json")
    dif.add_argument("old", metavar="OLD.json", help="the earlier report")
    dif.add_argument("new", metavar="NEW.json", help="the later report")
    dif.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    dif.add_argument("--output", "-o", metavar="FILE",
                     help="write the differences to FILE instead of stdout")

    val = sub.add_parser("validate", help="check a plan without solving it: its keys, and "
                         "the checks that rule a scenario out before solving")
    val.add_argument("plan")
    val.add_argument("--catalog", help="check against exactly this catalog file")

    init = sub.add_parser("init", help="write a commented starter plan")
    init.add_argument("file", nargs="?", default="workload.toml")
    init.add_argument("--force", action="store_true", help="overwrite FILE if it exists")

    prices = sub.add_parser("prices", help="inspect and export the price catalog")
    psub = prices.add_subparsers(dest="prices_command", required=True, parser_class=_Parser)
    plist = psub.add_parser("list", help="list compute prices")
    plist.add_argument("--provider", action="append")
    plist.add_argument("--gpu", action="append")
    plist.add_argument("--region", action="append")
    plist.add_argument("--purchase", action="append",
                       choices=[p.value for p in CLOUD_PURCHASES])
    plist.add_argument("--format", choices=["table", "json"], default="table")
    plist.add_argument("--catalog", help="list this catalog file instead")
    pref = psub.add_parser("refresh", help="fetch live prices from the providers' APIs")
    pref.add_argument("--provider", action="append", choices=[p.value for p in Provider])
    pref.add_argument("--region", action="append")
    pref.add_argument("--from", dest="catalog_from", metavar="URL_OR_DIR",
                      help="read the GPU clouds' gpuhunt catalogs from this base URL (ending "
                           "in /v3) or directory of <provider>.csv files")
    pexp = psub.add_parser("export", help="write the catalog in use as JSON")
    pexp.add_argument("file")
    pexp.add_argument("--catalog", help="export this catalog file (e.g. to normalize it)")
    pexp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    cache = sub.add_parser("cache", help="inspect or clear the price cache")
    csub = cache.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    csub.add_parser("info", help="where the cache is, and how old each provider's prices are")
    csub.add_parser("clear", help="remove cached prices and HTTP responses")
    return parser


def _plan_options(cmd: argparse.ArgumentParser) -> None:
    """The plan, the output and the price and solver options every solving command takes."""
    cmd.add_argument("plan", help="the plan file (workload.toml)")
    cmd.add_argument("--format", choices=[f.value for f in OutputFormat], default="table")
    cmd.add_argument("--output", "-o", help="write the report to FILE instead of stdout")
    cmd.add_argument("--catalog", help="plan with exactly this catalog file and no other source")
    cmd.add_argument("--offline", action="store_true",
                     help="never touch the network (cached live prices, else the snapshot)")
    cmd.add_argument("--refresh", action="store_true",
                     help="refresh every provider's live prices first")
    cmd.add_argument("--solver", choices=[s.value for s in SolverName],
                     help="default: the plan's, or highs")
    cmd.add_argument("--time-limit", type=float, metavar="S",
                     help="safety net: seconds each scenario's solve may take (default: 300, "
                          "or one per 200 columns of a larger program); searches are bounded "
                          "by work, the same on any machine, and stop before it")


def _executor_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--executor", default="local", metavar="local|dask://HOST:PORT",
                     help="where the solves run: a local process pool (default) or a running "
                          "Dask scheduler")
    cmd.add_argument("--workers", type=int, metavar="K",
                     help="local processes (default: one per core)")
    cmd.add_argument("--gap", type=float, default=0.001, metavar="G",
                     help="every solve to this relative gap, (NPV - bound) / max(|NPV|, "
                          "|bound|, 1) (default 0.001: 0.1%%)")


WIDE = 120  # columns for tables written to a file, or to a pipe when COLUMNS is not set


def _width() -> int | None:
    """``COLUMNS`` when it is set to a number: the width a pipe's reader asked for."""
    try:
        return max(40, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        return None


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True,
                          width=_width() or WIDE)
    return console


def _catalog(args: argparse.Namespace, providers: list[str] | None = None,
             refresh: str = "never") -> Catalog:
    return load_catalog(offline=getattr(args, "offline", False), path=getattr(args, "catalog", None),
                        providers=providers, refresh=refresh)


def _plan_catalog(args: argparse.Namespace, loaded: LoadedPlan) -> Catalog:
    """The catalog a solving command uses: the --catalog file, or the snapshot with live
    prices over it as the plan's ``[prices] refresh`` and the options say."""
    err = _console(stderr=True)
    refresh = "always" if args.refresh else loaded.plan.prices.refresh
    providers = [p.value for p in loaded.plan.cloud.providers]
    if args.catalog is None and not args.offline and refresh != "never":
        with err.status("checking live prices...", spinner="dots") if err.is_terminal \
                else _nullcontext():
            return _catalog(args, providers, "always" if refresh == "always" else "auto")
    return _catalog(args, providers if args.catalog is None else None)


def cmd_analysis(args: argparse.Namespace) -> int:
    """``tco sensitivity``, ``tco breakeven``, ``tco risk`` and ``tco alternatives``."""
    from tco.analysis import AnalysisError, alternatives, breakeven, executor, risk, sensitivity

    from .analysis import render

    loaded = _load_plan(args.plan)
    catalog = _plan_catalog(args, loaded)
    err = _console(stderr=True)
    fmt = OutputFormat(args.format)
    with AnalysisBar(err) as progress, executor(args.executor, args.workers) as pool:
        common: dict[str, Any] = {"executor": pool, "solver": args.solver,
                                  "time_limit": args.time_limit, "progress": progress,
                                  "gap": args.gap}
        result: Any
        if args.command == "sensitivity":
            result = sensitivity(loaded, catalog, args.param, args.swing, **common)
            feasible = result.base.recommended is not None
        elif args.command == "breakeven":
            result = breakeven(loaded, catalog, args.param, args.low, args.high, args.points,
                               **common)
            feasible = any(p.outcome.recommended for p in result.curve)
        elif args.command == "alternatives":
            plot = _pair(args.plot)
            result = alternatives(loaded, catalog, args.slack, _list(args.dims),
                                  args.directions, args.seed, plot, **common)
            feasible = result.budget_usd is not None
        else:
            if args.per_program is not None and args.per_program < 1:
                raise AnalysisError(f"--per-program: expected at least 1, got "
                                    f"{args.per_program}")
            if args.per_program is not None:
                common["per_program"] = args.per_program
            result = risk(loaded, catalog, args.samples, args.seed, args.criterion,
                          optimize=args.optimize, **common)
            feasible = result.recommended is not None
    if args.command == "risk" and args.samples_out:
        from .analysis import samples_csv

        atomic_write_text(args.samples_out, samples_csv(result))
        err.print(f"wrote {args.samples_out}", highlight=False)
    if args.output:
        if fmt == OutputFormat.TABLE:
            file_console = Console(record=True, width=WIDE, file=io.StringIO(),
                                   color_system=None)
            render(result, fmt, file_console)
            text = file_console.export_text().rstrip("\n") + "\n"
        else:
            text = render(result, fmt, _console()) or ""
        atomic_write_text(args.output, text)
        err.print(f"wrote {args.output}", highlight=False)
    else:
        shown = render(result, fmt, _console())
        if shown is not None:
            sys.stdout.write(shown)
    if result.unproven:
        err.print("tco: the base plan is unproven: its gap is over 5% or unknown, so the "
                  "analysis cannot be relied on; the report was written", style="yellow",
                  markup=False, highlight=False)
        return EXIT_UNPROVEN
    if not feasible:
        err.print("tco: no feasible plan", style="red", markup=False, highlight=False)
        return EXIT_INFEASIBLE
    return EXIT_OK


def _list(text: str | None) -> list[str] | None:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def _pair(text: str | None) -> tuple[str, str] | None:
    items = _list(text)
    if items is None:
        return None
    if len(items) != 2:
        from tco.analysis import AnalysisError

        raise AnalysisError(f"--plot: expected two dimensions X,Y, got {text!r}")
    return items[0], items[1]


def _load_plan(path: str) -> LoadedPlan:
    """The plan file at ``path``, its ``[uncertainty]`` levers checked too: a misspelt one is
    bad input whichever command reads the plan, found before any solve."""
    from tco.analysis.levers import uncertain
    from tco.optimizer import load_plan

    loaded = load_plan(path)
    uncertain(loaded.plan, f"{path}: uncertainty")
    return loaded


def cmd_compare(args: argparse.Namespace) -> int:
    from tco.optimizer import solve

    from .render import render, render_table, warning_lines

    loaded = _load_plan(args.plan)
    err = _console(stderr=True)
    catalog = _plan_catalog(args, loaded)
    # on the terminal only (standard error), whatever the format; never in the report
    with CompareStatus(err, err.is_terminal) as progress:
        result = solve(loaded, catalog, solver=args.solver, time_limit=args.time_limit,
                       progress=progress if progress.enabled else None)
    fmt = OutputFormat(args.format)
    table = CsvTable(args.table)
    if args.output:
        if fmt == OutputFormat.TABLE:
            file_console = Console(record=True, width=WIDE, file=io.StringIO(),
                                   color_system=None)
            render(result, fmt, file_console)
            text = file_console.export_text().rstrip("\n") + "\n"
        else:
            text = render(result, fmt, _console(), table) or ""
        atomic_write_text(args.output, text)
        err.print(f"wrote {args.output}", highlight=False)
    elif fmt == OutputFormat.TABLE:
        # the report on standard output, its warnings on standard error, a few at most
        render_table(result, _console(), warnings=False, table=table)
        for line in warning_lines(result):
            err.print(line, style="yellow", markup=False, highlight=False)
    else:
        shown = render(result, fmt, _console(), table)
        if shown is not None:
            sys.stdout.write(shown)
    if not result.feasible and result.unproven:
        err.print(f"tco: no plan found, and none proven infeasible: the solver stopped without a "
                  f"plan in {', '.join(result.unsolved)} within its work budget or time limit",
                  style="yellow", markup=False, highlight=False)
        return EXIT_UNPROVEN
    if not result.feasible:
        reason = result.recommended.reason or "infeasible"
        err.print(f"tco: no feasible plan: {reason}", style="red", markup=False, highlight=False)
        return EXIT_INFEASIBLE
    if result.unproven:
        err.print(f"tco: the recommended plan ({result.recommended_name}) is unproven: its gap "
                  f"is over 5% or unknown; the report was written", style="yellow",
                  markup=False, highlight=False)
        return EXIT_UNPROVEN
    return EXIT_OK


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    """The plan's keys and references, then each scenario through the checks that need no
    solver (the same as ``tco compare`` runs first), against the prices at hand: the
    snapshot and the cache, or ``--catalog``; never the network."""
    from tco.optimizer.build import prepare
    from tco.optimizer.diagnosis import precheck
    from tco.optimizer.scenarios import scenarios_for

    loaded = _load_plan(args.plan)
    p = loaded.plan
    out, err = _console(), _console(stderr=True)
    # the catalog before the verdict on the plan: a bad catalog file is an error, not "ok"
    catalog = _catalog(args, [prov.value for prov in p.cloud.providers]
                       if args.catalog is None else None)
    out.print(f"{args.plan}: ok — {len(p.workloads)} workload(s), {len(p.onprem.sites)} site(s), "
              f"{len(p.onprem.servers)} server type(s), {p.plan.months} months from "
              f"{p.plan.start}; {len(loaded.assumptions)} default(s) assumed", markup=False,
              highlight=False)
    for warning in loaded.warnings:
        err.print(f"warning: {warning}", style="yellow", markup=False, highlight=False)
    ruled_out = []
    scenarios = scenarios_for(p)
    for scenario in scenarios:
        reason = precheck(prepare(p, catalog, scenario))
        if reason:
            ruled_out.append(scenario.name)
            out.print(f"{scenario.name}: ruled out before solving: {reason}", markup=False,
                      highlight=False)
    if len(ruled_out) == len(scenarios):
        err.print("tco: no scenario can be served; tco compare would find no feasible plan",
                  style="red", markup=False, highlight=False)
        return EXIT_INFEASIBLE
    left = [s.name for s in scenarios if s.name not in ruled_out]
    out.print(f"scenarios to solve: {', '.join(left)}", markup=False, highlight=False)
    return EXIT_OK


def starter_plan() -> str:
    return resources.files("tco.cli").joinpath("templates", "starter.toml").read_text("utf-8")


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.exists() and not args.force:
        raise PlanError(f"{path}: already exists; not overwriting it (use --force, or another "
                        f"name)")
    # the file's own name in its comments; no other "{file}" is in the template
    atomic_write_text(path, starter_plan().replace("{file}", shlex.quote(str(path))))
    _console().print(f"wrote {path}; edit it, then run: tco compare {shlex.quote(str(path))}", markup=False,
                     highlight=False)
    return EXIT_OK


class UsageError(TcoError):
    """An option given a value tco does not know."""


def _check_filters(args: argparse.Namespace, catalog: Catalog) -> None:
    """Every ``--provider``, ``--gpu`` and ``--region`` value names something tco knows (in
    its reference data or the catalog), so that a typo is an error rather than an empty list."""
    from tco.pricing.names import did_you_mean
    from tco.pricing.reference import gpu_classes, regions

    known = {
        "--provider": sorted(p.value for p in Provider),
        "--gpu": sorted({*gpu_classes(), *(r.gpu for r in catalog.compute)}),
        "--region": sorted({*(r for _, r in regions()), *(r.region for r in catalog.compute)}),
    }
    given = {"--provider": args.provider, "--gpu": args.gpu, "--region": args.region}
    for option, values in given.items():
        folded = {k.lower() for k in known[option]}
        for value in values or ():
            if value.lower() not in folded:
                shown = ", ".join(known[option]) if len(known[option]) <= 20 else \
                    f"{len(known[option])} of them; `tco prices list` shows them"
                what = {"--provider": "provider", "--gpu": "GPU class",
                        "--region": "region"}[option]
                raise UsageError(f"{option} {value}: not a known {what}"
                                 f"{did_you_mean(value, known[option])} (known: {shown})")


def cmd_prices(args: argparse.Namespace) -> int:
    if args.prices_command == "refresh":
        return cmd_refresh(args)
    catalog = _catalog(args)
    if args.prices_command == "export":
        path = Path(args.file)
        if path.exists() and not args.force:
            raise CatalogError(f"{path}: already exists; not overwriting it (use --force)")
        write_catalog_file(catalog, path)
        _console(stderr=True).print(f"wrote {len(catalog.compute)} compute, "
                                    f"{len(catalog.storage)} storage and {len(catalog.egress)} "
                                    f"egress records to {path}", markup=False, highlight=False)
        return EXIT_OK
    _check_filters(args, catalog)
    records = [r for r in catalog.compute
               if matches(r, provider=args.provider, gpu=args.gpu, region=args.region,
                          purchase=args.purchase)]
    records.sort(key=lambda r: (r.provider, r.region, r.gpu, r.instance_type, r.purchase.value))
    if args.format == "json":
        sys.stdout.write(json.dumps([r.to_dict() for r in records], indent=1) + "\n")
        return EXIT_OK
    from .render import print_sections

    today = dt.date.today()
    headers = ["provider", "region", "instance", "GPU", "GPUs", "purchase", "$/hour",
               "$/GPU-hour", "upfront", "origin", "as of", "age (days)"]
    rows = [[r.provider, r.region, r.instance_type, r.gpu, str(r.gpu_count), r.purchase.value,
             f"{r.usd_per_hour:,.4f}", f"{r.usd_per_gpu_hour:,.4f}",
             f"{r.upfront_usd:,.0f}" if r.upfront_usd else "-", r.source.value,
             r.as_of.isoformat(), str((today - r.as_of).days)] for r in records]
    print_sections(_console(), f"{len(records)} compute prices",
                   [("", headers, rows, {4, 6, 7, 8, 11})], [])
    return EXIT_OK


def cmd_refresh(args: argparse.Namespace) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tco.pricing.base import ADAPTERS
    from tco.pricing.gpuclouds import GPUHUNT_NAMES
    from tco.pricing.live import offline_forced, refresh_all
    from tco.pricing.settings import PricingSettings

    settings = PricingSettings.from_env()
    # every provider with a live source unless named: the others can only say they have none
    providers = args.provider or [p.value for p in Provider if p in ADAPTERS]
    if args.catalog_from:
        if args.provider is None:
            providers = [p.value for p in GPUHUNT_NAMES]
        others = [p for p in providers if Provider(p) not in GPUHUNT_NAMES]
        if others:
            raise UsageError(f"--from reads gpuhunt catalogs, which tco uses for "
                             f"{', '.join(p.value for p in GPUHUNT_NAMES)}; not for "
                             f"{', '.join(others)}")
        settings = replace(settings, catalog_from=args.catalog_from)
    local = bool(args.catalog_from) and not args.catalog_from.startswith(("http://", "https://"))
    if offline_forced() and not local:
        raise PricingError("TCO_OFFLINE is set: refusing to touch the network")
    err = _console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        tasks = {p: bar.add_task(f"{p}: starting", total=None) for p in providers}

        def progress(message: str) -> None:
            provider = message.split(":", 1)[0]
            if provider in tasks:
                bar.update(tasks[provider], description=message)
        outcomes = refresh_all(providers, settings, args.region, progress)
    from rich.table import Table

    table = Table(title="Price refresh", title_justify="left")
    for h in ("provider", "result", "records", "notes"):
        table.add_column(h, justify="right" if h == "records" else "left", overflow="fold")
    for o in outcomes:
        result = "ok" if o.ok else ("no credentials" if o.missing_credentials
                                    else "no live source" if o.reason == "no live source"
                                    else "failed")
        table.add_row(o.provider, result, str(o.records) if o.ok else "-", o.message or "")
    _console().print(table)
    if not any(o.ok for o in outcomes):
        return EXIT_NO_PRICES
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    from tco.pricing.cache import RecordCache
    from tco.pricing.settings import PricingSettings

    settings = PricingSettings.from_env()
    cache = RecordCache(settings)
    out = _console()
    if args.cache_command == "clear":
        removed = cache.clear()
        out.print(f"removed {removed} file(s) from {settings.cache_dir}", markup=False)
        return EXIT_OK
    out.print(f"cache: {settings.cache_dir} (live prices are fresh for "
              f"{settings.ttl_s // 3600} h)", markup=False)
    rows = cache.info()
    if not rows:
        out.print("no live prices cached; plans use the bundled snapshot", markup=False)
    for r in rows:
        state = "fresh" if r["fresh"] else "stale"
        line = (f"{r['provider']}: {r['records']} records fetched {r['fetched_at']} "
                f"({r['age_hours']} h ago, {state}), {r['bytes']} bytes" if r["fetched_at"]
                else f"{r['provider']}: no live prices cached (plans use the bundled snapshot)")
        if r["last_failure"]:
            at = dt.datetime.fromisoformat(r["failed_at"])
            when = (f"not before {dt.datetime.fromisoformat(r['next_attempt']):%Y-%m-%d %H:%M} UTC"
                    if r["next_attempt"] else "on the next run")
            line += (f"; last refresh failed {at:%Y-%m-%d %H:%M} UTC: {r['last_failure']}; "
                     f"next automatic attempt {when}")
        out.print(line, markup=False)
    for warning in cache.warnings:
        out.print(f"warning: {warning}", markup=False)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import cmd_diff as run

    return run(args)


COMMANDS = {"compare": cmd_compare, "validate": cmd_validate, "init": cmd_init,
            "prices": cmd_prices, "cache": cmd_cache, "sensitivity": cmd_analysis,
            "breakeven": cmd_analysis, "risk": cmd_analysis,
            "alternatives": cmd_analysis, "diff": cmd_diff}


def exit_code_for(exc: TcoError) -> int:
    if isinstance(exc, NoPriceSourceError):
        return EXIT_NO_PRICES
    if isinstance(exc, (PlanError, CatalogError)):
        return EXIT_USAGE
    if isinstance(exc, PricingError):
        return EXIT_NO_PRICES
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TcoError as exc:
        _console(stderr=True).print(f"tco: error: {exc}", style="red", markup=False,
                                    highlight=False)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        _console(stderr=True).print("tco: interrupted", markup=False)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
