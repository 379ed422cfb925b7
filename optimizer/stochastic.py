"""One set of first-stage decisions for many futures: a two-stage stochastic program in its
extensive form (SPEC 19).

Each future (the plan and catalog at one sample's lever values) gets its own copy of the
scenario's program: its own hourly use, storage, tiers, the recourse. The first-stage
variables (servers ordered, servers kept or sold, reservations and quotes, the ones
``decisions.fix`` holds) are one decision: each future's copy is tied to the first future's
by an equality row. A decision that some future has no variable for (an offer missing from
its prices) is held at 0 in every future, so the plan can be carried out in all of them.

The objective is the criterion over the futures' NPVs, each future weighing the same:

- ``mean``: Σ NPV_s / S;
- ``cvar``: the mean of the worst 10%, in Rockafellar and Uryasev's form (2000, "Optimization
  of conditional value-at-risk"): min η + Σ u_s / (0.1 S) with u_s ≥ NPV_s − η, u_s ≥ 0, which
  is exactly the mean of the worst tenth with the fractional weight of ``montecarlo.cvar90``;
- ``p90`` is not convex (a quantile of a program's values needs a binary per future and a
  bound no plan gives): it is optimized as ``cvar``, which is never below it.

The recourse's own whole-number choices (where a single-venue workload runs, storage tiers,
gangs) are relaxed in the joint program, which leaves the first-stage decisions as its only
whole numbers: its optimum is no dearer than the joint program's, so the bound its search
proves is a bound on every plan's criterion over these futures. The decisions it picks are
then priced exactly, each future's recourse solved with them held (as a committed NPV is).
The search starts from the best of the given decisions, priced the same way, and the answer
is whichever of the two is better: never worse over these futures than any given decisions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tco.pricing.models import Catalog

from .build import define_program, prepare
from .decisions import DecisionsError, fix
from .diagnosis import precheck
from .extract import decisions_of
from .model import Model, linear
from .plan import Plan
from .program import EQ, GE, Expr, Program, Var
from .result import Decisions
from .scenarios import default_time_limit, solve_held
from .solver import SolverName, SolveStatus, safety_net, search
from .venues import Scenario

__all__ = ["CVAR_TAIL", "Joint", "first_stage", "joint", "tail_mean"]

CVAR_TAIL = 0.1            # CVaR 90%: the worst tenth


def first_stage(model: Model) -> dict[tuple[object, ...], Var]:
    """The variables of ``model``'s first-stage decisions, keyed the same way in every program
    of one plan and scenario: orders, reservations (and quotes), and the live count of each
    owned cohort where the program chooses when it is sold."""
    out: dict[tuple[object, ...], Var] = {}
    for order, (var, _) in model.fleet.orders.items():
        out[("order", *order)] = var
    for reservation, (var, _) in model.reserved.reservations.items():
        out[("reserve", *reservation)] = var
    for order, (var, _) in model.fleet.financed.items():
        out[("financed", *order)] = var
    for plan_ in model.fleet.cohorts:
        if not plan_.chosen:
            continue
        c = plan_.cohort
        order_var = None if c.order is None else model.fleet.orders[
            (c.site, c.server.name, c.order)][0]
        for span, live in plan_.segments:
            if isinstance(live, Var) and live is not order_var:
                out[("live", c.site, c.server.name, c.key, span.start)] = live
    return out


def tail_mean(values: Sequence[float], tail: float = CVAR_TAIL) -> float:
    """Rockafellar and Uryasev's η + Σ (v − η)⁺ / (tail · n) at its best η (one of the values):
    the mean of the worst ``tail`` of ``values``."""
    n = len(values)
    return min(eta + sum(max(0.0, v - eta) for v in values) / (tail * n) for eta in values)


@dataclass(frozen=True)
class Joint:
    """The joint program's answer: the first-stage decisions, the criterion over the futures
    at them (``objective_usd``) with the search's bound, each future's NPV, and the size of
    the program solved."""

    decisions: Decisions
    objective_usd: float
    bound_usd: float | None
    npvs: tuple[float, ...]
    status: SolveStatus
    seconds: float
    columns: int
    rows: int
    integers: int
    started_from: int | None        # the index of the given decisions the search began from
    start_objective_usd: float | None
    time_limited: bool = False


def _models(futures: Sequence[tuple[Plan, Catalog]], scenario: Scenario) -> list[Model] | None:
    models = []
    for plan, catalog in futures:
        model = prepare(plan, catalog, scenario)
        if precheck(model):
            return None
        define_program(model)
        # every site-shortfall inequality at once: valid for every whole-number plan, they
        # keep the joint program's relaxed recourse from splitting what whole servers cannot
        for expr, rhs, name in model.cuts.shortfall:
            model.prob.add(expr, GE, rhs, name)
        model.cuts.shortfall = []
        models.append(model)
    return models


def _held_values(models: Sequence[Model], decisions: Decisions, solver: SolverName,
                 gap: float) -> tuple[list[float], dict[Var, float]] | None:
    """Each future's NPV with ``decisions`` held and its recourse solved, and every variable's
    value: a plan of the joint program. None when some future cannot carry them out."""
    npvs: list[float] = []
    values: dict[Var, float] = {}
    for model in models:
        restore = None
        try:
            restore = fix(model, decisions)
            info = solve_held(model, solver, default_time_limit(model), gap)
        except DecisionsError:
            return None
        finally:
            if restore is not None:
                restore()
        if not info.status.has_solution:
            return None
        npvs.append(model.prob.cost())
        values.update((v, v.varValue or 0.0) for v in model.prob.vars)
    return npvs, values


def _criterion_of(npvs: Sequence[float], criterion: str) -> float:
    return sum(npvs) / len(npvs) if criterion == "mean" else tail_mean(npvs)


def joint(futures: Sequence[tuple[Plan, Catalog]], scenario: Scenario, criterion: str,
          starts: Sequence[Decisions] = (), solver: SolverName = SolverName.HIGHS,
          gap: float = 0.001, time_limit: float | None = None) -> Joint | None:
    """The first-stage decisions minimizing ``criterion`` (``mean``, ``cvar`` or ``p90``,
    optimized as ``cvar``) over ``futures`` jointly, each with its own recourse; None when
    some future has no plan at all."""
    if not futures:
        raise ValueError("joint: no futures")
    started = time.perf_counter()
    models = _models(futures, scenario)
    if models is None:
        return None
    n = len(models)
    # the best of the given decisions, held in every future: the search's start
    best: tuple[int, float, list[float], dict[Var, float]] | None = None
    for k, decisions in enumerate(starts):
        held = _held_values(models, decisions, solver, gap)
        if held is None:
            continue
        value = _criterion_of(held[0], criterion)
        if best is None or value < best[1]:
            best = (k, value, *held)

    prob = Program("robust")
    for model in models:
        prob.vars.extend(model.prob.vars)
        prob.rows.extend(model.prob.rows)
    # one first-stage decision for every future
    keyed = [first_stage(model) for model in models]
    every = {key for k in keyed for key in k}
    for key in sorted(every, key=repr):
        present = [k.get(key) for k in keyed]
        if any(v is None for v in present):
            for v in present:
                if v is not None:
                    v.lowBound, v.upBound = 0.0, 0.0
            continue
        first = present[0]
        assert first is not None
        for s, v in enumerate(present[1:], start=1):
            assert v is not None
            prob.add(Expr({v: 1.0, first: -1.0}), EQ, 0.0, f"same[{s},{key!r}]")
    objectives = [model.prob.objective for model in models]
    start: dict[Var, float] | None = None
    if criterion == "mean":
        prob.objective = linear([(obj, 1.0 / n) for obj in objectives])
        if best is not None:
            start = best[3]
    else:
        eta = prob.var("var_eta")
        excess = [prob.var(f"excess[{s}]", 0.0) for s in range(n)]
        for s, (u, obj) in enumerate(zip(excess, objectives, strict=True)):
            # u_s >= NPV_s - eta
            prob.add(linear([(u, 1.0), (obj, -1.0), (eta, 1.0)]), GE, 0.0, f"tail[{s}]")
        prob.objective = linear([(eta, 1.0), *((u, 1.0 / (CVAR_TAIL * n)) for u in excess)])
        if best is not None:
            npvs = best[2]
            level = min(npvs, key=lambda e: e + sum(max(0.0, v - e) for v in npvs)
                        / (CVAR_TAIL * n))
            start = {**best[3], eta: level,
                     **{u: max(0.0, v - level) for u, v in zip(excess, npvs, strict=True)}}

    # the recourse's whole-number choices relaxed: a program over the first-stage decisions
    # whose optimum is no dearer than the joint program's, so its bound is one for the joint
    # program too; the decisions it picks are then priced exactly
    kept = {id(v) for k in keyed for v in k.values()}
    kept.update(id(v) for model in models for v in model.use.placements())
    relaxed = [v for v in prob.vars if v.integer and id(v) not in kept]
    for v in relaxed:
        v.integer = False
    integers = sum(v.integer for v in prob.vars)
    limit = time_limit if time_limit is not None else sum(default_time_limit(m) for m in models)
    try:
        with safety_net(limit) as net:
            info = search(prob, solver, None, gap, start=start)
    finally:
        for v in relaxed:
            v.integer = True
    bound = (info.bound if info.status.has_solution and info.bound is not None
             and math.isfinite(info.bound) else None)
    chosen = decisions_of(models[0]) if info.status.has_solution else None
    exact = None if chosen is None else _held_values(models, chosen, solver, gap)
    if exact is not None:
        npvs, value = exact[0], _criterion_of(exact[0], criterion)
    if exact is None or (best is not None and best[1] <= value):
        if best is None:
            return None
        # the best start is the answer
        chosen, npvs, value = starts[best[0]], best[2], best[1]
    assert chosen is not None
    if bound is not None:
        bound = min(bound, value)
    return Joint(chosen, value, bound, tuple(npvs), info.status,
                 time.perf_counter() - started, len(prob.vars), len(prob.rows),
                 integers, best[0] if best else None,
                 best[1] if best else None, info.time_limited or net.fired)
