"""``tco risk`` (SPEC 12): the plan's candidate decisions across many futures.

The candidates are the first-stage decisions of each feasible scenario's plan at the base
inputs; scenarios with identical decisions form one candidate, named after the first of them
in report order. Each sample draws every lever of the plan's ``[uncertainty]`` table (from its
own random stream: ``sampling.sample``) and prices every candidate's committed NPV there. Per
candidate: mean, P10, P50, P90, CVaR 90% (the mean of the worst 10%), the share of samples in
which it is cheapest (ties count for each) and the share in which it is infeasible (counted
as infinitely expensive). The recommendation is the best candidate by ``criterion``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.result import Decisions
from tco.optimizer.scenarios import solve
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .criteria import Criterion
from .evaluate import committed, relevant
from .levers import uncertain
from .runner import AnalysisError, Failed, Progress, run
from .sampling import sample

__all__ = ["Candidate", "CandidateStats", "Criterion", "RiskResult", "candidates", "risk",
           "stats"]

# samples per task: a task carries the plan and catalog once for all of them
CHUNK = 4


@dataclass(frozen=True)
class Candidate:
    scenario: str
    same_as: tuple[str, ...]
    decisions: Decisions


def candidates(plan: Plan, catalog: Catalog, solver: SolverName | None = None,
               time_limit: float | None = None) -> tuple[list[Candidate], float | None]:
    """The first-stage decisions of each feasible scenario's plan at the base inputs, the
    identical ones merged; and the base recommendation's NPV."""
    result = solve(LoadedPlan(plan, (), "<plan>"), catalog, solver=solver,
                   time_limit=time_limit, workers=1)
    out: list[Candidate] = []
    for s in result.scenarios:
        if not s.feasible or s.decisions is None:
            continue
        same = next((c for c in out if c.decisions == s.decisions), None)
        if same is None:
            out.append(Candidate(s.name, (), s.decisions))
        else:
            out[out.index(same)] = Candidate(same.scenario, (*same.same_as, s.name),
                                             same.decisions)
    base = result.recommended.npv_usd if result.feasible else None
    return out, base


def _evaluate(plan: Plan, catalog: Catalog, chosen: Sequence[Candidate], seed: int,
              indices: Sequence[int], solver: SolverName | None,
              time_limit: float | None) -> list[list[float | None]]:
    """Every candidate's committed NPV in each of the samples ``indices``."""
    out = []
    for i in indices:
        values = sample(plan.uncertainty, seed, i)
        out.append([committed(plan, catalog, values, c.scenario, c.decisions, solver,
                              time_limit) for c in chosen])
    return out


@dataclass(frozen=True)
class CandidateStats:
    scenario: str
    same_as: tuple[str, ...]
    mean_usd: float | None        # None: infeasible in some sample (infinitely expensive)
    p10_usd: float | None
    p50_usd: float | None
    p90_usd: float | None
    cvar90_usd: float | None
    p_cheapest: float
    p_infeasible: float

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)
        return {"scenario": self.scenario, "same_as": list(self.same_as),
                "mean_usd": r(self.mean_usd), "p10_usd": r(self.p10_usd),
                "p50_usd": r(self.p50_usd), "p90_usd": r(self.p90_usd),
                "cvar90_usd": r(self.cvar90_usd), "p_cheapest": round(self.p_cheapest, 6),
                "p_infeasible": round(self.p_infeasible, 6)}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-quantile (the smallest value with at least ``q`` of the values
    at or below it): defined with infinite values, and a value that occurred."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def stats(chosen: Sequence[Candidate], npvs: Sequence[Sequence[float | None]],
          ) -> list[CandidateStats]:
    """Each candidate's distribution over the samples (one row of ``npvs`` per sample)."""
    n = len(npvs)
    costs = [[math.inf if x is None else x for x in row] for row in npvs]
    cheapest = [0] * len(chosen)
    for row in costs:
        best = min(row)
        for k, x in enumerate(row):
            if x == best:
                cheapest[k] += 1
    out = []
    for k, c in enumerate(chosen):
        column = [row[k] for row in costs]
        worst = sorted(column)[-max(1, math.ceil(0.1 * n)):]
        out.append(CandidateStats(
            c.scenario, c.same_as, _finite(sum(column) / n),
            _finite(percentile(column, 0.1)), _finite(percentile(column, 0.5)),
            _finite(percentile(column, 0.9)), _finite(sum(worst) / len(worst)),
            cheapest[k] / n, sum(1 for x in column if math.isinf(x)) / n))
    return out


@dataclass(frozen=True)
class RiskResult:
    plan_name: str
    samples: int
    seed: int
    criterion: Criterion
    recommended: str | None
    base_npv_usd: float | None
    candidates: tuple[CandidateStats, ...]
    npvs: tuple[tuple[float | None, ...], ...]      # per sample, per candidate
    failed_samples: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "samples": self.samples, "seed": self.seed,
                "criterion": self.criterion.value, "recommended": self.recommended,
                "base_npv_usd": None if self.base_npv_usd is None else round(self.base_npv_usd, 2),
                "candidates": [c.to_dict() for c in self.candidates],
                "failed_samples": list(self.failed_samples)}


def _score(s: CandidateStats, criterion: Criterion) -> float:
    value = {Criterion.MEAN: s.mean_usd, Criterion.P90: s.p90_usd,
             Criterion.CVAR: s.cvar90_usd}[criterion]
    return math.inf if value is None else value


def risk(plan: LoadedPlan | Plan, catalog: Catalog, samples: int = 200, seed: int = 0,
         criterion: Criterion | str = Criterion.MEAN, executor: Executor | None = None,
         solver: SolverName | str | None = None, time_limit: float | None = None,
         progress: Progress | None = None) -> RiskResult:
    """Monte Carlo over the plan's ``[uncertainty]`` table: ``samples`` futures drawn from
    ``seed``, every candidate priced in each. The result depends only on the plan, the
    catalog, ``samples`` and ``seed``, whatever ``executor`` runs it."""
    p = plan.plan if isinstance(plan, LoadedPlan) else plan
    catalog = relevant(p, catalog)
    if not p.uncertainty:
        raise AnalysisError("the plan has no [uncertainty] table: say which levers vary and "
                            "how, for example demand = { dist = \"lognormal\", median = 1.0, "
                            "sigma = 0.25 }")
    if samples < 1:
        raise AnalysisError("--samples must be at least 1")
    uncertain(p)
    chosen_criterion = Criterion(criterion)
    name = SolverName(solver) if solver else None
    chosen, base = candidates(p, catalog, name, time_limit)
    if not chosen:
        return RiskResult(p.plan.name, samples, seed, chosen_criterion, None, None, (), ())
    chunks = [list(range(k, min(k + CHUNK, samples))) for k in range(0, samples, CHUNK)]

    def chunk_progress(done: int, total: int) -> None:
        if progress:
            progress(min(samples, done * CHUNK), samples)
    results = run(_evaluate, [(p, catalog, tuple(chosen), seed, c, name, time_limit)
                              for c in chunks], executor, chunk_progress)
    rows: list[tuple[float | None, ...]] = []
    failed: list[int] = []
    for c, out in zip(chunks, results, strict=True):
        if isinstance(out, Failed):
            failed += c
        else:
            rows += [tuple(r) for r in out]
    per = stats(chosen, rows) if rows else []
    best = min(per, key=lambda s: _score(s, chosen_criterion)) if per else None
    recommended = best.scenario if best and math.isfinite(_score(best, chosen_criterion)) \
        else None
    return RiskResult(p.plan.name, samples, seed, chosen_criterion, recommended, base,
                      tuple(per), tuple(rows), tuple(failed))
