"""The independent solves a decision analysis is made of, as functions a worker process (or a
Dask worker) can run: the plan re-optimized at some lever values, and a plan's first-stage
decisions held fixed at some lever values (its committed NPV). Each takes and returns plain
data that pickles, and parses its levers itself.

Every NPV comes with its proof (SPEC 16): ``gap_usd``, how much dearer than the best plan it
may be. Analyses solve to a tighter gap than ``tco compare`` (``with_gap``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tco.optimizer.gaps import Npv
from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.reprice import PriceFactors
from tco.optimizer.result import UNPROVEN_GAP, Decisions, Result, ScenarioResult
from tco.optimizer.scenarios import committed_npvs, committed_plan, scenarios_for, solve
from tco.optimizer.solver import SolverName
from tco.optimizer.warmstart import FleetHint
from tco.pricing.models import Catalog

from .levers import lever
from .runner import AnalysisError

__all__ = ["DEFAULT_GAP", "Outcome", "Signature", "at", "base_dict", "committed",
           "committed_in_place", "committed_with_plan", "outcome", "price_factors",
           "relevant", "reoptimized", "sample_moves", "signature", "with_gap"]

# the relative gap every solve of an analysis is taken to (SPEC 16): ten times tighter than
# tco compare's, since analyses compare NPVs with each other
DEFAULT_GAP = 0.001


def with_gap(plan: Plan, gap: float) -> Plan:
    """``plan`` solved to ``gap`` (SPEC 15's measure) instead of its own ``mip_gap``."""
    if not 0.0 <= gap < UNPROVEN_GAP:
        raise AnalysisError(f"--gap: expected a relative gap from 0 to below {UNPROVEN_GAP:g} "
                            f"(0.001 is 0.1%), got {gap:g}")
    return replace(plan, plan=replace(plan.plan, mip_gap=gap))

# what a recommendation commits to, as a decision maker reads it: the scenario, how many servers
# of each type are bought, what is reserved (provider, region, instance type, term: count)
Signature = tuple[str | None, tuple[tuple[str, int], ...],
                  tuple[tuple[tuple[str, str, str, str], int], ...]]


def signature(result: Result) -> Signature:
    if not result.feasible:
        return (None, (), ())
    rec = result.recommended
    servers: Counter[str] = Counter()
    for p in rec.procurement:
        servers[p.server] += p.count
    reserved: Counter[tuple[str, str, str, str]] = Counter()
    for c in rec.commitments:
        reserved[(c.provider, c.region, c.instance_type, c.purchase)] += c.count
    return (result.recommended_name, tuple(sorted(servers.items())),
            tuple(sorted(reserved.items())))


@dataclass(frozen=True)
class Outcome:
    """The plan re-optimized at some lever values, in brief. ``gap_usd`` is how much dearer
    than the best plan of any scenario the recommendation may be: its NPV less the widest
    scenario's bound (every plan is a plan of ``hybrid``); None when unknown. ``proven``:
    that gap is within the analysis's ``--gap``; ``unproven``: over 5%, or unknown, or no
    plan was found though none was proven infeasible (SPEC 15)."""

    values: dict[str, float]
    npv_usd: float | None                 # the recommendation's (None: nothing is feasible)
    recommended: str | None
    signature: Signature
    decisions: Decisions | None
    unproven: bool = False
    gap_usd: float | None = None
    proven: bool = False
    # a solve behind it was stopped by the wall-clock safety net, not by its work budget
    time_limited: bool = False

    @property
    def npv(self) -> Npv | None:
        return None if self.npv_usd is None else Npv(self.npv_usd, self.gap_usd)


def base_dict(base: Outcome) -> dict[str, Any]:
    """The ``base`` of every analysis JSON (SPEC 16)."""
    return {"npv_usd": None if base.npv_usd is None else round(base.npv_usd, 2),
            "gap_usd": None if base.gap_usd is None else round(base.gap_usd, 2),
            "proven": base.proven, "unproven": base.unproven, "recommended": base.recommended}


def _gap_of(result: Result) -> float | None:
    """The recommendation's NPV less the bound of the widest scenario (the first: hybrid, or
    the only one), which bounds every plan of every scenario."""
    if not result.feasible or result.recommended.npv_usd is None:
        return None
    widest = result.scenarios[0]
    bound = widest.solver.bound if widest.solver is not None else None
    if bound is None:
        return None
    return max(0.0, result.recommended.npv_usd - bound)

def relevant(plan: Plan, catalog: Catalog) -> Catalog:
    """The catalog without the compute prices no scenario of the plan can use (other
    providers, other GPU classes): what every task carries and every lever re-prices."""
    providers = {p.value for p in plan.cloud.providers}
    wanted = {g for w in plan.workloads for g in w.speeds}
    kept = [r for r in catalog.compute if r.provider in providers and r.gpu in wanted]
    # a provider none of whose prices fit keeps them all, so that the plan solves as it does
    # in ``tco compare`` (where such a provider is priced, and simply not used)
    unfit = providers - {r.provider for r in kept}
    kept += [r for r in catalog.compute if r.provider in unfit]
    return replace(catalog, compute=tuple(kept))


def at(plan: Plan, catalog: Catalog, values: Mapping[str, float]) -> tuple[Plan, Catalog]:
    """The plan and catalog with each named lever at its value (in name order)."""
    for name in sorted(values):
        plan, catalog = lever(name, plan).apply(plan, catalog, values[name])
    return plan, catalog


def reoptimized(plan: Plan, catalog: Catalog, values: Mapping[str, float],
                solver: SolverName | None, time_limit: float | None,
                fleet_hint: FleetHint | None = None) -> Outcome:
    """The plan solved again at ``values``; the recommendation. Only the recommendation is
    read, so a scenario that cannot be the cheapest is not solved past its relaxation
    (``solve(cheapest_only=True)``). ``fleet_hint``: a plan whose fleet and placements the
    widest scenario's warm start may hold instead of solving for them."""
    p, c = at(plan, catalog, values)
    result = solve(LoadedPlan(p, (), "<plan>"), c, solver=solver, time_limit=time_limit,
                   workers=1, cheapest_only=True, fleet_hint=fleet_hint)
    return outcome(p, result, values)


def outcome(plan: Plan, result: Result, values: Mapping[str, float] | None = None) -> Outcome:
    """``result`` (every scenario of ``plan`` solved) in brief."""
    rec: ScenarioResult | None = result.recommended if result.feasible else None
    gap = _gap_of(result)
    npv = None if rec is None or rec.npv_usd is None else Npv(rec.npv_usd, gap)
    return Outcome(dict(values or {}), rec.npv_usd if rec else None, result.recommended_name,
                   signature(result), rec.decisions if rec else None,
                   result.unproven or (npv is not None and not npv.proven(UNPROVEN_GAP)), gap,
                   npv is not None and npv.proven(plan.plan.mip_gap),
                   any(s.solver is not None and s.solver.time_limited for s in result.scenarios))


def committed(plan: Plan, catalog: Catalog, values: Mapping[str, float], scenario: str,
              decisions: Decisions, solver: SolverName | None,
              time_limit: float | None) -> Npv | None:
    """The committed NPV of ``decisions`` (first-stage decisions of a plan of ``scenario``)
    at ``values``, with its proof: they are held, the hourly use re-optimized to the plan's
    gap; None when no hourly use meets demand (or the decisions cannot be carried out under
    these inputs)."""
    return committed_with_plan(plan, catalog, values, scenario, decisions, solver,
                               time_limit)[0]


def committed_with_plan(plan: Plan, catalog: Catalog, values: Mapping[str, float],
                        scenario: str, decisions: Decisions, solver: SolverName | None,
                        time_limit: float | None,
                        ) -> tuple[Npv | None, tuple[tuple[str, float], ...]]:
    """``committed``, and the plan's values by variable name (none without a plan)."""
    p, c = at(plan, catalog, values)
    chosen = next(s for s in scenarios_for(p) if s.name == scenario)
    return committed_plan(p, c, chosen, decisions, SolverName(solver or p.plan.solver),
                          time_limit)


def price_factors(plan: Plan, values: Mapping[str, float]) -> PriceFactors | None:
    """``values`` as factors on the plan's prices when every lever among them is a price
    lever (``cloud_prices``, ``cloud_prices.<provider>``, ``spot_prices``, ``electricity``,
    ``server_prices``, ``resale``): a program built at the plan's prices moves to them in
    place (``optimizer.reprice``). None when some lever changes anything else."""
    cloud = {p.value: 1.0 for p in plan.cloud.providers}
    electricity = {s.name: 1.0 for s in plan.onprem.sites}
    spot = servers = resale = 1.0
    for name, x in values.items():
        if name == "cloud_prices":
            cloud = {p: v * x for p, v in cloud.items()}
        elif name.startswith("cloud_prices.") and name[len("cloud_prices."):] in cloud:
            provider = name[len("cloud_prices."):]
            cloud[provider] *= x
        elif name == "spot_prices":
            spot *= x
        elif name == "electricity":
            electricity = {k: v * x for k, v in electricity.items()}
        elif name == "server_prices":
            servers *= x
        elif name == "resale":
            resale *= x
        else:
            return None
    return PriceFactors(cloud, spot, electricity, servers, resale)


def sample_moves(plan: Plan, catalog: Catalog, values: Mapping[str, float],
                 ) -> tuple[PriceFactors, Plan] | None:
    """``values`` as a move of a program built for ``plan``: factors on its prices
    (``price_factors``) and the plan with every other lever set (``plan`` itself without
    any), which ``redemand.movable`` decides on. None when some lever changes the catalog
    otherwise."""
    prices = {k: x for k, x in values.items() if price_factors(plan, {k: x}) is not None}
    factors = price_factors(plan, prices)
    if factors is None:
        return None
    moved = plan
    for name in sorted(k for k in values if k not in prices):
        moved, c = lever(name, plan).apply(moved, catalog, values[name])
        if c is not catalog:
            return None
    return factors, moved


def committed_in_place(plan: Plan, catalog: Catalog, drawn: Sequence[Mapping[str, float]],
                       moves: Sequence[tuple[PriceFactors, Plan]], scenario: str,
                       decisions: Decisions, solver: SolverName | None,
                       time_limit: float | None) -> list[Npv | None]:
    """``committed`` at each of ``drawn`` (lever values; ``moves``: the same as
    ``sample_moves``), from one program moved in place; a sample it cannot be moved to (a
    month's demand at 0, a gang onto more nodes, a key path the moves do not cover) is built
    for itself."""
    chosen = next(s for s in scenarios_for(plan) if s.name == scenario)
    return committed_npvs(plan, catalog, chosen, decisions, moves,
                          SolverName(solver or plan.plan.solver), time_limit,
                          fresh=lambda i: committed(plan, catalog, drawn[i], scenario, decisions,
                                                    solver, time_limit))
