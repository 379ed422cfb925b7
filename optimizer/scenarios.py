"""The scenarios of SPEC 7, each built, solved and read back: ``solve(plan, catalog)``.

``hybrid`` may use everything; ``cloud-only`` every provider and no site; one
``<provider>-only`` per provider in the plan; ``onprem-only`` when the plan has sites. A
scenario that cannot be served says why: first by checks that need no solver (no offer of the
GPU class, none within the latency bound, too few failure domains), then, if the program is
still infeasible, by an elastic re-solve that finds which workloads fall short and which
limits (capex budget, site power, quotas) bind.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace

from tco.pricing.catalog import load_catalog
from tco.pricing.errors import NoPriceSourceError, PlanError
from tco.pricing.models import Catalog, Purchase

from . import onprem
from .model import CATEGORIES, Model, build, define_program, prepare, redundancy_level
from .plan import LoadedPlan, Plan, plan_from_dict
from .program import LE, value
from .result import Allocation, Commitment, Procurement, Result, ScenarioResult
from .solve import SolveInfo, SolverName, SolveStatus, run
from .venues import Scenario, metro_reach, usd_per_hour_paid
from .warmstart import optimize

Progress = Callable[[str, str], None]
STALE_AFTER_DAYS = 90
DEFAULT_TIME_LIMIT_S = 60.0
_EPS = 1e-6


def scenarios_for(plan: Plan) -> list[Scenario]:
    providers = tuple(p.value for p in plan.cloud.providers)
    out = [Scenario("hybrid", providers, True)]
    if providers:
        out.append(Scenario("cloud-only", providers, False))
    for p in providers:
        out.append(Scenario(f"{p}-only", (p,), False))
    if plan.onprem.sites:
        out.append(Scenario("onprem-only", (), True))
    return out


def _single_venue_names(plan: Plan) -> set[str]:
    return {f"{p.value}-only" for p in plan.cloud.providers} | {"onprem-only"}


def solve(plan: LoadedPlan | Plan | dict, catalog: Catalog | None = None, *,  # type: ignore[type-arg]
          solver: str | None = None, time_limit: float | None = None,
          progress: Progress | None = None, today: dt.date | None = None,
          workers: int | None = None) -> Result:
    """Solve every scenario of ``plan`` against ``catalog`` (the bundled snapshot by default).

    Distinct scenarios are solved in parallel, ``workers`` at a time (default: one per core).
    ``time_limit`` bounds each scenario's solve, in seconds (default 60); a scenario stopped by
    it keeps the best plan found and reports its optimality gap.
    """
    loaded = _loaded(plan)
    p = loaded.plan
    catalog = catalog if catalog is not None else load_catalog(offline=True)
    missing = [prov.value for prov in p.cloud.providers
               if not any(r.provider == prov.value for r in catalog.compute)]
    if missing:
        raise NoPriceSourceError(
            f"no prices for provider(s) {', '.join(missing)} in the catalog in use; remove them "
            f"from cloud.providers or use a catalog that has them")
    solver_name = SolverName(solver or p.plan.solver)
    time_limit = DEFAULT_TIME_LIMIT_S if time_limit is None else time_limit
    results: dict[tuple[tuple[str, ...], bool], ScenarioResult] = {}
    out: list[ScenarioResult] = []
    def key(s: Scenario) -> tuple[tuple[str, ...], bool]:
        return (s.providers, s.sites and bool(p.onprem.sites))
    distinct: dict[tuple[tuple[str, ...], bool], Scenario] = {}
    for scenario in sorted(scenarios_for(p), key=lambda s: -_size(p, catalog, s)):
        distinct.setdefault(key(scenario), scenario)
    jobs = max(1, min(workers or os.cpu_count() or 1, len(distinct)))
    if "fork" not in mp.get_all_start_methods():
        jobs = 1  # the worker processes inherit the plan and catalog by forking
    if jobs == 1:
        for k, scenario in distinct.items():
            if progress:
                progress("solving", scenario.name)
            results[k] = solve_scenario(p, catalog, scenario, solver_name, time_limit)
    else:
        # scenarios are independent programs: solve them side by side, one per core
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork")) as pool:
            futures = {pool.submit(solve_scenario, p, catalog, scenario, solver_name, time_limit): k
                       for k, scenario in distinct.items()}
            if progress:
                progress("solving", ", ".join(s.name for s in distinct.values()))
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress:
                    progress("solved", distinct[futures[future]].name)
    for scenario in scenarios_for(p):
        res = results[key(scenario)]
        out.append(res if res.name == scenario.name else _rename(res, scenario.name))
    out = _never_dearer_than_a_subset(p, out)
    out = _with_savings(p, out)
    feasible = [s for s in out if s.feasible and s.npv_usd is not None]
    recommended = min(feasible, key=lambda s: s.npv_usd or 0.0).name if feasible else None
    return Result(p.plan.name, p.plan.start, p.plan.months, tuple(out), recommended,
                  tuple(_prices(catalog)), loaded.assumptions,
                  tuple(_warnings(catalog, today or dt.date.today())))


def _size(plan: Plan, catalog: Catalog, scenario: Scenario) -> int:
    """A rough measure of a scenario's program: the offers it can use. The largest are solved
    first, so the small ones fill in around them when scenarios run side by side."""
    wanted = {g for w in plan.workloads for g in w.speeds}
    # (the catalog keeps these records, and the workers get them with it)
    offers = sum(1 for r in catalog.compute_of(scenario.providers) if r.gpu in wanted)
    servers = len(plan.onprem.sites) * len(plan.onprem.servers) if scenario.sites else 0
    return offers + servers * plan.plan.months


def _loaded(plan: LoadedPlan | Plan | dict) -> LoadedPlan:  # type: ignore[type-arg]
    if isinstance(plan, LoadedPlan):
        return plan
    if isinstance(plan, Plan):
        return plan_from_dict(plan.model_dump(mode="json", exclude_none=True), "<plan>")
    if isinstance(plan, dict):
        return plan_from_dict(plan, "<plan>")
    raise PlanError(f"expected a plan, got {type(plan).__name__}")


def _rename(res: ScenarioResult, name: str) -> ScenarioResult:
    return replace(res, name=name,
                   allocations=tuple(replace(a, scenario=name) for a in res.allocations),
                   procurement=tuple(replace(x, scenario=name) for x in res.procurement),
                   commitments=tuple(replace(c, scenario=name) for c in res.commitments))


def _never_dearer_than_a_subset(plan: Plan, results: list[ScenarioResult]) -> list[ScenarioResult]:
    """A scenario's plan is also a plan of every scenario that allows more. When a solver
    tolerance leaves a wider scenario dearer than a narrower one, the narrower plan is used."""
    scen = {s.name: s for s in scenarios_for(plan)}

    def within(a: Scenario, b: Scenario) -> bool:
        return set(a.providers) <= set(b.providers) and (b.sites or not a.sites)
    out = list(results)
    for i, wide in enumerate(out):
        for narrow in results:
            if (narrow.name == wide.name or not narrow.feasible or narrow.npv_usd is None
                    or not within(scen[narrow.name], scen[wide.name])):
                continue
            if not out[i].feasible or out[i].npv_usd is None or narrow.npv_usd < out[i].npv_usd - 1e-6:
                out[i] = replace(_rename(narrow, wide.name), solver=_judged_by(wide, narrow),
                                 notes=narrow.notes + (
                    f"the {narrow.name} plan is the cheapest {wide.name} plan found",))
    return out


def _judged_by(wide: ScenarioResult, narrow: ScenarioResult) -> SolveInfo | None:
    """How close the narrower plan is to the wider scenario's optimum.

    The wider scenario's lower bound, ``npv × (1 − gap)`` of its own plan, is the only bound
    that holds for it: the narrower scenario's bound does not (the wider one allows more).
    Without a known bound the gap is unknown and the plan only ``feasible``.
    """
    info = wide.solver or narrow.solver
    if info is None:
        return None
    known = wide.solver is not None and wide.solver.status.has_solution
    if not known or wide.solver.mip_gap is None or wide.npv_usd is None or not narrow.npv_usd:
        return replace(info, status=SolveStatus.FEASIBLE, mip_gap=None)
    bound = wide.npv_usd * (1 - wide.solver.mip_gap)
    return replace(wide.solver, mip_gap=max(0.0, (narrow.npv_usd - bound) / abs(narrow.npv_usd)))


def _with_savings(plan: Plan, results: list[ScenarioResult]) -> list[ScenarioResult]:
    singles = [s.npv_usd for s in results if s.name in _single_venue_names(plan) and s.feasible
               and s.npv_usd is not None]
    if not singles:
        return results
    best = min(singles)
    return [replace(s, savings_vs_best_single_usd=best - s.npv_usd) if s.npv_usd is not None else s
            for s in results]


def _prices(catalog: Catalog) -> list[dict[str, object]]:
    return [p.to_dict() for p in catalog.provenance()]


def _warnings(catalog: Catalog, today: dt.date) -> list[str]:
    out = list(catalog.warnings)
    for p in catalog.provenance():
        age = (today - p.as_of).days
        if age > STALE_AFTER_DAYS:
            out.append(f"{p.provider}: prices as of {p.as_of.isoformat()} are {age} days old "
                       f"(over {STALE_AFTER_DAYS}); run 'tco prices refresh' or pass a current "
                       f"price list with --catalog before committing to a purchase")
    return out


# --------------------------------------------------------------------------------------------


def solve_scenario(plan: Plan, catalog: Catalog, scenario: Scenario,
                   solver: SolverName = SolverName.HIGHS,
                   time_limit: float | None = None) -> ScenarioResult:
    model = prepare(plan, catalog, scenario)
    reason = precheck(model)
    if reason:
        return ScenarioResult(scenario.name, False, reason)   # no program needed
    define_program(model)
    info = optimize(model, solver, time_limit)
    if info.status == SolveStatus.INFEASIBLE:
        return ScenarioResult(scenario.name, False, diagnose(plan, catalog, scenario, solver,
                                                             time_limit), solver=info)
    if not info.status.has_solution:
        return ScenarioResult(scenario.name, False,
                              f"the solver stopped without a plan ({info.status.value}"
                              f"{', time limit reached' if time_limit else ''})", solver=info)
    return extract(model, info)


def _gpus_text(speeds: dict[str, float]) -> str:
    return "/".join(speeds)


def _scope(model: Model) -> str:
    s = model.scenario
    parts = []
    if s.providers:
        parts.append(", ".join(s.providers))
    if s.sites and model.plan.onprem.sites:
        parts.append("sites " + ", ".join(x.name for x in model.plan.onprem.sites))
    return " or ".join(parts) if parts else "nothing"


def precheck(model: Model) -> str | None:
    """Reasons a scenario cannot work that need no solver, naming workload and constraint."""
    plan = model.plan
    reasons: list[str] = []
    for w in plan.workloads:
        offers = model.offers[w.name]
        venues = offers.venues()
        gpus = _gpus_text(w.speeds)
        if not venues:
            why = ""
            if model.excluded.get(w.name):
                why = " (" + "; ".join(f"{v}: {r}" for v, r in sorted(model.excluded[w.name].items())[:3]) + ")"
            if w.max_latency_ms is not None and w.users:
                for metro in w.users:
                    reasons.append(f"{w.name}: no {gpus} offer within {w.max_latency_ms:g} ms of "
                                   f"{metro} in {_scope(model)}{why}")
                    break
            else:
                reasons.append(f"{w.name}: no {gpus} offer in {_scope(model)}{why}")
            continue
        if w.max_latency_ms is not None and w.users:
            reach = metro_reach(plan, w, {k: model.venues[k] for k in venues})
            for metro, ok in reach.items():
                if not ok:
                    reasons.append(f"{w.name}: no {gpus} offer within {w.max_latency_ms:g} ms of "
                                   f"{metro} in {_scope(model)}")
        nonspot = offers.nonspot_venues()
        level = redundancy_level(w, [model.venues[d].availability for d in venues])
        weak = [d for d in nonspot if w.availability and model.venues[d].availability < w.availability]
        if w.availability is not None and (level > 0 or weak):
            needed = level + 1 if level else 2
            if len(nonspot) < needed and (level or len(nonspot) == len(weak)):
                reasons.append(f"{w.name}: availability {w.availability:g} needs non-spot capacity "
                               f"in {needed} failure domains; only {len(nonspot)} offer {gpus} in "
                               f"{_scope(model)}")
            elif w.single_venue and (level > 0 or len(weak) == len(nonspot)):
                reasons.append(f"{w.name}: single_venue = true cannot meet availability "
                               f"{w.availability:g}, which needs a second failure domain")
    return "; ".join(reasons) if reasons else None


def diagnose(plan: Plan, catalog: Catalog, scenario: Scenario, solver: SolverName,
             time_limit: float | None) -> str:
    """Re-solve with unmet demand allowed at a penalty; say what falls short and what binds."""
    model = build(plan, catalog, scenario, elastic=True)
    info = run(model.prob, solver, time_limit, plan.plan.mip_gap)
    if not info.status.has_solution:
        return "infeasible (the limits of the plan cannot all hold at once)"
    shortfalls: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (w, m), var in model.short.items():
        value = var.varValue or 0.0
        if value > 1e-3:
            shortfalls[w].append((m, value))
    # a limit binds when less than one more unit (a server, a GPU) fits under it
    servers = plan.onprem.servers
    families = {"capex_budget": ("capex budget", max((onprem.capex_usd(z) for z in servers),
                                                     default=0.0)),
                "site_power": ("site power", max((z.power_kw for z in servers), default=0.0)),
                "quota": ("cloud quotas", 1.0)}
    binding: list[str] = []
    for con in model.prob.rows:
        family = next((f for f in families if con.name.startswith(f)), None)
        if family is None or con.sense != LE:
            continue
        label, unit = families[family]
        slack = con.slack
        if slack is not None and slack < unit - 1e-9 and label not in binding:
            binding.append(label)
    if not shortfalls:
        return "infeasible (the limits of the plan cannot all hold at once)"
    parts = []
    for w, items in sorted(shortfalls.items()):
        total = sum(v for _, v in items)
        months = sorted(m for m, _ in items)
        span = model.label(months[0]) + (f"..{model.label(months[-1])}" if len(months) > 1 else "")
        parts.append(f"{w}: {total:,.0f} GPU-hours short in {span}")
    limits = f" (limited by {', '.join(binding)})" if binding else ""
    return "; ".join(parts) + limits


# --------------------------------------------------------------------------------------------


def _val(expr: object) -> float:
    v = value(expr)
    return 0.0 if v is None else v


def extract(model: Model, info: object) -> ScenarioResult:
    name = model.scenario.name
    breakdown = {c: 0.0 for c in CATEGORIES}
    breakdown_npv = {c: 0.0 for c in CATEGORIES}
    amounts: dict[tuple[str, int], float] = defaultdict(float)
    for category, m, expr, coef in model.cash_flows():
        amounts[(category, m)] += _val(expr) * coef
    for (category, m), amount in amounts.items():
        breakdown[category] += amount
        breakdown_npv[category] += amount * model.discount(m)
    breakdown = {k: _clean(v) for k, v in breakdown.items()}
    breakdown_npv = {k: _clean(v) for k, v in breakdown_npv.items()}
    total = sum(breakdown.values())
    npv = sum(breakdown_npv.values())
    capex = breakdown["onprem_capex"]
    opex = total - capex - breakdown["residual_credit"]
    gpu_hours = sum(sum(d) for d in model.demand.values())
    commitments, notes = _commitments(model)
    return ScenarioResult(
        name, True, None, npv_usd=npv, total_usd=total, capex_usd=capex, opex_usd=opex,
        breakdown=breakdown, breakdown_npv=breakdown_npv, gpu_hours=gpu_hours,
        allocations=tuple(_allocations(model)), procurement=tuple(_procurement(model)),
        commitments=tuple(commitments), solver=info, notes=tuple(notes))  # type: ignore[arg-type]


def _clean(v: float) -> float:
    return 0.0 if abs(v) < 1e-7 else v


def _allocations(model: Model) -> list[Allocation]:
    plan = model.plan
    name = model.scenario.name
    # reserved pools (one GPU class in one region, both terms): monthly fee and GPU-hour
    # capacity of the reservations active each month, per term
    pool_fee: dict[tuple[str, str, Purchase, int], float] = defaultdict(float)
    pool_hours: dict[tuple[str, str, Purchase, int], float] = defaultdict(float)
    pool_types: dict[tuple[str, str, Purchase, int], set[str]] = defaultdict(set)
    for (venue, gpu, term, itype, start), (var, offer) in model.reservations.items():
        count = round(var.varValue or 0.0)
        if count <= 0:
            continue
        for m in range(start, min(start + term.term_months, model.months)):
            pool_fee[(venue, gpu, term, m)] += count * usd_per_hour_paid(plan, offer) * 730.0
            pool_hours[(venue, gpu, term, m)] += count * offer.gpu_count * 730.0
            pool_types[(venue, gpu, term, m)].add(itype)
    # owned fleets: the month's running cost per GPU-hour used
    fleet_cost: dict[tuple[str, str, int], float] = defaultdict(float)
    fleet_used: dict[tuple[str, str, int], float] = defaultdict(float)
    for c in model.caps:
        if c.purchase == Purchase.OWNED and c.server is not None:
            fleet_used[(c.venue, c.server.name, c.month)] += c.var.varValue or 0.0
    for (site_name, server_name, m), fleet in model.fleet.items():
        site, server = plan.site(site_name), plan.server(server_name)
        n = _val(fleet)
        used = fleet_used.get((site_name, server_name, m), 0.0)
        fleet_cost[(site_name, server_name, m)] = (
            n * (onprem.idle_energy_usd_per_server_month(site, server)
                 + onprem.colo_usd_per_server_month(site, server)
                 + onprem.maintenance_usd_per_server_month(server)
                 + onprem.staff_usd_per_server_month(site))
            + used * onprem.energy_usd_per_used_gpu_hour(site, server))
    out = []
    for c in model.caps:
        hours = c.var.varValue or 0.0
        if hours <= _EPS * max(1.0, model.demand[c.workload][c.month]):
            continue
        venue = model.venues[c.venue]
        rows: list[tuple[str, Purchase, float, float]] = []   # instance, purchase, hours, cost
        if c.purchase in (Purchase.ON_DEMAND, Purchase.SPOT):
            assert c.offer is not None
            rows.append((c.offer.instance_type, c.purchase, hours,
                         hours * usd_per_hour_paid(plan, c.offer) / c.offer.gpu_count))
        elif c.purchase == Purchase.OWNED:
            assert c.server is not None
            key = (c.venue, c.server.name, c.month)
            rows.append((c.server.name, c.purchase, hours,
                         fleet_cost[key] * hours / fleet_used[key] if fleet_used[key] > 0 else 0.0))
        else:
            # the pool's hours are shared by its terms: each term's row carries its share of
            # the hours and the same share of its fee (the pool's average cost per hour)
            keys = [(c.venue, c.gpu, term, c.month) for term in c.terms or (c.purchase,)]
            held = sum(pool_hours[k] for k in keys)
            for k in keys:
                if pool_hours[k] > 0:
                    rows.append(("+".join(sorted(pool_types[k])), k[2],
                                 hours * pool_hours[k] / held, pool_fee[k] * hours / held))
            if not rows:
                rows.append(("-", c.purchase, hours, 0.0))
        for itype, purchase, part, cost in rows:
            out.append(Allocation(name, c.workload, model.label(c.month), c.venue,
                                  venue.provider, venue.region, itype, c.gpu, purchase.value,
                                  round(part, 4), round(cost, 2)))
    out.sort(key=lambda a: (a.workload, a.month, a.venue, a.purchase))
    return out


def _procurement(model: Model) -> list[Procurement]:
    out = []
    for (site, server_name, order), (var, cohort) in sorted(model.orders.items()):
        count = round(var.varValue or 0.0)
        if count <= 0:
            continue
        server = model.plan.server(server_name)
        out.append(Procurement(model.scenario.name, site, server_name, model.label(order),
                               model.label(cohort.arrival_month), count,
                               round(count * onprem.capex_usd(server), 2)))
    return out


def _commitments(model: Model) -> tuple[list[Commitment], list[str]]:
    out, notes = [], []
    for (venue, gpu, term, itype, start), (var, offer) in sorted(
            model.reservations.items(), key=lambda kv: (kv[0][4], kv[0][0], kv[0][3])):
        count = round(var.varValue or 0.0)
        if count <= 0:
            continue
        end = start + term.term_months - 1
        past = max(0, end - (model.months - 1))
        monthly = count * usd_per_hour_paid(model.plan, offer) * 730.0
        out.append(Commitment(model.scenario.name, offer.provider, offer.region, itype, term.value,
                              model.label(start), model.label(end), count, round(monthly, 2),
                              round(count * offer.upfront_usd, 2), past))
        if past:
            notes.append(f"{count} x {itype} {term.value} in {venue} from {model.label(start)} runs "
                         f"{past} months past the horizon; those months are included in the cost")
    return out, notes
