"""``tco risk`` (SPEC 12): the plan's candidate decisions across many futures.

The candidates are the first-stage decisions of each feasible scenario's plan at the base
inputs; scenarios with identical decisions form one candidate, named after the first of them
in report order. Each sample draws every lever of the plan's ``[uncertainty]`` table (from its
own random stream: ``sampling.sample``) and prices every candidate's committed NPV there, with
its proof (SPEC 16). Per candidate, over the samples that solved: mean, P10, P50, P90, CVaR
90% (the exact mean of the worst 10%), the share of samples in which it is cheapest (feasible,
and no feasible candidate cheaper beyond the two gaps: ties within them count for each) and
the share in which it is infeasible (counted as infinitely expensive). The recommendation is
the best candidate by ``criterion``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any, cast

from tco.optimizer.gaps import Npv
from tco.optimizer.plan import LoadedPlan, Plan
from tco.optimizer.result import Decisions, Result, ScenarioResult
from tco.optimizer.scenarios import (
    Key,
    assemble,
    distinct_scenarios,
    scenario_key,
    scenarios_for,
    solve,
    solve_scenario,
)
from tco.optimizer.solver import SolverName
from tco.pricing.models import Catalog

from .criteria import Criterion
from .evaluate import (
    DEFAULT_GAP,
    Outcome,
    base_dict,
    committed,
    committed_in_place,
    outcome,
    relevant,
    sample_moves,
    with_gap,
)
from .levers import uncertain
from .robust import PER_PROGRAM, RobustSearch, criterion_of, reoptimized_npvs, search_robust
from .runner import AnalysisError, Failed, Progress, Task, flow, stopped_by_time, telling_gaps
from .sampling import sample

__all__ = [
    "ROBUST",
    "Candidate",
    "CandidateStats",
    "Criterion",
    "RiskResult",
    "candidates",
    "cheapest_counts",
    "cvar90",
    "decision_lists",
    "risk",
    "stats",
]

# samples per task: a task prices one candidate in a chunk of samples, carries the plan and
# catalog once for all of them and builds the candidate's program once for them
# (``committed_in_place``): about ten tasks per candidate, of 4 to 25 samples, fixed by the
# number of samples alone (the results do not depend on the executor)
CHUNKS, CHUNK_LEAST, CHUNK_MOST = 10, 4, 25


def chunk_size(samples: int) -> int:
    """Samples per task for a run of ``samples``."""
    return max(CHUNK_LEAST, min(CHUNK_MOST, samples // CHUNKS))
ROBUST = "robust"         # the name of the robust candidate (``--optimize``)


@dataclass(frozen=True)
class Candidate:
    scenario: str
    same_as: tuple[str, ...]
    decisions: Decisions
    base_npv_usd: float | None = None       # its scenario's NPV at the base inputs
    # the scenario whose program prices it, when not the one it is named after (the robust
    # candidate's: the widest)
    program: str | None = None


def candidates(plan: Plan, catalog: Catalog, solver: SolverName | None = None,
               time_limit: float | None = None) -> tuple[list[Candidate], Outcome]:
    """The first-stage decisions of each feasible scenario's plan at the base inputs, the
    identical ones merged, each with its scenario's NPV; and the base solve in brief."""
    result = solve(LoadedPlan(plan, (), "<plan>"), catalog, solver=solver,
                   time_limit=time_limit, workers=1)
    return _candidates_of(result), outcome(plan, result)


def _candidates_of(result: Result) -> list[Candidate]:
    """``result``'s feasible scenarios as candidates, those with identical decisions merged
    into the first of them."""
    out: list[Candidate] = []
    for s in result.scenarios:
        if not s.feasible or s.decisions is None:
            continue
        same = next((c for c in out if c.decisions == s.decisions), None)
        if same is None:
            out.append(Candidate(s.name, (), s.decisions, s.npv_usd))
        else:
            out[out.index(same)] = replace(same, same_as=(*same.same_as, s.name))
    return out


def _chunk(plan: Plan, catalog: Catalog, program: str, decisions: Decisions, seed: int,
           indices: Sequence[int], solver: SolverName | None,
           time_limit: float | None) -> list[Npv | None]:
    """The committed NPV of ``decisions`` (priced in scenario ``program``), with its proof,
    in each of the samples ``indices``. When every sample moves only what a program can be
    moved by, the program is built once and moved from sample to sample."""
    drawn = [sample(plan.uncertainty, seed, i) for i in indices]
    moves = [f for values in drawn if (f := sample_moves(plan, catalog, values)) is not None]
    if len(moves) == len(drawn):
        return committed_in_place(plan, catalog, drawn, moves, program, decisions, solver,
                                  time_limit)
    return [committed(plan, catalog, values, program, decisions, solver, time_limit)
            for values in drawn]


# each candidate's NPVs in each chunk of samples, by (program, decisions, chunk)
Priced = dict[tuple[str, Decisions, int], "list[Npv | None] | Failed"]


class _Told:
    """Progress in samples: a chunk of samples is done when every candidate (once they are
    known: ``known``) is priced in it; with the widest gap of the solves done."""

    def __init__(self, progress: Progress | None, chunks: list[list[int]]) -> None:
        self.progress = progress
        self.told = telling_gaps(progress)
        self.chunks = chunks
        self.chosen: list[Candidate] | None = None
        self.widest: float | None = None
        self.last: tuple[int, float | None] | None = None     # what was last told

    def known(self, chosen: list[Candidate], priced: Priced) -> None:
        self.chosen = chosen
        self.tell(priced)

    def priced(self, values: list[Npv | None] | Failed, priced: Priced) -> None:
        if not isinstance(values, Failed):
            for x in values:
                if x is not None and x.gap_usd is not None:
                    self.widest = (x.gap_usd if self.widest is None
                                   else max(self.widest, x.gap_usd))
        self.tell(priced)

    def tell(self, priced: Priced) -> None:
        if self.progress is None or self.chosen is None:
            return
        chosen = self.chosen
        done = sum(len(c) for k, c in enumerate(self.chunks)
                   if all((x.program or x.scenario, x.decisions, k) in priced for x in chosen))
        if self.last == (done, self.widest):
            return
        self.last = (done, self.widest)
        total = sum(len(c) for c in self.chunks)
        if self.told is not None:
            self.told(done, total, gap_usd=self.widest)  # type: ignore[call-arg]
        else:
            self.progress(done, total)


def _price_tasks(plan: Plan, catalog: Catalog, chosen: Sequence[Candidate], seed: int,
                 chunks: list[list[int]], solver: SolverName | None, time_limit: float | None,
                 sent: set[tuple[str, Decisions]]) -> list[Task]:
    """A task per chunk of samples for each candidate of ``chosen`` not in ``sent`` yet."""
    out: list[Task] = []
    for c in chosen:
        program = c.program or c.scenario
        if (program, c.decisions) in sent:
            continue
        sent.add((program, c.decisions))
        out += [Task(("price", program, c.decisions, k), _chunk,
                     (plan, catalog, program, c.decisions, seed, tuple(indices), solver,
                      time_limit)) for k, indices in enumerate(chunks)]
    return out


def _priced(plan: Plan, catalog: Catalog, chosen: list[Candidate], seed: int,
            chunks: list[list[int]], executor: Executor | None, solver: SolverName | None,
            time_limit: float | None, progress: Progress | None) -> Priced:
    """Every candidate of ``chosen`` priced in every chunk of samples."""
    priced: Priced = {}
    told = _Told(progress, chunks)
    told.known(chosen, priced)

    def then(task: Task, value: Any) -> tuple[Task, ...]:
        priced[cast(tuple[Any, ...], task.key)[1:]] = value
        told.priced(value, priced)
        return ()
    flow(_price_tasks(plan, catalog, chosen, seed, chunks, solver, time_limit, set()), then,
         executor)
    return priced


def _solved_and_priced(plan: Plan, catalog: Catalog, seed: int, chunks: list[list[int]],
                       executor: Executor | None, solver: SolverName | None,
                       time_limit: float | None, progress: Progress | None
                       ) -> tuple[list[Candidate], Outcome, Priced]:
    """``candidates`` and ``_priced`` in one flow of tasks: each scenario's base solve is a
    task, and the narrower scenarios' candidates are priced while the widest one (the
    longest solve) is still solving. A narrower candidate is final once every narrower
    scenario is solved: only the widest can still take it over (when their decisions turn
    out the same), and then what was priced for it is not used. The candidates, their NPVs
    and the base are those of ``candidates``, whatever runs the tasks."""
    loaded = LoadedPlan(plan, (), "<plan>")
    name = SolverName(solver or plan.plan.solver)
    distinct = distinct_scenarios(plan, catalog)
    widest = scenario_key(plan, scenarios_for(plan)[0])
    narrow = [k for k in distinct if k != widest]
    raw: dict[Key, ScenarioResult] = {}
    priced: Priced = {}
    sent: set[tuple[str, Decisions]] = set()
    told = _Told(progress, chunks)
    found: list[tuple[list[Candidate], Outcome]] = []

    def then(task: Task, value: Any) -> list[Task]:
        key = cast(tuple[Any, ...], task.key)
        if key[0] == "price":
            priced[key[1:]] = value
            told.priced(value, priced)
            return []
        program: Key = key[1]
        if isinstance(value, Failed):
            raise AnalysisError(f"the base solve of {distinct[program].name} failed: "
                                f"{value.reason}")
        raw[program] = value
        if len(raw) == len(distinct):
            result = assemble(loaded, catalog, raw, name, time_limit)
            chosen = _candidates_of(result)
            found.append((chosen, outcome(plan, result)))
            told.known(chosen, priced)
            return _price_tasks(plan, catalog, chosen, seed, chunks, solver, time_limit, sent)
        if program != widest and all(k in raw for k in narrow):
            # the widest is still solving: price the narrower candidates meanwhile
            narrower = assemble(loaded, catalog, {k: raw[k] for k in narrow}, name,
                                time_limit)
            return _price_tasks(plan, catalog, _candidates_of(narrower), seed, chunks,
                                solver, time_limit, sent)
        return []

    flow([Task(("solve", k), solve_scenario, (plan, catalog, s, name, time_limit), long=True)
          for k, s in distinct.items()], then, executor)
    chosen, base = found[0]
    return chosen, base, priced


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
    base_npv_usd: float | None = None
    # the largest gap of its committed NPVs over the samples (None when one is unknown)
    max_gap_usd: float | None = None
    # its first-stage decisions, as SPEC 19 lists them (``decision_lists``)
    decisions: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 2)
        return {"scenario": self.scenario, "same_as": list(self.same_as),
                **(self.decisions or {}),
                "base_npv_usd": r(self.base_npv_usd),
                "mean_usd": r(self.mean_usd), "p10_usd": r(self.p10_usd),
                "p50_usd": r(self.p50_usd), "p90_usd": r(self.p90_usd),
                "cvar90_usd": r(self.cvar90_usd), "p_cheapest": round(self.p_cheapest, 6),
                "p_infeasible": round(self.p_infeasible, 6), "max_gap_usd": r(self.max_gap_usd)}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-quantile (the smallest value with at least ``q`` of the values
    at or below it): defined with infinite values, and a value that occurred."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def cvar90(values: Sequence[float]) -> float:
    """The exact mean of the worst 10% of ``values`` (SPEC 16): sorted from the worst (the
    dearest), k = ⌊n/10⌋ of them whole and the next with weight n/10 − k, over n/10. Counted
    in tenths, so that no rounding of 0.1·n adds a sliver of the next value."""
    n = len(values)
    if n == 0:
        raise ValueError("CVaR of no values")
    worst = sorted(values, reverse=True)
    k, tenths = divmod(n, 10)
    total = 10.0 * sum(worst[:k])
    if tenths:
        total += tenths * worst[k]
    return total / n


def cheapest_counts(rows: Sequence[Sequence[Npv | None]]) -> list[int]:
    """For each candidate, the samples in which it is the cheapest (SPEC 16): it is feasible
    there and no feasible candidate is cheaper by more than the two NPVs' gaps (a tie within
    them counts for each); a sample where none is feasible counts for none."""
    counts = [0] * (len(rows[0]) if rows else 0)
    for row in rows:
        for k, x in enumerate(row):
            if x is None:
                continue
            if not any(y is not None and y.usd < x.usd and y.apart_from(x) for y in row):
                counts[k] += 1
    return counts


def decision_lists(plan: Plan, decisions: Decisions) -> dict[str, Any]:
    """First-stage decisions as a buyer reads them (SPEC 19): ``servers`` ordered by type,
    the ``orders`` behind them (site, server, order month, count), ``sales`` (site, server,
    cohort, month, count) and ``commitments`` (venue, GPU, term, instance type, start month,
    count), months as ``YYYY-MM``."""
    servers: dict[str, int] = {}
    for (_, server, _), n in decisions.orders:
        servers[server] = servers.get(server, 0) + n
    return {"servers": dict(sorted(servers.items())),
            "orders": [[site, server, plan.month_label(m), n]
                       for (site, server, m), n in decisions.orders],
            "sales": [[site, server, cohort, plan.month_label(m), n]
                      for (site, server, cohort, m), n in decisions.retirements],
            "commitments": [[venue, gpu, term, itype, plan.month_label(m), n]
                            for (venue, gpu, term, itype, m), n in decisions.reservations]}


def stats(chosen: Sequence[Candidate], npvs: Sequence[Sequence[Npv | None]],
          plan: Plan | None = None) -> list[CandidateStats]:
    """Each candidate's distribution over the samples (one row of ``npvs`` per sample, each
    a committed NPV with its proof, or None where infeasible); with ``plan``, each lists its
    first-stage decisions."""
    n = len(npvs)
    costs = [[math.inf if x is None else x.usd for x in row] for row in npvs]
    cheapest = cheapest_counts(npvs)
    out = []
    for k, c in enumerate(chosen):
        column = [row[k] for row in costs]
        gaps = [x.gap_usd for row in npvs if (x := row[k]) is not None]
        known = [g for g in gaps if g is not None]
        out.append(CandidateStats(
            c.scenario, c.same_as, _finite(sum(column) / n),
            _finite(percentile(column, 0.1)), _finite(percentile(column, 0.5)),
            _finite(percentile(column, 0.9)), _finite(cvar90(column)),
            cheapest[k] / n, sum(1 for x in column if math.isinf(x)) / n, c.base_npv_usd,
            max(known) if known and len(known) == len(gaps) else None,
            None if plan is None else decision_lists(plan, c.decisions)))
    return out


@dataclass(frozen=True)
class RiskResult:
    plan_name: str
    samples: int                  # asked for
    seed: int
    criterion: Criterion
    recommended: str | None
    base_npv_usd: float | None
    candidates: tuple[CandidateStats, ...]
    # per sample that solved, per candidate: the committed NPV with its proof, or None
    npvs: tuple[tuple[Npv | None, ...], ...]
    failed_samples: tuple[int, ...] = ()
    base: Outcome | None = None
    gap: float = DEFAULT_GAP
    # the index and drawn lever values of each sample that solved, in the order of ``npvs``
    drawn: tuple[tuple[int, tuple[tuple[str, float], ...]], ...] = ()
    stopped_by_time_limit: int = 0      # solves the time limit stopped (runner.stopped_by_time)
    # with --optimize (SPEC 19): how the robust candidate was found, the samples every
    # candidate was evaluated on (seed + 1), the value of the stochastic solution and of
    # perfect information on them, the re-optimized NPVs' largest gap
    robust: RobustSearch | None = None
    evaluation_seed: int | None = None
    vss_usd: float | None = None
    evpi_usd: float | None = None
    evpi_gap_usd: float | None = None
    reoptimized: tuple[Npv | None, ...] = ()

    @property
    def samples_solved(self) -> int:
        return len(self.npvs)

    @property
    def samples_failed(self) -> int:
        return len(self.failed_samples)

    @property
    def unproven(self) -> bool:
        """The base solve is unproven (SPEC 15): the command exits 4."""
        return self.base is not None and self.base.unproven

    def sample_rows(self) -> list[dict[str, Any]]:
        """Every sample that solved: its drawn levers and each candidate's committed NPV
        with its gap (None where infeasible), enough to recompute every statistic."""
        names = [c.scenario for c in self.candidates]
        return [{"sample": i, "levers": dict(values),
                 "npv_usd": {n: None if x is None else round(x.usd, 2)
                             for n, x in zip(names, row, strict=True)},
                 "gap_usd": {n: None if x is None or x.gap_usd is None else round(x.gap_usd, 2)
                             for n, x in zip(names, row, strict=True)}}
                for (i, values), row in zip(self.drawn, self.npvs, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_name, "samples": self.samples,
                "samples_solved": self.samples_solved, "samples_failed": self.samples_failed,
                "seed": self.seed, "gap": self.gap,
                "stopped_by_time_limit": self.stopped_by_time_limit,
                "criterion": self.criterion.value, "recommended": self.recommended,
                "base_npv_usd": None if self.base_npv_usd is None else round(self.base_npv_usd, 2),
                "base": None if self.base is None else base_dict(self.base),
                "unproven": self.unproven,
                "candidates": [c.to_dict() for c in self.candidates],
                "failed_samples": list(self.failed_samples),
                "samples_drawn": self.sample_rows(),
                **({} if self.robust is None else {
                    "evaluation_seed": self.evaluation_seed, "robust": self.robust.to_dict(),
                    "vss_usd": _r(self.vss_usd), "evpi_usd": _r(self.evpi_usd),
                    "evpi_gap_usd": _r(self.evpi_gap_usd)})}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _score(s: CandidateStats, criterion: Criterion) -> float:
    value = {Criterion.MEAN: s.mean_usd, Criterion.P90: s.p90_usd,
             Criterion.CVAR: s.cvar90_usd}[criterion]
    return math.inf if value is None else value


def risk(plan: LoadedPlan | Plan, catalog: Catalog, samples: int = 200, seed: int = 0,
         criterion: Criterion | str = Criterion.MEAN, executor: Executor | None = None,
         solver: SolverName | str | None = None, time_limit: float | None = None,
         progress: Progress | None = None, gap: float = DEFAULT_GAP, optimize: bool = False,
         per_program: int = PER_PROGRAM) -> RiskResult:
    """Monte Carlo over the plan's ``[uncertainty]`` table: ``samples`` futures drawn from
    ``seed``, every candidate priced in each, every solve to ``gap`` (SPEC 16). The result
    depends only on the plan, the catalog, ``samples``, ``seed``, ``gap`` (and
    ``per_program``), whatever ``executor`` runs it.

    ``optimize`` (SPEC 19) adds the robust candidate, found on the samples of ``seed``
    (``robust.search_robust``), and evaluates every candidate on the samples of ``seed + 1``
    instead, with the value of the stochastic solution and of perfect information there."""
    p = with_gap(plan.plan if isinstance(plan, LoadedPlan) else plan, gap)
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
    size = chunk_size(samples)
    chunks = [list(range(k, min(k + size, samples))) for k in range(0, samples, size)]
    robust: RobustSearch | None = None
    if not optimize:
        chosen, base, priced = _solved_and_priced(p, catalog, seed, chunks, executor, name,
                                                  time_limit, progress)
    else:
        # the base solves side by side; the samples wait for the robust candidate
        chosen, base, _ = _solved_and_priced(p, catalog, seed, [], executor, name, time_limit,
                                             None)
        if chosen:
            found = search_robust(p, catalog, samples, seed, chosen_criterion,
                                  [(c.scenario, c.decisions) for c in chosen], executor, name,
                                  time_limit, progress, per_program)
            if found is not None:
                decisions, robust = found
                widest = scenarios_for(p)[0].name
                at_base = committed(p, catalog, {}, widest, decisions, name, time_limit)
                chosen = [*chosen, Candidate(ROBUST, (), decisions,
                                             at_base.usd if at_base and at_base.known else None,
                                             widest)]
        seed += 1       # every candidate is evaluated on samples the program did not see
        priced = _priced(p, catalog, chosen, seed, chunks, executor, name, time_limit,
                         progress) if chosen else {}
    if not chosen:
        return RiskResult(p.plan.name, samples, seed - (1 if optimize else 0),
                          chosen_criterion, None, None, (), (), base=base, gap=gap)
    rows: list[tuple[Npv | None, ...]] = []
    drawn: list[tuple[int, tuple[tuple[str, float], ...]]] = []
    failed: list[int] = []
    used: list[list[Npv | None]] = []
    for k, c in enumerate(chunks):
        pieces = [priced[(x.program or x.scenario, x.decisions, k)] for x in chosen]
        columns = [column for column in pieces if not isinstance(column, Failed)]
        if len(columns) < len(pieces):
            failed += c
            continue
        used += columns
        for j, i in enumerate(c):
            row = tuple(column[j] for column in columns)
            if any(x is not None and not x.known for x in row):
                failed.append(i)
            else:
                rows.append(row)
                drawn.append((i, tuple(sample(p.uncertainty, seed, i).items())))
    per = stats(chosen, rows, p) if rows else []
    best = min(per, key=lambda s: _score(s, chosen_criterion)) if per else None
    recommended = best.scenario if best and math.isfinite(_score(best, chosen_criterion)) \
        else None
    result = RiskResult(p.plan.name, samples, seed - (1 if optimize else 0), chosen_criterion,
                        recommended, base.npv_usd, tuple(per), tuple(rows), tuple(failed),
                        base, gap, tuple(drawn), stopped_by_time(base, used))
    if not optimize:
        return result
    return _valued(result, p, catalog, seed, robust, executor, name, time_limit, progress)


def _valued(r: RiskResult, plan: Plan, catalog: Catalog, seed: int,
            robust: RobustSearch | None, executor: Executor | None, solver: SolverName | None,
            time_limit: float | None, progress: Progress | None) -> RiskResult:
    """``r`` with the robust search and, on the evaluation samples (of ``seed``), the value of
    the stochastic solution (the best scenario candidate's criterion less the robust one's)
    and the expected value of perfect information (the robust candidate's criterion less
    that of the NPVs re-optimized knowing each sample); None where either is infinite."""
    r = replace(r, robust=robust, evaluation_seed=seed)
    scores = {c.scenario: _score(c, r.criterion) for c in r.candidates}
    if robust is None or ROBUST not in scores:
        return r
    own = scores.pop(ROBUST)
    best_other = min(scores.values(), default=math.inf)
    vss = best_other - own if math.isfinite(best_other) and math.isfinite(own) else None
    indices = [i for i, _ in r.drawn]
    known = reoptimized_npvs(plan, catalog, seed, indices, executor, solver, time_limit,
                             progress)
    column = [known.get(i) for i in indices]
    values = [math.inf if x is None or not x.known else x.usd for x in column]
    perfect = criterion_of(values, r.criterion) if len(known) == len(indices) else math.inf
    evpi = own - perfect if math.isfinite(own) and math.isfinite(perfect) else None
    gaps = [x.gap_usd for x in column if x is not None]
    widest = max(g for g in gaps if g is not None) if gaps and None not in gaps else None
    return replace(r, vss_usd=vss, evpi_usd=evpi, evpi_gap_usd=widest,
                   reoptimized=tuple(column))
