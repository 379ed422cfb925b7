"""The solver behind a small interface: PuLP problems in, our own status and timings out.

HiGHS (through highspy) is the default; CBC (bundled with PuLP) is the alternative. Both run
the same optimizer tests.
"""

from __future__ import annotations

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


class _HiGHS(pulp.HiGHS):
    """PuLP's highspy interface, given a starting solution before it runs."""

    def __init__(self, start: dict[pulp.LpVariable, float] | None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start = start

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        if self.start:
            import numpy as np

            known = [(v.index, x) for v, x in self.start.items() if getattr(v, "index", None)
                     is not None]
            idx = np.array([i for i, _ in known], dtype=np.int32)
            val = np.array([x for _, x in known], dtype=np.float64)
            lp.solverModel.setSolution(len(idx), idx, val)
        lp.solverModel.run()


def _solver(name: SolverName, time_limit: float | None, gap: float, relax: bool = False,
            start: dict[pulp.LpVariable, float] | None = None) -> pulp.LpSolver:
    if name == SolverName.HIGHS:
        solver = _HiGHS(start, mip=not relax, msg=False, timeLimit=time_limit, gapRel=gap,
                        threads=1)
    else:
        # CBC from the cbcbox wheel (pulp[cbc]); PuLP's own bundled copy is the fallback
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
        raise SolverUnavailableError(f"solver '{name.value}' is not available on this machine")
    return solver


def run(prob: pulp.LpProblem, name: SolverName | str = SolverName.HIGHS,
        time_limit: float | None = None, gap: float = DEFAULT_MIP_GAP, *, relax: bool = False,
        start: dict[pulp.LpVariable, float] | None = None) -> SolveInfo:
    """Solve ``prob`` in place and say how it went.

    ``relax`` solves the LP relaxation; ``start`` is a feasible assignment to begin from.
    """
    solver_name = SolverName(name)
    solver = _solver(solver_name, time_limit, gap, relax, start)
    started = time.perf_counter()
    try:
        prob.solve(solver)
    except pulp.PulpSolverError as exc:
        return SolveInfo(solver_name.value, SolveStatus.NOT_SOLVED,
                         time.perf_counter() - started, None) if "nfeasible" not in str(exc) else \
            SolveInfo(solver_name.value, SolveStatus.INFEASIBLE, time.perf_counter() - started, None)
    seconds = time.perf_counter() - started
    if solver_name == SolverName.HIGHS:
        return _highs_info(prob, seconds, relax)
    return _cbc_info(prob, seconds)


def _highs_info(prob: pulp.LpProblem, seconds: float, relax: bool = False) -> SolveInfo:
    import highspy

    h = prob.solverModel
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
    gap = info.mip_gap if result.has_solution and prob.isMIP() and not relax else (
        0.0 if result == SolveStatus.OPTIMAL else None)
    if gap is not None and (gap != gap or gap == float("inf")):
        gap = None
    return SolveInfo("highs", result, seconds, gap)


def _cbc_info(prob: pulp.LpProblem, seconds: float) -> SolveInfo:
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
    # CBC through PuLP does not report the final gap; an optimal run is within ``gapRel``.
    return SolveInfo("cbc", result, seconds, 0.0 if result == SolveStatus.OPTIMAL else None)
