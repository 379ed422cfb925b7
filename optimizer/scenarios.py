"""The scenarios of SPEC 7, each built, solved and read back: ``solve(plan, catalog)``.

``hybrid`` may use everything; ``cloud-only`` every provider and no site; one
``<provider>-only`` per provider in the plan; ``onprem-only`` when the plan has sites. A
scenario that cannot be served says why: first by checks that need no solver (no offer of the
GPU class, none within the latency bound, too few failure domains), then, if the program is
still infeasible, by an elastic re-solve that finds which workloads fall short and which
limits (capex budget, site power, quotas) bind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

from tco.pricing.catalog import load_catalog
from tco.pricing.errors import NoPriceSourceError
from tco.pricing.models import Catalog, Purchase

from .build import define_program, prepare
from .cuts import add_held_cuts, add_shortfall_cuts
from .decisions import DecisionsError, fix
from .diagnosis import diagnose, precheck
from .errors import PlanError
from .extract import extract
from .finance import after_tax_npv, books, budget
from .gaps import Npv, gap_usd, relative_gap
from .model import Model
from .notices import could_use, price_warnings
from .optimize import drop_unused_venues, optimize
from .plan import LoadedPlan, Plan, plan_from_dict, plan_inputs
from .planfile import PlanFile
from .processes import process_context
from .redemand import demand_differs, movable, move_plan, utilization_differs
from .reprice import PriceFactors, reprice
from .result import Decisions, Result, ScenarioResult
from .solver import SolveInfo, SolverName, SolveStatus, run, safety_net, search, watching
from .venues import Scenario
from .warmstart import FleetHint, Start, start_of, warm_start

Progress = Callable[[str, str], None]
# the default safety net over a scenario's solve (its searches are bounded by nodes, not by
# time): five minutes, or a second for every 200 columns of a larger program, some three times
# what the largest benchmark plans take on a quiet 2-core machine
DEFAULT_TIME_LIMIT_S = 300.0
COLUMNS_PER_SECOND = 200.0
_EPS = 1e-6


def scenarios_for(plan: Plan) -> list[Scenario]:
    """``hybrid``, ``cloud-only``, ``<provider>-only`` per provider, ``onprem-only`` when the
    plan has sites. A signed quote belongs to every scenario, like servers already owned; an
    optional one to ``hybrid``, ``cloud-only`` and its provider's ``<provider>-only``."""
    providers = tuple(p.value for p in plan.cloud.providers)
    quotes = plan.cloud.quotes
    signed = tuple(q.name for q in quotes if not q.optional)
    every = tuple(q.name for q in quotes)

    def of(provider: str) -> tuple[str, ...]:
        return tuple(q.name for q in quotes if not q.optional or q.provider == provider)

    out = [Scenario("hybrid", providers, True, every)]
    if providers:
        out.append(Scenario("cloud-only", providers, False, every))
    for p in providers:
        out.append(Scenario(f"{p}-only", (p,), False, of(p)))
    if plan.onprem.sites:
        out.append(Scenario("onprem-only", (), True, signed))
    return out


def _single_venue_names(plan: Plan) -> set[str]:
    return {f"{p.value}-only" for p in plan.cloud.providers} | {"onprem-only"}


# scenarios that may use the same venues and quotes are one program: (providers, whether it
# has the plan's sites, quotes)
Key = tuple[tuple[str, ...], bool, tuple[str, ...]]


def solve(plan: LoadedPlan | Plan | PlanFile | dict[str, Any], catalog: Catalog | None = None, *,
          solver: str | None = None, time_limit: float | None = None,
          progress: Progress | None = None, today: dt.date | None = None,
          workers: int | None = None, cheapest_only: bool = False,
          fleet_hint: FleetHint | None = None) -> Result:
    """Solve every scenario of ``plan`` against ``catalog`` (the bundled snapshot by default).

    Distinct scenarios are solved in parallel, ``workers`` at a time (default: one per core).
    Every search is bounded by work (``solver.node_budget``), so the result does not depend
    on the machine's load; ``time_limit`` is the safety net over each scenario's solve, in
    seconds (default 300, or one second per 200 columns of a larger program:
    ``default_time_limit``). A scenario stopped by its budget or by the net keeps the best
    plan found and reports its gap; one stopped by the net says so (``time_limited``), and
    the result warns.

    ``cheapest_only`` is for the analyses, which read only the recommendation: the widest
    scenario is solved first, and a narrower one whose relaxation costs more than the widest
    one's plan is not solved further (none of its plans can be the cheapest; it comes back
    without a plan, saying so). The recommendation, its NPV, gap and decisions are the same
    as without it. Ignored when the plan chooses by NPV after tax, which the relaxation does
    not bound. ``fleet_hint`` (with ``cheapest_only``): a plan whose fleet and placements the
    widest scenario's warm start may hold instead of solving for them
    (``warmstart.warm_start``).
    """
    loaded = _loaded(plan)
    p = loaded.plan
    catalog = catalog if catalog is not None else load_catalog(offline=True)
    solver_name = SolverName(solver or p.plan.solver)
    results: dict[Key, ScenarioResult] = {}
    distinct = distinct_scenarios(p, catalog)
    key = partial(scenario_key, p)
    above: float | None = None
    widest = scenarios_for(p)[0]
    if cheapest_only and p.finance.criterion != "after_tax" and all(
            _within(s, widest) for s in distinct.values()):
        # the widest first: a narrower scenario whose relaxation costs more than its plan
        # cannot be the cheapest
        first = distinct.pop(key(widest))
        results[key(widest)] = _solve_one(p, catalog, first, solver_name, time_limit, progress,
                                          fleet_hint=fleet_hint)
        wide = results[key(widest)]
        above = wide.npv_usd if wide.feasible else None
    jobs = max(1, min(workers or os.cpu_count() or 1, len(distinct)))
    if jobs == 1:
        for k, scenario in distinct.items():
            results[k] = _solve_one(p, catalog, scenario, solver_name, time_limit, progress,
                                    above)
    else:
        # scenarios are independent programs: solve them side by side, one per core
        results.update(_side_by_side(p, catalog, distinct, solver_name, time_limit, jobs,
                                     progress, above))
    return assemble(loaded, catalog, results, solver_name, time_limit, progress, today)


def scenario_key(plan: Plan, scenario: Scenario) -> Key:
    """The program ``scenario`` is solved as: scenarios with the same key are one program."""
    return (scenario.providers, scenario.sites and bool(plan.onprem.sites), scenario.quotes)


def distinct_scenarios(plan: Plan, catalog: Catalog) -> dict[Key, Scenario]:
    """The distinct programs among ``plan``'s scenarios, each as its first scenario, the
    largest first (so that small ones fill in around them when solved side by side). Raises
    ``NoPriceSourceError`` when a provider the plan names has no prices in ``catalog``."""
    missing = [prov.value for prov in plan.cloud.providers
               if not any(r.provider == prov.value for r in catalog.compute)]
    if missing:
        raise NoPriceSourceError(
            f"no prices for provider(s) {', '.join(missing)} in the catalog in use; remove them "
            f"from cloud.providers or use a catalog that has them")
    distinct: dict[Key, Scenario] = {}
    for scenario in sorted(scenarios_for(plan), key=lambda s: -_size(plan, catalog, s)):
        distinct.setdefault(scenario_key(plan, scenario), scenario)
    return distinct


def assemble(loaded: LoadedPlan, catalog: Catalog, results: dict[Key, ScenarioResult],
             solver: SolverName, time_limit: float | None, progress: Progress | None = None,
             today: dt.date | None = None) -> Result:
    """The result of ``solve`` from each distinct program's own solve (``solve_scenario``, by
    ``scenario_key``): every scenario named, no wider one dearer than a narrower one
    (``_never_dearer_than_a_subset``, which may solve again), savings, budgets and the
    recommendation. Scenarios whose program is not in ``results`` are left out."""
    p = loaded.plan
    out: list[ScenarioResult] = []
    for scenario in scenarios_for(p):
        res = results.get(scenario_key(p, scenario))
        if res is not None:
            out.append(res if res.name == scenario.name else _rename(res, scenario.name))
    out = _never_dearer_than_a_subset(p, catalog, out, solver, time_limit, progress)
    out = [_with_books(p, s) for s in _with_savings(p, out)]
    after_tax = p.finance.criterion == "after_tax"
    feasible = [s for s in out if s.feasible and s.npv_usd is not None]

    def chosen_by(s: ScenarioResult) -> float:
        # to the cent, as reported: plans that cost the same to the cent (a widest scenario
        # whose plan is a narrower one's) go to the first listed, not to rounding noise
        value = s.after_tax_npv_usd if after_tax else s.npv_usd
        return math.inf if value is None else round(value, 2)
    recommended = min(feasible, key=chosen_by).name if feasible else None
    t = p.trends
    trends = (("cloud", t.cloud), *((f"cloud_by_gpu.{g}", r) for g, r in t.cloud_by_gpu.items()),
              ("servers", t.servers), ("electricity", t.electricity))
    return Result(p.plan.name, p.plan.start, p.plan.months, tuple(out), recommended,
                  tuple(_prices(p, catalog)), loaded.assumptions,
                  (*loaded.warnings, *_warnings(p, catalog, today or dt.date.today()),
                   *_stopped_by_time(out)), trends, loaded.sizings, tuple(plan_inputs(p)),
                  p.finance.criterion, p.plan.fiscal_year_start)


def _solve_one(plan: Plan, catalog: Catalog, scenario: Scenario, solver: SolverName,
               time_limit: float | None, progress: Progress | None,
               above: float | None = None,
               fleet_hint: FleetHint | None = None) -> ScenarioResult:
    """One scenario solved in this process, told to ``progress``."""
    if progress:
        progress("solving", scenario.name)
    with _searching(progress, scenario.name):
        res = solve_scenario(plan, catalog, scenario, solver, time_limit, above=above,
                             fleet_hint=fleet_hint)
    if progress:
        progress("solved", _solved(res))
    return res


def _stopped_by_time(results: list[ScenarioResult]) -> list[str]:
    """A warning when the time limit, not a work budget, stopped a scenario's search: its
    plan is then what this machine reached in that time, and may differ elsewhere."""
    stopped = [s.name for s in results if s.solver is not None and s.solver.time_limited]
    if not stopped:
        return []
    return [(f"the time limit stopped the solve of {', '.join(stopped)} before its work "
             f"budget: the plan may differ on another machine or under another load; raise "
             f"--time-limit to get the same answer everywhere")]


def _solved(res: ScenarioResult) -> str:
    """A solved scenario as a progress line names it: its gap, or why it has no plan."""
    info = res.solver
    if not res.feasible or info is None:
        return f"{res.name} (no plan)"
    if info.mip_gap is None:
        return f"{res.name} (gap unknown)"
    return f"{res.name} (within {info.mip_gap:.2%} of its bound)"


@contextmanager
def _searching(progress: Progress | None, name: str) -> Iterator[None]:
    """Tell ``progress`` how the whole-number searches of scenario ``name`` in this process
    are going: event ``searching``, "NAME: best plan $X, within Y% of the solver's bound"."""
    if progress is None:
        yield
        return
    told = progress

    def seen(found: float, bound: float) -> None:
        told("searching", _search_line(name, found, bound))
    with watching(seen):
        yield


def _search_line(name: str, found: float, bound: float) -> str:
    gap = relative_gap(found, bound) if math.isfinite(bound) else None
    within = "no bound yet" if gap is None else f"within {gap:.2%} of the solver's bound"
    return f"{name}: best plan ${found:,.0f}, {within}"


def _solve_told(queue: Any, name: str, above: float | None, *args: Any) -> ScenarioResult:
    """``solve_scenario(*args)`` in a worker process, its searches told through ``queue``."""
    def seen(found: float, bound: float) -> None:
        queue.put((name, found, bound))
    with watching(seen):
        return solve_scenario(*args, above=above)


def _side_by_side(plan: Plan, catalog: Catalog, distinct: dict[Any, Scenario],
                  solver: SolverName, time_limit: float | None, jobs: int,
                  progress: Progress | None, above: float | None = None,
                  ) -> dict[Any, ScenarioResult]:
    """Each of ``distinct`` solved in a pool of ``jobs`` processes. With ``progress``, the
    workers tell how their searches go through a queue, read here while they work."""
    results: dict[Any, ScenarioResult] = {}
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs,
                                                       mp_context=process_context()))
        if progress is None:
            futures = {pool.submit(solve_scenario, plan, catalog, s, solver, time_limit,
                                   above=above): k for k, s in distinct.items()}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
            return results
        queue = stack.enter_context(process_context().Manager()).Queue()
        futures = {pool.submit(_solve_told, queue, s.name, above, plan, catalog, s, solver,
                               time_limit): k for k, s in distinct.items()}
        progress("solving", ", ".join(s.name for s in distinct.values()))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            while not queue.empty():
                name, found, bound = queue.get()
                progress("searching", _search_line(name, found, bound))
            for future in done:
                results[futures[future]] = future.result()
                progress("solved", _solved(results[futures[future]]))
    return results


def _size(plan: Plan, catalog: Catalog, scenario: Scenario) -> int:
    """A rough measure of a scenario's program: the offers it can use. The largest are solved
    first, so the small ones fill in around them when scenarios run side by side."""
    wanted = {g for w in plan.workloads for g in w.speeds}
    # (the catalog keeps these records, and the workers get them with it)
    offers = sum(1 for r in catalog.compute_of(scenario.providers) if r.gpu in wanted)
    servers = len(plan.onprem.sites) * len(plan.onprem.servers) if scenario.sites else 0
    return offers + servers * plan.plan.months


def _loaded(plan: LoadedPlan | Plan | PlanFile | dict[str, Any]) -> LoadedPlan:
    if isinstance(plan, LoadedPlan):
        return plan
    if isinstance(plan, Plan):
        return LoadedPlan(plan, (), "<plan>")       # resolved already: nothing was assumed
    if isinstance(plan, (PlanFile, dict)):
        return plan_from_dict(plan, "<plan>")
    raise PlanError(f"expected a plan, got {type(plan).__name__}")


def _rename(res: ScenarioResult, name: str) -> ScenarioResult:
    return replace(res, name=name,
                   allocations=tuple(replace(a, scenario=name) for a in res.allocations),
                   procurement=tuple(replace(x, scenario=name) for x in res.procurement),
                   commitments=tuple(replace(c, scenario=name) for c in res.commitments),
                   retirements=tuple(replace(r, scenario=name) for r in res.retirements),
                   cash_flows=tuple(replace(f, scenario=name) for f in res.cash_flows),
                   price_paths=tuple(replace(p, scenario=name) for p in res.price_paths),
                   venues=tuple(replace(v, scenario=name) for v in res.venues),
                   traffic=tuple(replace(t, scenario=name) for t in res.traffic))


def _with_books(plan: Plan, s: ScenarioResult) -> ScenarioResult:
    """``s`` with its budget by fiscal year and its NPV after tax (``finance``); a plan whose
    books cannot be drawn (a retirement the cohorts do not account for) keeps its result and
    says why in its notes, rather than show a budget that does not add up."""
    if not s.feasible:
        return s
    try:
        rows = books(plan, s)
        return replace(s, budget=tuple(budget(plan, s, rows)),
                       after_tax_npv_usd=after_tax_npv(plan, s, rows))
    except ValueError as exc:
        return replace(s, notes=(*s.notes, f"no budget by fiscal year: {exc}"))


def _within(a: Scenario, b: Scenario) -> bool:
    """Every plan of scenario ``a`` is a plan of scenario ``b``."""
    return (set(a.providers) <= set(b.providers) and (b.sites or not a.sites)
            and set(a.quotes) <= set(b.quotes))


def _never_dearer_than_a_subset(plan: Plan, catalog: Catalog, results: list[ScenarioResult],
                                solver: SolverName, time_limit: float | None,
                                progress: Progress | None) -> list[ScenarioResult]:
    """A scenario's plan is also a plan of every scenario that allows more. When a wider
    scenario's plan came out dearer than a narrower one's (both within the solver's gap), the
    wider program is solved again with the narrower plan's first-stage decisions fixed: its
    hourly use re-optimized, priced in the wider program, and kept when it is cheaper. The
    gap it reports is measured against the wider scenario's own bound."""
    scen = {s.name: s for s in scenarios_for(plan)}
    out = list(results)
    for i, wide in enumerate(results):
        # a wider scenario the solver left without a plan (budget or net) has the narrower plans
        unsolved = (not wide.feasible and wide.solver is not None
                    and wide.solver.status != SolveStatus.INFEASIBLE)
        if (not wide.feasible or wide.npv_usd is None) and not unsolved:
            continue
        narrower = [n for n in results if n.name != wide.name and n.feasible
                    and n.npv_usd is not None and n.decisions is not None
                    and _within(scen[n.name], scen[wide.name])
                    and (wide.npv_usd is None
                         or n.npv_usd < wide.npv_usd - 1e-6 * max(1.0, abs(wide.npv_usd)))]
        if not narrower:
            continue
        narrow = min(narrower, key=lambda n: n.npv_usd or 0.0)
        if progress:
            progress("pricing", f"{narrow.name}'s plan in {wide.name}")
        assert narrow.decisions is not None and narrow.npv_usd is not None
        # its plan is one of the wider program's: stop at the first plan as cheap as it
        cheap = narrow.npv_usd
        again = solve_scenario(plan, catalog, scen[wide.name], solver, time_limit,
                               fixed=narrow.decisions, bound=_bound_of(wide),
                               target=cheap + 1e-6 * max(1.0, abs(cheap)),
                               plan_values=narrow.values)
        if again.feasible and again.npv_usd is not None and (
                wide.npv_usd is None or again.npv_usd < wide.npv_usd):
            note = (f"the cheapest {wide.name} plan found keeps the first-stage decisions of the "
                    f"{narrow.name} plan (servers ordered and retired, reservations); its hourly "
                    f"use is re-optimized in {wide.name}")
            out[i] = replace(again, notes=(note, *again.notes))
    return out


def _bound_of(res: ScenarioResult) -> float | None:
    """The least any plan of the scenario can cost, as its own solve proved."""
    if res.solver is None:
        return None
    if res.solver.bound is not None:
        return res.solver.bound
    return None


def _with_savings(plan: Plan, results: list[ScenarioResult]) -> list[ScenarioResult]:
    singles = [s.npv_usd for s in results if s.name in _single_venue_names(plan) and s.feasible
               and s.npv_usd is not None]
    if not singles:
        return results
    best = min(singles)
    return [replace(s, savings_vs_best_single_usd=best - s.npv_usd) if s.npv_usd is not None else s
            for s in results]


def _prices(plan: Plan, catalog: Catalog) -> list[dict[str, object]]:
    """Per provider: its source, oldest price date and records, and the dates of the spot
    prices the plan could use (spot prices are indicative: they move with demand)."""
    usable = [r for r in catalog.compute if r.purchase == Purchase.SPOT and could_use(plan, r)]
    out = []
    for p in catalog.provenance():
        dates = sorted({r.as_of for r in usable if r.provider == p.provider})
        out.append({**p.to_dict(), "spot_as_of": [dates[0].isoformat(), dates[-1].isoformat()]
                    if dates else None})
    return out


def _warnings(plan: Plan, catalog: Catalog, today: dt.date) -> list[str]:
    """About the prices: only offers the plan could use, a line per kind and per provider."""
    return price_warnings(plan, catalog, today)


# --------------------------------------------------------------------------------------------


def solve_scenario(plan: Plan, catalog: Catalog, scenario: Scenario,
                   solver: SolverName = SolverName.HIGHS,
                   time_limit: float | None = None, *, fixed: Decisions | None = None,
                   bound: float | None = None, target: float | None = None,
                   fixed_gap: float = 0.0,
                   plan_values: tuple[tuple[str, float], ...] = (),
                   above: float | None = None,
                   fleet_hint: FleetHint | None = None) -> ScenarioResult:
    """Build, solve and read back one scenario. With ``fixed``, those first-stage decisions
    are held and only the hourly use is optimized (to ``fixed_gap``, or until a plan of NPV
    ``target`` or less is found); ``bound`` is a lower bound on the scenario's plans known
    from elsewhere, against which the gap is measured. ``plan_values`` is a narrower
    scenario's plan (variable values by name), a plan of this program too: the answer is
    never dearer than it. ``above``: a plan of another scenario costs this much; when this
    one's relaxation costs more, it is not solved further (``solve(cheapest_only=True)``).
    ``fleet_hint``: a plan whose fleet and placements the warm start may hold instead of
    solving for them (``warmstart.warm_start``)."""
    model = prepare(plan, catalog, scenario, lean=fixed is None)
    reason = precheck(model)
    if reason:
        return ScenarioResult(scenario.name, False, reason)   # no program needed
    define_program(model)
    if time_limit is None:
        time_limit = default_time_limit(model)
    if above is not None and fixed is None:
        dearer = _dearer_than(model, solver, time_limit, above)
        if dearer is not None:
            return ScenarioResult(scenario.name, False, dearer)
    if fixed is not None:
        try:
            fix(model, fixed)
        except DecisionsError as exc:
            return ScenarioResult(scenario.name, False, str(exc))
        info = _solve_fixed(model, solver, time_limit, fixed_gap, target,
                            _priced(model, plan_values))
        if info.status.has_solution:
            info = _judged_against(model, info, bound)
    else:
        info = optimize(model, solver, time_limit, fleet_hint)
    if info.status == SolveStatus.INFEASIBLE:
        why = ("its first-stage decisions (servers, retirements, reservations) leave demand "
               "unmet" if fixed is not None else diagnose(plan, catalog, scenario, solver,
                                                           time_limit))
        return ScenarioResult(scenario.name, False, why, solver=info)
    if not info.status.has_solution:
        return ScenarioResult(scenario.name, False,
                              f"the solver stopped without a plan ({info.status.value}"
                              f"{', time limit reached' if info.time_limited else ''})",
                              solver=info)
    return extract(model, info)


def _dearer_than(model: Model, solver: SolverName, time_limit: float, above: float,
                 ) -> str | None:
    """Why no plan of ``model`` can cost less than ``above`` (its relaxation costs more, or
    has no solution), or None when one might. The relaxation's basis stays for the solve."""
    with safety_net(time_limit):
        info = run(model.prob, solver, None, 0.0, relax=True)
    if info.status == SolveStatus.INFEASIBLE:
        return "no plan: its relaxation has none (not diagnosed further)"
    if info.status != SolveStatus.OPTIMAL:
        return None
    least = model.prob.cost()
    if least <= above + 1e-6 * max(1.0, abs(above)):
        return None
    return (f"not solved further: its relaxation costs ${least:,.0f}, more than a plan of a "
            f"wider scenario (${above:,.0f}), so none of its plans is the cheapest")


def _priced(model: Model, values: tuple[tuple[str, float], ...]) -> Start | None:
    """A narrower scenario's plan as a plan of ``model`` (its variables by name, every other
    one at 0), when it keeps every bound and row of ``model``; else None."""
    if not values:
        return None
    given = dict(values)
    before = [(v, v.varValue) for v in model.prob.vars]
    for v in model.prob.vars:
        v.varValue = given.get(v.name, 0.0)
    fits = (all((v.lowBound is None or (v.varValue or 0.0) >= v.lowBound - 1e-6)
                and (v.upBound is None or (v.varValue or 0.0) <= v.upBound + 1e-6)
                for v in model.prob.vars)
            and all(row.holds(1e-4) for row in model.prob.rows))
    found = start_of(model, -math.inf, 0.0) if fits else None
    for v, value in before:
        v.varValue = value
    return found


def default_time_limit(model: Model) -> float:
    """The safety net over a scenario's solve when the user sets no limit: 300 s, or one for
    every 200 columns of its program when that is more (a plan of 400 workloads over 36 months
    has about 313,000 columns, and its relaxation alone takes a minute). Its searches are
    bounded by nodes; the net catches what no budget bounds (a relaxation, a search's root)
    on a machine much slower or busier than the one the budgets were sized on."""
    return max(DEFAULT_TIME_LIMIT_S, len(model.prob.vars) / COLUMNS_PER_SECOND)


def _solve_fixed(model: Model, solver: SolverName, time_limit: float | None, gap: float,
                 target: float | None = None, given: Start | None = None) -> SolveInfo:
    """The hourly use of a program whose first-stage decisions are held, to ``gap`` (SPEC 15's
    measure), or until a plan of NPV ``target`` or less is found. The gap reported is against
    the best bound known for the held program (the warm start's relaxation, or the solver's).

    What is left free is still a whole-number program (which venues a workload uses each
    month, where a single-venue workload runs, the tiers), so it starts as ``optimize`` does:
    from the warm start, which is the answer when it is within the gap of the relaxation;
    and storage is not paid where nothing runs (``drop_unused_venues``). Its searches are
    bounded by nodes; ``time_limit`` is the safety net over them all. The rows that hold only
    while the fleet is held (``held_cuts``) are in the program for this solve alone."""
    rows = add_held_cuts(model)
    try:
        with safety_net(time_limit) as net:
            info = _held(model, solver, gap, target, given)
    finally:
        model.prob.drop(rows)
    return replace(info, time_limited=info.time_limited or net.fired)


def _held(model: Model, solver: SolverName, gap: float, target: float | None,
          given: Start | None) -> SolveInfo:
    """``_solve_fixed`` under its safety net."""
    start = warm_start(model, solver) if gap > 0 or target is not None else None
    if given is not None and (start is None or given.objective < start.objective):
        # the narrower plan is cheaper than the warm start's: it is the start
        start = replace(given, bound=start.bound if start is not None else -math.inf)
    bound = start.bound if start is not None else None
    if start is not None and (start.gap <= gap if target is None else start.objective <= target):
        start.load()
        seconds = start.seconds + drop_unused_venues(model, solver)
        return _with_gap(SolveInfo(SolverName(solver).value, SolveStatus.OPTIMAL, seconds,
                                   None, bound), model.prob.cost(), bound)
    if start is None and gap > 0:
        relaxed = run(model.prob, solver, None, 0.0, relax=True)
        if relaxed.status == SolveStatus.OPTIMAL:
            bound = relaxed.bound
            add_shortfall_cuts(model)
    info = search(model.prob, solver, None, gap, target=target,
                  start=start.values if start is not None else None)
    if start is not None:
        info = replace(info, seconds=info.seconds + start.seconds)
        found = model.prob.cost() if info.status.has_solution else None
        if found is None or start.objective < found - 1e-6 * max(1.0, abs(start.objective)):
            # the solver kept nothing better within its budget: the start is the plan
            start.load()
            info = replace(info, status=SolveStatus.FEASIBLE)
    if not info.status.has_solution:
        return info
    info = replace(info, seconds=info.seconds + drop_unused_venues(model, solver))
    known = [b for b in (info.bound, bound) if b is not None and math.isfinite(b)]
    return _with_gap(info, model.prob.cost(), max(known) if known else None)


def _with_gap(info: SolveInfo, objective: float, bound: float | None) -> SolveInfo:
    """``info`` with the plan's gap against ``bound``, its status as the solver left it."""
    return replace(info, bound=bound, mip_gap=relative_gap(objective, bound),
                   gap_usd=gap_usd(objective, bound))


def committed_npv(plan: Plan, catalog: Catalog, scenario: Scenario, decisions: Decisions,
                  solver: SolverName = SolverName.HIGHS, time_limit: float | None = None,
                  gap: float | None = None) -> Npv | None:
    """``committed_plan``'s NPV."""
    return committed_plan(plan, catalog, scenario, decisions, solver, time_limit, gap)[0]


def committed_plan(plan: Plan, catalog: Catalog, scenario: Scenario, decisions: Decisions,
                   solver: SolverName = SolverName.HIGHS, time_limit: float | None = None,
                   gap: float | None = None,
                   ) -> tuple[Npv | None, tuple[tuple[str, float], ...]]:
    """The NPV of a plan whose first-stage decisions are ``decisions``, the hourly use
    re-optimized in ``scenario`` (to the plan's gap unless ``gap``), with its proof: the
    program's objective and how far it may be from the best hourly use. None when no hourly
    use meets demand, or the decisions do not fit; ``Npv.unknown()`` when the solver stopped
    at its budget or time limit before it found any hourly use. ``time_limit`` defaults as
    ``tco compare``'s does (``default_time_limit``). ``committed_plan`` also gives the plan's
    values by variable name (none when there is no plan)."""
    model = prepare(plan, catalog, scenario, held=decisions)
    if precheck(model):
        return None, ()
    define_program(model)
    try:
        fix(model, decisions)
    except DecisionsError:
        return None, ()
    time_limit = default_time_limit(model) if time_limit is None else time_limit
    info = _solve_fixed(model, solver, time_limit,
                        plan.plan.mip_gap if gap is None else gap)
    if info.status == SolveStatus.NOT_SOLVED:
        # stopped without a plan: not proven infeasible
        return replace(Npv.unknown(), time_limited=info.time_limited), ()
    if not info.status.has_solution:
        return None, ()
    values = tuple((v.name, v.varValue) for v in model.prob.vars if v.varValue)
    return Npv(model.prob.cost(), info.gap_usd, info.time_limited), values


def solve_held(model: Model, solver: SolverName, time_limit: float | None,
               gap: float) -> SolveInfo:
    """``_solve_fixed``, then every bound as it was before: a held solve may hold more than
    the decisions (a placement its fleet rules out is held at 0 for the rest of that solve),
    which must not outlive it when the program is solved again under other decisions or
    prices. The values stay."""
    bounds = [(v, v.lowBound, v.upBound) for v in model.prob.vars]
    try:
        return _solve_fixed(model, solver, time_limit, gap)
    finally:
        for v, low, up in bounds:
            v.lowBound, v.upBound = low, up


def committed_npvs(plan: Plan, catalog: Catalog, scenario: Scenario, decisions: Decisions,
                   samples: Sequence[tuple[PriceFactors, Plan]],
                   solver: SolverName = SolverName.HIGHS, time_limit: float | None = None,
                   gap: float | None = None,
                   fresh: Callable[[int], Npv | None] | None = None) -> list[Npv | None]:
    """``committed_npv`` in each of ``samples``: factors on the prices of ``plan`` and
    ``catalog``, and the plan at the sample's demand and discount rate (``plan`` itself, or
    ``plan`` with others: ``redemand.movable``). From one program: built once, its first-stage
    decisions held, and moved from one sample to the next in place (``reprice``,
    ``move_plan``), each
    hourly use solved from the last one's basis (``solve_held``). A sample whose plan the
    program cannot move to is solved by ``fresh(i)`` (its index; required then)."""
    moving = any(demand_differs(plan, p) or utilization_differs(plan, p) for _, p in samples)
    model = prepare(plan, catalog, scenario, held=decisions, movable=moving)
    if precheck(model):
        return [None] * len(samples)
    define_program(model)
    try:
        restore = fix(model, decisions)
    except DecisionsError:
        return [None] * len(samples)
    time_limit = default_time_limit(model) if time_limit is None else time_limit
    held = PriceFactors()
    out: list[Npv | None] = []
    for i, (factors, at) in enumerate(samples):
        if at is not model.plan:
            if not movable(model, at):
                if fresh is None:
                    raise ValueError("committed_npvs: a sample's plan cannot be moved to")
                out.append(fresh(i))
                continue
            restore()
            move_plan(model, at)
            restore = fix(model, decisions)
        reprice(model, factors.over(held))
        held = factors
        info = solve_held(model, solver, time_limit, plan.plan.mip_gap if gap is None else gap)
        if info.status == SolveStatus.NOT_SOLVED:
            out.append(replace(Npv.unknown(), time_limited=info.time_limited))
        elif not info.status.has_solution:
            out.append(None)
        else:
            out.append(Npv(model.prob.cost(), info.gap_usd, info.time_limited))
    return out


def _judged_against(model: Model, info: SolveInfo, bound: float | None) -> SolveInfo:
    """The gap of a plan solved with its first-stage decisions fixed, against ``bound``."""
    objective = model.prob.cost()
    gap = relative_gap(objective, bound)
    if gap is None:
        return replace(info, status=SolveStatus.FEASIBLE, mip_gap=None, bound=bound,
                       gap_usd=None)
    status = SolveStatus.OPTIMAL if gap <= model.plan.plan.mip_gap + 1e-9 else SolveStatus.FEASIBLE
    return replace(info, status=status, mip_gap=gap, bound=bound,
                   gap_usd=gap_usd(objective, bound))
