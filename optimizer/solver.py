"""The solver behind a small interface: programs (``program.Program``) in, our own status and
timings out.

HiGHS (through highspy) is the default and reads the program's arrays directly; CBC (through
PuLP) is the alternative, given a PuLP copy of the program. Both run the same optimizer tests.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tco.pricing.errors import TcoError

from .gaps import gap_usd, least_bound, relative_gap
from .program import GE, LE, Program, Row, Var

if TYPE_CHECKING:
    import highspy
    import numpy as np
    import numpy.typing as npt

    Rows = tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float64],
                 npt.NDArray[np.float64], npt.NDArray[np.float64]]

# PuLP ships no type information: its problems, variables and constraints are ``Any`` here
PulpObject = Any

DEFAULT_MIP_GAP = 0.01
# Every solver call runs on one thread with a fixed seed, and every whole-number search is
# bounded by branch-and-bound nodes, never by a share of the wall-clock time: the same plan
# gives the same answer on a busy machine as on a quiet one (docs/solving.md). A search of the
# whole program may take NODE_WORK / columns nodes (at least MIN_NODES); a step of the warm
# start a share of that. On this project's benchmark machine that is about a minute of
# branching at any size (the research lab's committed solves branch some 170 nodes a second
# over 1,705 columns).
THREADS = 1
SEED = 0
NODE_WORK = 20_000_000
MIN_NODES = 100


def node_budget(prob: Program, share: float = 1.0) -> int:
    """The branch-and-bound nodes a search of ``prob`` may take: ``share`` of ``NODE_WORK``
    over its columns, at least ``MIN_NODES``. A count of work, the same on any machine."""
    return max(MIN_NODES, int(share * NODE_WORK / max(1, len(prob.vars))))


@dataclass
class SafetyNet:
    """The wall-clock limit over a whole solve (``--time-limit``): never the budget a step
    is sized by, only a net under them all. ``fired`` once any solver call was stopped by it,
    after which the answer may differ on another machine or under another load."""

    deadline: float | None
    fired: bool = False

    def left(self) -> float | None:
        """Seconds left, at least ``NET_LEAST`` (a step stopped by the net still returns its
        plan)."""
        if self.deadline is None:
            return None
        return max(NET_LEAST, self.deadline - time.perf_counter())


_nets: list[SafetyNet] = []
# each solver call past the net's deadline still has this many seconds to return a plan
NET_LEAST = 1.0


@contextmanager
def safety_net(seconds: float | None) -> Iterator[SafetyNet]:
    """Within this block every solver call stops at ``seconds`` from now (or an enclosing
    net's deadline, when sooner); the net says whether any did."""
    deadline = None if seconds is None else time.perf_counter() + seconds
    outer = _nets[-1] if _nets else None
    if outer is not None and outer.deadline is not None and (
            deadline is None or outer.deadline < deadline):
        deadline = outer.deadline
    net = SafetyNet(deadline)
    _nets.append(net)
    try:
        yield net
    finally:
        _nets.remove(net)


def _limit(time_limit: float | None) -> float | None:
    """A call's own time limit, within the innermost safety net's."""
    net = _nets[-1].left() if _nets else None
    if net is None:
        return time_limit
    return net if time_limit is None else min(net, time_limit)


def _stopped_by_time() -> None:
    """A solver call was stopped by the time: every enclosing net says so."""
    for net in _nets:
        net.fired = True


class SolverName(StrEnum):
    HIGHS = "highs"
    CBC = "cbc"


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"        # stopped short of the gap (work budget or time) with a plan
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NOT_SOLVED = "not_solved"    # stopped without a solution, or the solver failed

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


@dataclass(frozen=True)
class SolveInfo:
    """How a solve went. ``bound`` is the least any plan of the program can cost, as proved
    (None when unknown); ``gap_usd`` the most the plan found can be dearer than the best one
    (its NPV less ``bound``); ``mip_gap`` that gap relative to max(|NPV|, |bound|, 1), the
    solvers' own measure (SPEC 15; ``gaps.relative_gap``). Until ``optimize`` measures them
    against every bound it knows, they are the solver's own figures."""

    solver: str
    status: SolveStatus
    seconds: float
    mip_gap: float | None
    bound: float | None = None
    gap_usd: float | None = None
    # a solver call of this solve was stopped by the wall-clock safety net (``--time-limit``)
    # rather than by its work budget: the plan may differ on another machine
    time_limited: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"name": self.solver, "status": self.status.value, "seconds": round(self.seconds, 3),
                "bound_usd": None if self.bound is None else round(self.bound, 2),
                "gap_usd": None if self.gap_usd is None else round(self.gap_usd, 2),
                "mip_gap": None if self.mip_gap is None else round(self.mip_gap, 6),
                "threads": THREADS, "seed": SEED, "stopped_by_time_limit": self.time_limited}


# what is told of a whole-number search under way, while any watcher is set: the objective of
# the best plan found so far and the solver's bound, as HiGHS reports them when it finds a
# better plan or writes a line of its log (``watching``)
Watcher = Callable[[float, float], None]
_watchers: list[Watcher] = []


@contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Within this block, every HiGHS whole-number search of this process tells ``watcher``
    its best plan's objective and its bound as they improve (for a progress line: it changes
    nothing in the search). CBC runs as a separate program and tells nothing."""
    _watchers.append(watcher)
    try:
        yield
    finally:
        _watchers.remove(watcher)


def _tell_watchers(event: object) -> None:
    data = event.data_out  # type: ignore[attr-defined]
    found, bound = data.mip_primal_bound, data.mip_dual_bound
    if math.isfinite(found) and abs(found) < 1e30:
        for watcher in _watchers:
            watcher(found, bound)


class SolverUnavailableError(TcoError):
    """The chosen solver is not installed."""


def _quiet_highs() -> highspy.Highs:
    """A HiGHS instance with its log switched off before it can write anything.

    From highspy 1.16 the constructor registers its Python callback, and that writes the
    licence banner to the process's standard output, which would corrupt `--format json`.
    The log is switched off first thing, inside that step.
    """
    import highspy

    class QuietHighs(highspy.Highs):
        def enableCallbacks(self) -> None:  # highspy's name
            self.setOptionValue("output_flag", False)
            super().enableCallbacks()

    highs = QuietHighs()
    highs.setOptionValue("output_flag", False)
    return highs


class HighsSession:
    """One problem handed to HiGHS once and solved several times.

    The warm start solves the LP relaxation, solves it again with some variables fixed, then a
    restricted program, and finally the full program. Passing the matrix to highspy once and
    changing only bounds and integrality between runs avoids rebuilding the model (the
    slowest part of PuLP's own HiGHS interface) and lets each LP re-solve start from the last
    basis. Bounds and integrality are read from the program's variables before every run, so
    callers change them on the variables, whichever solver runs.
    """

    def __init__(self, prob: Program) -> None:
        import highspy
        import numpy as np

        # columns in order of first appearance (objective, then rows); a variable in neither
        # is no column
        self.vars: list[Var] = []
        self.index: dict[Var, int] = {}
        objective = [(self._column(var), coef) for var, coef in prob.objective.items()]
        self.constraints: list[Row] = list(prob.rows)
        starts, rows_idx, rows_val, lower, upper = self._rows(self.constraints)
        n = len(self.vars)
        cost = np.zeros(n)
        for j, coef in objective:
            cost[j] += coef
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = len(lower)
        lp.col_cost_ = cost
        lp.offset_ = prob.objective.constant or 0.0
        lp.col_lower_, lp.col_upper_ = self.lower, self.upper = self._bounds()
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = rows_idx
        lp.a_matrix_.value_ = rows_val
        self.highs = _quiet_highs()
        self.highs.passModel(lp)
        self.kinds = np.zeros(n, dtype=np.uint8)     # every column continuous
        self.options: dict[str, bool | int | float | str] = {}
        self.registered = len(prob.vars)
        self.watched = False

    def _column(self, var: Var) -> int:
        j = self.index.get(var)
        if j is None:
            j = self.index[var] = len(self.vars)
            self.vars.append(var)
        return j

    def _rows(self, constraints: list[Row]) -> Rows:
        """Row starts, column indices, values, lower and upper bounds (CSR, by row)."""
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        starts, index, value, lower, upper = [0], [], [], [], []
        column, known = self._column, self.index
        for con in constraints:
            for var, coef in con.expr.items():
                if coef:
                    j = known.get(var)
                    index.append(column(var) if j is None else j)
                    value.append(coef)
            starts.append(len(index))
            bound = -con.constant
            lower.append(-inf if con.sense == LE else bound)
            upper.append(inf if con.sense == GE else bound)
        return (np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                np.array(value, dtype=np.float64), np.array(lower, dtype=np.float64),
                np.array(upper, dtype=np.float64))

    def set_costs(self, prob: Program) -> None:
        """Take ``prob``'s objective as the costs, in place (a re-priced program: the same
        columns, other prices); the basis stays. A variable the session has no column for
        must not be in it."""
        import highspy  # noqa: F401
        import numpy as np

        cost = np.zeros(len(self.vars))
        for var, coef in prob.objective.items():
            cost[self.index[var]] += coef
        self.highs.changeColsCost(len(self.vars), np.arange(len(self.vars), dtype=np.int32),
                                  cost)
        self.highs.changeObjectiveOffset(prob.objective.constant or 0.0)

    def change_rows(self, rows: list[Row], coefs: list[tuple[Row, Var]]) -> None:
        """Take ``rows``' bounds and the coefficients ``coefs`` (a row and a variable) from
        the program, in place: the same rows and columns, other numbers; the basis stays."""
        import highspy
        import numpy as np

        if not rows and not coefs:
            return
        at = {id(r): i for i, r in enumerate(self.constraints)}
        h = self.highs
        for row, var in coefs:
            j = self.index.get(var)
            if j is None:
                # in no row or cost until now (its coefficients were all 0): a column now
                j = self._column(var)
                h.addVar(0.0, 0.0)
                self.lower = np.append(self.lower, -np.inf)     # set by the next run
                self.upper = np.append(self.upper, np.inf)
                self.kinds = np.append(self.kinds, np.uint8(0))
            h.changeCoeff(at[id(row)], j, row.expr[var])
        inf = highspy.kHighsInf
        for r in rows:
            h.changeRowBounds(at[id(r)], -inf if r.sense == LE else -r.constant,
                              inf if r.sense == GE else -r.constant)

    def add_rows(self, constraints: list[Row]) -> None:
        """Append rows added to the program since the session was made; the basis and
        everything else stay."""
        starts, index, value, lower, upper = self._rows(constraints)
        self.highs.addRows(len(constraints), lower, upper, len(index), starts[:-1], index, value)
        self.constraints.extend(constraints)

    def drop_rows(self, gone: set[int]) -> None:
        """Delete the rows whose ``id`` is in ``gone`` (``Program.drop``)."""
        import numpy as np

        at = [i for i, r in enumerate(self.constraints) if id(r) in gone]
        if at:
            self.highs.deleteRows(len(at), np.array(at, dtype=np.int32))
            self.constraints = [r for r in self.constraints if id(r) not in gone]

    def _options(self, options: dict[str, bool | int | float | str]) -> None:
        """Set the options whose values differ from the ones last set."""
        last = self.options
        for name, value in options.items():
            if name not in last or last[name] != value or type(last[name]) is not type(value):
                self.highs.setOptionValue(name, value)
                last[name] = value

    def _bounds(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        lower = np.array([-inf if v.lowBound is None else v.lowBound for v in self.vars],
                         dtype=np.float64)
        upper = np.array([inf if v.upBound is None else v.upBound for v in self.vars],
                         dtype=np.float64)
        return lower, upper

    def run(self, time_limit: float | None, gap: float, relax: bool,
            start: dict[Var, float] | None, target: float | None = None,
            msg: bool = False, presolve: bool = True,
            nodes: int | None = None, root_sub_mips: bool = True) -> SolveInfo:
        import highspy
        import numpy as np

        h = self.highs
        n = len(self.vars)
        # bounds, integrality and options are sent only where they changed since the last
        # run: a committed solve runs a small program ten times, and sending all of them
        # each time took about a third of its time
        lower, upper = self._bounds()
        moved = np.flatnonzero((lower != self.lower) | (upper != self.upper)).astype(np.int32)
        if len(moved):
            h.changeColsBounds(len(moved), moved, lower[moved], upper[moved])
            self.lower, self.upper = lower, upper
        integer = np.array([v.integer for v in self.vars], dtype=bool)
        kinds = np.where(integer & (not relax), highspy.HighsVarType.kInteger.value,
                         highspy.HighsVarType.kContinuous.value).astype(np.uint8)
        if not np.array_equal(kinds, self.kinds):
            h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), kinds)
            self.kinds = kinds
        lp = relax or not integer.any()
        # HiGHS's simplex measures its time limit on the instance's run clock, which adds up
        # over every run of the session (its MIP solver measures from the start of the run):
        # an LP after a 6 s solve with 6 s allowed would stop at once, unsolved
        offset = h.getRunTime() if lp else 0.0
        time_limit = _limit(time_limit)
        self._options({
            "output_flag": msg, "threads": THREADS, "random_seed": SEED,
            # relaxations of these programs solve about twice as fast without presolve
            "presolve": "off" if relax or not presolve else "choose",
            "mip_max_nodes": highspy.kHighsIInf if nodes is None else nodes,
            "mip_rel_gap": gap, "mip_abs_gap": 1e-6,
            "time_limit": float("inf") if time_limit is None else offset + float(time_limit),
            "objective_target": -highspy.kHighsInf if target is None or relax else target,
            "mip_heuristic_run_root_reduced_cost": root_sub_mips,
            "mip_heuristic_run_rens": root_sub_mips})
        if start and not relax:
            index = self.index
            known = [(index[v], x) for v, x in start.items() if v in index]
            h.setSolution(len(known), np.array([i for i, _ in known], dtype=np.int32),
                          np.array([x for _, x in known], dtype=np.float64))
        if _watchers and not self.watched and not lp:
            h.cbMipImprovingSolution.subscribe(_tell_watchers)
            h.cbMipLogging.subscribe(_tell_watchers)
            self.watched = True
            self.options.pop("output_flag", None)   # turned off by the subscription
        started = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - started
        info = _highs_info(h, seconds, relax or not integer.any())
        if h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit:
            _stopped_by_time()
            info = replace(info, time_limited=True)
        if info.status.has_solution:
            solution = h.getSolution()
            for var, value in zip(self.vars, solution.col_value):
                var.varValue = value
            # slacks: how far each row is from binding
            for con, activity, dual in zip(self.constraints, solution.row_value, solution.row_dual):
                slack = con.constant + activity
                con.slack = -slack if con.sense == LE else slack
                con.pi = dual
        return info


def _cbc(time_limit: float | None, gap: float, relax: bool = False,
         warm: bool = False, nodes: int | None = None) -> PulpObject:
    """CBC from the cbcbox wheel (pulp[cbc]); PuLP's own bundled copy is the fallback. One
    thread and fixed seeds, as HiGHS runs."""
    import pulp

    options: dict[str, Any] = {
        "mip": not relax, "msg": False, "timeLimit": time_limit, "gapRel": gap,
        "warmStart": warm, "threads": THREADS, "maxNodes": nodes,
        "options": [f"randomSeed {SEED + 1}", f"randomCbcSeed {SEED + 1}"]}
    solver = pulp.COIN_CMD(**options)
    if not solver.available():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(**options)
    if not solver.available():
        raise SolverUnavailableError("solver 'cbc' is not available on this machine")
    return solver


def to_pulp(prob: Program) -> tuple[PulpObject, dict[Var, PulpObject], list[PulpObject]]:
    """The program as a PuLP problem: the problem, each variable's PuLP variable, and the PuLP
    constraints in the order of ``prob.rows``. PuLP replaces ``-+[] ->/`` in names by ``_``."""
    import pulp

    lp = pulp.LpProblem(prob.name, pulp.LpMinimize)
    columns = {v: lp.add_variable(v.name, v.lowBound, v.upBound,
                                  cat=pulp.LpInteger if v.integer else pulp.LpContinuous)
               for v in prob.vars}

    def expression(terms: dict[Var, float], constant: float) -> PulpObject:
        return pulp.LpAffineExpression([(columns[v], c) for v, c in terms.items()], constant)

    lp += expression(prob.objective, prob.objective.constant)
    constraints = []
    for row in prob.rows:
        con = pulp.LpConstraint(expression(row.expr, row.constant), row.sense, row.name)
        lp.addConstraint(con)
        constraints.append(con)
    return lp, columns, constraints


def _run_cbc(prob: Program, time_limit: float | None, gap: float, relax: bool,
             start: dict[Var, float] | None, nodes: int | None = None) -> SolveInfo:
    """Solve a PuLP copy of ``prob`` with CBC and copy the values and slacks back."""
    import pulp

    time_limit = _limit(time_limit)
    solver = _cbc(time_limit, gap, relax, bool(start), nodes)
    lp, columns, constraints = to_pulp(prob)
    for var, value in (start or {}).items():
        # a start read back from a solver can sit a rounding error outside a bound, which
        # PuLP refuses (CBC writes 41666.66666667 for a bound of 41666.666666666664)
        if var.upBound is not None:
            value = min(value, var.upBound)
        if var.lowBound is not None:
            value = max(value, var.lowBound)
        columns[var].setInitialValue(value)
    started = time.perf_counter()
    try:
        lp.solve(solver)
    except pulp.PulpSolverError as exc:
        status = SolveStatus.INFEASIBLE if "nfeasible" in str(exc) else SolveStatus.NOT_SOLVED
        return SolveInfo(SolverName.CBC.value, status, time.perf_counter() - started, None)
    seconds = time.perf_counter() - started
    info = _cbc_info(lp, seconds, 0.0 if relax else gap)
    if time_limit is not None and info.status != SolveStatus.OPTIMAL and (
            seconds >= 0.98 * time_limit):
        # CBC through PuLP does not say why it stopped: a search that is not proven and ran
        # out its time was stopped by the time
        _stopped_by_time()
        info = replace(info, time_limited=True)
    for var, column in columns.items():
        var.varValue = column.varValue
    for row, con in zip(prob.rows, constraints):
        # PuLP's CBC reader gives a ">=" row's slack the other sign: measured here instead
        left = row.value()
        row.slack, row.pi = (-left if row.sense == LE else left), con.pi
    return info


def run(prob: Program, name: SolverName | str = SolverName.HIGHS,
        time_limit: float | None = None, gap: float = DEFAULT_MIP_GAP, *, relax: bool = False,
        start: dict[Var, float] | None = None,
        target: float | None = None, presolve: bool = True,
        nodes: int | None = None, root_sub_mips: bool = True) -> SolveInfo:
    """Solve ``prob`` in place (values into its variables, slacks into its rows) and say how
    it went.

    ``relax`` solves the LP relaxation; ``start`` is a feasible assignment to begin from;
    ``target`` stops the search at the first plan whose objective is at least that good
    (HiGHS only: CBC ignores it and stops at the gap). ``gap`` is relative, in the solvers'
    own measure (``gaps.relative_gap``). ``nodes`` bounds a whole-number search by its
    branch-and-bound nodes (``node_budget``); ``time_limit`` by seconds, within the enclosing
    ``safety_net``. ``root_sub_mips``: whether HiGHS runs its root heuristics that search a
    smaller program: RENS (the whole numbers held near the root's values) and the reduced-cost
    one (the columns the root's reduced costs rule out fixed).
    """
    solver_name = SolverName(name)
    if solver_name == SolverName.HIGHS:
        return _session(prob).run(time_limit, gap, relax, start, target, presolve=presolve,
                                  nodes=nodes, root_sub_mips=root_sub_mips)
    return _run_cbc(prob, time_limit, gap, relax, start, nodes)


def search(prob: Program, name: SolverName | str = SolverName.HIGHS,
           time_limit: float | None = None, gap: float = DEFAULT_MIP_GAP, *,
           start: dict[Var, float] | None = None, target: float | None = None,
           nodes: int | None = None) -> SolveInfo:
    """The hourly use of a held fleet solved to ``gap`` from ``start``, bounded by ``nodes``
    (default ``node_budget``); ``time_limit`` is the safety net.

    Committed solves once searched without presolve for 10 nodes first: with the fleet held,
    HiGHS's presolve turned some programs whose root cuts closed the gap at once into tens of
    thousands of nodes. The rows that hold while the fleet is held (``cuts.held_cuts``) close
    those gaps at the root, and the short search then cost more than it saved (the research
    lab's risk samples: 3.7 s for 40 hybrid solves with presolve, 6.4 s with the short search
    first; benchmarks/README.md)."""
    nodes = node_budget(prob) if nodes is None else nodes
    return run(prob, name, time_limit, gap, start=start, target=target, nodes=nodes)


def _session(prob: Program) -> HighsSession:
    """The program's HiGHS session, built on first use, extended when rows were added, and
    built again if the program changed otherwise."""
    try:
        import highspy  # noqa: F401
    except ImportError as exc:
        raise SolverUnavailableError("solver 'highs' is not available on this machine "
                                     "(the highspy package is missing)") from exc
    session = prob.highs
    if not isinstance(session, HighsSession) or session.registered != len(prob.vars):
        session = prob.highs = HighsSession(prob)
    elif len(session.constraints) < len(prob.rows):
        # rows were only added (cuts): append them
        session.add_rows(prob.rows[len(session.constraints):])
    return session


def _highs_info(h: highspy.Highs, seconds: float, relax: bool) -> SolveInfo:
    import highspy

    status = h.getModelStatus()
    info = h.getInfo()
    has_primal = info.primal_solution_status == 2
    ms = highspy.HighsModelStatus
    if status == ms.kOptimal:
        result = SolveStatus.OPTIMAL
    elif status in (ms.kInfeasible,):
        result = SolveStatus.INFEASIBLE
    elif status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
        result = SolveStatus.UNBOUNDED if status == ms.kUnbounded else SolveStatus.INFEASIBLE
    elif has_primal:
        result = SolveStatus.FEASIBLE
    else:
        result = SolveStatus.NOT_SOLVED
    if relax:
        bound = info.objective_function_value if result == SolveStatus.OPTIMAL else None
    else:
        bound = info.mip_dual_bound if math.isfinite(info.mip_dual_bound) else None
    objective = info.objective_function_value if result.has_solution else None
    if objective is None or not math.isfinite(objective):
        return SolveInfo("highs", result, seconds, None, bound)
    return SolveInfo("highs", result, seconds, relative_gap(objective, bound), bound,
                     gap_usd(objective, bound))


def _cbc_info(prob: PulpObject, seconds: float, gap: float) -> SolveInfo:
    import pulp

    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal:
        result = SolveStatus.OPTIMAL
    elif prob.sol_status == pulp.LpSolutionIntegerFeasible:
        result = SolveStatus.FEASIBLE
    elif prob.status == pulp.LpStatusInfeasible:
        result = SolveStatus.INFEASIBLE
    elif prob.status == pulp.LpStatusUnbounded:
        result = SolveStatus.UNBOUNDED
    else:
        result = SolveStatus.NOT_SOLVED
    # CBC through PuLP does not report the gap it reached, nor its bound; an optimal run is
    # within the gap it was asked for (CBC's allowableFractionGap divides by the larger of
    # |incumbent| and |bound|, as SPEC 15 does), so the lowest bound consistent with that is
    # what the run proves
    if result != SolveStatus.OPTIMAL:
        return SolveInfo("cbc", result, seconds, None)
    objective = pulp.value(prob.objective) or 0.0
    bound = least_bound(objective, gap)
    return SolveInfo("cbc", result, seconds, relative_gap(objective, bound), bound,
                     gap_usd(objective, bound))
