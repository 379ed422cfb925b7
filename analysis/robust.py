"""The robust candidate of ``tco risk --optimize`` (SPEC 19): the first-stage decisions that
minimize the criterion over the drawn futures jointly, and what knowing them is worth.

The samples of ``--seed`` build the two-stage program (``optimizer.stochastic.joint``); every
candidate is then evaluated, as in any ``tco risk``, on the samples of ``--seed + 1``, so the
robust plan is not judged on the futures it was fitted to.

The joint program grows linearly with the samples: one copy of the scenario's program per
future plus one equality row per first-stage variable and future (``Joint.columns``). A
whole-number search slows down faster than that, so the futures are split into programs of
at most ``per_program`` futures (sample-average approximation with replications: Kleywegt,
Shapiro and Homem-de-Mello, 2002), solved side by side on the analysis's executor. With more
than one program, each program's decisions are priced in every training future (committed
NPVs) and the best by the criterion is the robust candidate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tco.optimizer.gaps import Npv
from tco.optimizer.plan import Plan
from tco.optimizer.result import Decisions
from tco.optimizer.scenarios import scenarios_for, solve_scenario
from tco.optimizer.solver import SolverName
from tco.optimizer.stochastic import Joint, joint
from tco.pricing.models import Catalog

from .criteria import Criterion
from .evaluate import at, committed
from .runner import Failed, Progress, run
from .sampling import sample

__all__ = ["PER_PROGRAM", "RobustSearch", "criterion_of", "reoptimized_npvs", "search_robust"]

# futures per joint program: the research lab's program of 20 futures (about 42,000 columns)
# solves in about a minute (benchmarks/README.md)
PER_PROGRAM = 20


@dataclass(frozen=True)
class RobustSearch:
    """How the robust candidate was found: the training samples (seed, count), the programs
    they were split into, the largest program's size, the criterion over the training
    samples at the chosen decisions (``objective_usd``) and, with one program, the search's
    bound on it; the candidate the search started from and its value there."""

    seed: int
    samples: int
    programs: int
    per_program: int
    columns: int
    rows: int
    integers: int
    objective_usd: float | None
    bound_usd: float | None
    started_from: str | None
    start_objective_usd: float | None
    seconds: float
    time_limited: bool = False

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)
        return {"seed": self.seed, "samples": self.samples, "programs": self.programs,
                "samples_per_program": self.per_program, "columns": self.columns,
                "rows": self.rows, "integers": self.integers,
                "objective_usd": r(self.objective_usd), "bound_usd": r(self.bound_usd),
                "started_from": self.started_from,
                "start_objective_usd": r(self.start_objective_usd),
                "seconds": round(self.seconds, 2), "time_limited": self.time_limited}


def criterion_of(values: Sequence[float], criterion: Criterion) -> float:
    """The criterion over one candidate's NPVs (``inf`` where infeasible), as ``tco risk``
    scores its candidates."""
    from .montecarlo import cvar90, percentile

    if not values:
        return math.inf
    if criterion == Criterion.MEAN:
        return sum(values) / len(values)
    if criterion == Criterion.P90:
        return percentile(values, 0.9)
    return cvar90(values)


def _widest(plan: Plan) -> Any:
    return scenarios_for(plan)[0]


def _program(plan: Plan, catalog: Catalog, seed: int, indices: Sequence[int], criterion: str,
             starts: tuple[Decisions, ...], solver: SolverName | None,
             time_limit: float | None) -> Joint | None:
    """One joint program over the samples ``indices`` of ``seed`` (a task)."""
    futures = [at(plan, catalog, sample(plan.uncertainty, seed, i)) for i in indices]
    return joint(futures, _widest(plan), criterion, starts,
                 SolverName(solver or plan.plan.solver), plan.plan.mip_gap, time_limit)


def _priced(plan: Plan, catalog: Catalog, seed: int, indices: Sequence[int],
            options: tuple[Decisions, ...], solver: SolverName | None,
            time_limit: float | None) -> list[list[float]]:
    """Each option's committed NPV in each sample of ``indices`` (``inf``: infeasible)."""
    widest = _widest(plan).name
    out = []
    for i in indices:
        values = sample(plan.uncertainty, seed, i)
        row = []
        for decisions in options:
            npv = committed(plan, catalog, values, widest, decisions, solver, time_limit)
            row.append(math.inf if npv is None or not npv.known else npv.usd)
        out.append(row)
    return out


def search_robust(plan: Plan, catalog: Catalog, samples: int, seed: int,
                  criterion: Criterion, starts: Sequence[tuple[str, Decisions]],
                  executor: Any, solver: SolverName | None, time_limit: float | None,
                  progress: Progress | None, per_program: int = PER_PROGRAM,
                  ) -> tuple[Decisions, RobustSearch] | None:
    """The robust first-stage decisions over samples ``0 .. samples - 1`` of ``seed``, and how
    they were found; None when no program has a plan."""
    if per_program < 1:
        raise ValueError("per_program must be at least 1")
    batches = [list(range(k, min(k + per_program, samples)))
               for k in range(0, samples, per_program)]
    given = tuple(d for _, d in starts)
    found = run(_program, [(plan, catalog, seed, b, criterion.value, given, solver, time_limit)
                           for b in batches], executor, progress)
    joints = [j for j in found if isinstance(j, Joint)]
    if not joints:
        return None
    biggest = max(joints, key=lambda j: j.columns)
    seconds = sum(j.seconds for j in joints)
    limited = any(j.time_limited for j in joints)
    names = [n for n, _ in starts]
    if len(batches) == 1:
        j = joints[0]
        return j.decisions, RobustSearch(
            seed, samples, 1, len(batches[0]), j.columns, j.rows, j.integers,
            j.objective_usd, j.bound_usd,
            None if j.started_from is None else names[j.started_from],
            j.start_objective_usd, seconds, limited)
    # several programs: each one's decisions (and the starts) priced in every training sample
    options: list[Decisions] = []
    for d in [*(j.decisions for j in joints), *given]:
        if d not in options:
            options.append(d)
    chunks = [list(range(k, min(k + 4, samples))) for k in range(0, samples, 4)]
    priced = run(_priced, [(plan, catalog, seed, c, tuple(options), solver, time_limit)
                           for c in chunks], executor, progress)
    rows = [row for out in priced if not isinstance(out, Failed) for row in out]
    scores = [criterion_of([row[k] for row in rows], criterion) for k in range(len(options))]
    best = min(range(len(options)), key=lambda k: scores[k])
    start_scores = [(scores[options.index(d)], n) for n, d in starts]
    start_value, start_name = min(start_scores) if start_scores else (None, None)
    return options[best], RobustSearch(
        seed, samples, len(batches), per_program, biggest.columns, biggest.rows,
        biggest.integers, _finite(scores[best]), None, start_name,
        _finite(start_value) if start_value is not None else None, seconds, limited)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _reoptimized(plan: Plan, catalog: Catalog, seed: int, indices: Sequence[int],
                 solver: SolverName | None, time_limit: float | None) -> list[Npv | None]:
    """The best plan of the widest scenario in each sample, knowing it (a task): its NPV with
    its gap; None where nothing is feasible."""
    out: list[Npv | None] = []
    for i in indices:
        p, c = at(plan, catalog, sample(plan.uncertainty, seed, i))
        res = solve_scenario(p, c, _widest(p), SolverName(solver or p.plan.solver), time_limit)
        gap = res.solver.gap_usd if res.solver is not None else None
        out.append(Npv(res.npv_usd, gap) if res.feasible and res.npv_usd is not None else None)
    return out


def reoptimized_npvs(plan: Plan, catalog: Catalog, seed: int, indices: Sequence[int],
                     executor: Any, solver: SolverName | None, time_limit: float | None,
                     progress: Progress | None) -> dict[int, Npv | None]:
    """The re-optimized NPV (perfect information) of each sample of ``indices``; a sample
    whose task failed is left out."""
    chunks = [list(indices[k:k + 4]) for k in range(0, len(indices), 4)]
    found = run(_reoptimized, [(plan, catalog, seed, c, solver, time_limit) for c in chunks],
                executor, progress)
    out: dict[int, Npv | None] = {}
    for c, npvs in zip(chunks, found, strict=True):
        if not isinstance(npvs, Failed):
            out.update(zip(c, npvs, strict=True))
    return out

