"""The solver behind a small interface: PuLP problems in, our own status and timings out.

HiGHS (through highspy) is the default; CBC (bundled with PuLP) is the alternative. Both run
the same optimizer tests.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from enum import StrEnum

import pulp

from tco.pricing.errors import TcoError

DEFAULT_MIP_GAP = 0.01


class SolverName(StrEnum):
    HIGHS = "highs"
    CBC = "cbc"


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"        # stopped at the time limit with a solution
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NOT_SOLVED = "not_solved"    # stopped without a solution, or the solver failed

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


@dataclass(frozen=True)
class SolveInfo:
    solver: str
    status: SolveStatus
    seconds: float
    mip_gap: float | None

    def to_dict(self) -> dict[str, object]:
        return {"name": self.solver, "status": self.status.value, "seconds": round(self.seconds, 3),
                "mip_gap": self.mip_gap}


class SolverUnavailableError(TcoError):
    """The chosen solver is not installed."""


def _quiet_highs() -> object:
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
    basis. Bounds and categories are read from the PuLP variables before every run, so
    callers change them on the variables exactly as they would for any other solver.
    """

    def __init__(self, prob: pulp.LpProblem) -> None:
        import highspy
        import numpy as np

        # columns in order of first appearance (objective, then rows), found while the rows
        # are read: ``prob.variables()`` would scan every row again and sort by name
        self.vars: list[pulp.LpVariable] = []
        self.index: dict[int, int] = {}
        sense = -1.0 if prob.sense == pulp.LpMaximize else 1.0
        objective = [(self._column(var), sense * coef) for var, coef in prob.objective.items()]
        self.constraints = constraints_of(prob)
        starts, rows_idx, rows_val, lower, upper = self._rows(self.constraints)
        n = len(self.vars)
        cost = np.zeros(n)
        for j, coef in objective:
            cost[j] += coef
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = len(lower)
        lp.col_cost_ = cost
        lp.offset_ = sense * (prob.objective.constant or 0.0)
        lp.col_lower_, lp.col_upper_ = self._bounds()
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = rows_idx
        lp.a_matrix_.value_ = rows_val
        self.highs = _quiet_highs()
        self.highs.passModel(lp)
        self.sense = sense
        self.registered = prob.numVariables()

    def _column(self, var: pulp.LpVariable) -> int:
        j = self.index.get(id(var))
        if j is None:
            j = self.index[id(var)] = len(self.vars)
            self.vars.append(var)
        return j

    def _rows(self, constraints: list[pulp.LpConstraint]) -> tuple[object, ...]:
        """Row starts, column indices, values, lower and upper bounds (CSR, by row)."""
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        starts, index, value, lower, upper = [0], [], [], [], []
        column, known = self._column, self.index
        for con in constraints:
            for var, coef in con.items():
                if coef:
                    j = known.get(id(var))
                    index.append(column(var) if j is None else j)
                    value.append(coef)
            starts.append(len(index))
            lb, ub = con.getLb(), con.getUb()
            lower.append(-inf if lb is None else lb)
            upper.append(inf if ub is None else ub)
        return (np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                np.array(value, dtype=np.float64), np.array(lower, dtype=np.float64),
                np.array(upper, dtype=np.float64))

    def add_rows(self, constraints: list[pulp.LpConstraint]) -> None:
        """Append constraints added to the problem since the session was made; the basis and
        everything else stay."""
        starts, index, value, lower, upper = self._rows(constraints)
        self.highs.addRows(len(constraints), lower, upper, len(index), starts[:-1], index, value)
        self.constraints.extend(constraints)

    def _bounds(self) -> tuple[object, object]:
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        lower = np.array([-inf if v.lowBound is None else v.lowBound for v in self.vars],
                         dtype=np.float64)
        upper = np.array([inf if v.upBound is None else v.upBound for v in self.vars],
                         dtype=np.float64)
        return lower, upper

    def run(self, time_limit: float | None, gap: float, relax: bool,
            start: dict[pulp.LpVariable, float] | None, target: float | None = None,
            msg: bool = False) -> SolveInfo:
        import highspy
        import numpy as np

        h = self.highs
        n = len(self.vars)
        every = np.arange(n, dtype=np.int32)
        lower, upper = self._bounds()
        h.changeColsBounds(n, every, lower, upper)
        integer = np.array([v.cat == pulp.LpInteger for v in self.vars], dtype=bool)
        kinds = np.where(integer & (not relax), highspy.HighsVarType.kInteger.value,
                         highspy.HighsVarType.kContinuous.value).astype(np.uint8)
        h.changeColsIntegrality(n, every, kinds)
        h.setOptionValue("output_flag", msg)
        h.setOptionValue("threads", 1)
        # relaxations of these programs solve about twice as fast without presolve
        h.setOptionValue("presolve", "off" if relax else "choose")
        h.setOptionValue("mip_rel_gap", gap)
        h.setOptionValue("time_limit", float("inf") if time_limit is None else float(time_limit))
        h.setOptionValue("objective_target", -highspy.kHighsInf if target is None or relax
                         else self.sense * target)
        if start and not relax:
            known = [(self.index[id(v)], x) for v, x in start.items() if id(v) in self.index]
            h.setSolution(len(known), np.array([i for i, _ in known], dtype=np.int32),
                          np.array([x for _, x in known], dtype=np.float64))
        started = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - started
        info = _highs_info(h, seconds, relax or not integer.any())
        if info.status.has_solution:
            solution = h.getSolution()
            for var, value in zip(self.vars, solution.col_value):
                var.varValue = value
            # slacks as PuLP reports them: how far each constraint is from binding
            for con, activity, dual in zip(self.constraints, solution.row_value, solution.row_dual):
                slack = con.constant + activity
                con.slack = -slack if con.sense == pulp.LpConstraintLE else slack
                con.pi = dual
        return info


def _cbc(time_limit: float | None, gap: float, relax: bool = False,
         start: dict[pulp.LpVariable, float] | None = None) -> pulp.LpSolver:
    """CBC from the cbcbox wheel (pulp[cbc]); PuLP's own bundled copy is the fallback."""
    if start:
        for var, value in start.items():
            var.setInitialValue(value)
    solver = pulp.COIN_CMD(mip=not relax, msg=False, timeLimit=time_limit, gapRel=gap,
                           warmStart=bool(start))
    if not solver.available():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(mip=not relax, msg=False, timeLimit=time_limit,
                                       gapRel=gap, warmStart=bool(start))
    if not solver.available():
        raise SolverUnavailableError("solver 'cbc' is not available on this machine")
    return solver


def run(prob: pulp.LpProblem, name: SolverName | str = SolverName.HIGHS,
        time_limit: float | None = None, gap: float = DEFAULT_MIP_GAP, *, relax: bool = False,
        start: dict[pulp.LpVariable, float] | None = None,
        target: float | None = None) -> SolveInfo:
    """Solve ``prob`` in place and say how it went.

    ``relax`` solves the LP relaxation; ``start`` is a feasible assignment to begin from;
    ``target`` stops the search at the first plan whose objective is at least that good
    (HiGHS only: CBC ignores it and stops at the gap).
    """
    solver_name = SolverName(name)
    if solver_name == SolverName.HIGHS:
        return _session(prob).run(time_limit, gap, relax, start, target)
    solver = _cbc(time_limit, gap, relax, start)
    started = time.perf_counter()
    try:
        prob.solve(solver)
    except pulp.PulpSolverError as exc:
        return SolveInfo(solver_name.value, SolveStatus.NOT_SOLVED,
                         time.perf_counter() - started, None) if "nfeasible" not in str(exc) else \
            SolveInfo(solver_name.value, SolveStatus.INFEASIBLE, time.perf_counter() - started, None)
    return _cbc_info(prob, time.perf_counter() - started, 0.0 if relax else gap)


def constraints_of(prob: pulp.LpProblem) -> list[pulp.LpConstraint]:
    """The problem's constraints in order (PuLP 3.3 deprecates reading them as a mapping)."""
    cons = prob.constraints
    return list(cons() if callable(cons) else cons.values())


def _session(prob: pulp.LpProblem) -> HighsSession:
    """The problem's HiGHS session, built on first use, extended when constraints were added,
    and built again if the problem changed otherwise."""
    try:
        import highspy  # noqa: F401
    except ImportError as exc:
        raise SolverUnavailableError("solver 'highs' is not available on this machine "
                                     "(the highspy package is missing)") from exc
    session: HighsSession | None = getattr(prob, "_tco_highs", None)
    if (session is not None and session.registered == prob.numVariables()
            and len(session.constraints) < prob.numConstraints()):
        # constraints were only added (cuts): append them
        session.add_rows(constraints_of(prob)[len(session.constraints):])
    if (session is None or session.registered != prob.numVariables()
            or len(session.constraints) != prob.numConstraints()):
        session = HighsSession(prob)
        prob._tco_highs = session  # type: ignore[attr-defined]
    return session


def variables_of(prob: pulp.LpProblem) -> list[pulp.LpVariable]:
    """The variables of ``prob``: the columns of its HiGHS session when it has one (already
    known, in the session's order), otherwise PuLP's list (which scans every constraint)."""
    session: HighsSession | None = getattr(prob, "_tco_highs", None)
    return session.vars if session is not None else prob.variables()


def _highs_info(h: object, seconds: float, relax: bool) -> SolveInfo:
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
    gap = info.mip_gap if result.has_solution and not relax else (
        0.0 if result == SolveStatus.OPTIMAL else None)
    if gap is not None and not math.isfinite(gap):
        gap = None
    return SolveInfo("highs", result, seconds, gap)


def _cbc_info(prob: pulp.LpProblem, seconds: float, gap: float) -> SolveInfo:
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
    # CBC through PuLP does not report the gap it reached; an optimal run is within the
    # requested ``gapRel``, so that is the gap reported (at most that far from the optimum)
    return SolveInfo("cbc", result, seconds, gap if result == SolveStatus.OPTIMAL else None)
