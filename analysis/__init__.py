"""What could change (SPEC 12): sensitivity, break-even and risk, each a map of independent
solves run on a ``concurrent.futures.Executor`` (a local process pool, or a Dask cluster).

``swing.py`` holds ``sensitivity``, ``flips.py`` ``breakeven``, ``montecarlo.py`` ``risk`` and
``near_optimal.py`` ``alternatives`` (SPEC 19; a module named after no function, so that
importing it never hides one);
``levers.py`` what they vary, ``evaluate.py`` the solves, ``runner.py`` where they run. Names
are imported on first use, so that the CLI can list the choices without loading the solver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .criteria import Criterion
    from .flips import BreakevenResult, breakeven
    from .levers import Lever, LeverError, lever, plan_levers
    from .montecarlo import RiskResult, risk
    from .near_optimal import AlternativesResult, alternatives
    from .runner import AnalysisError, executor
    from .swing import SensitivityResult, sensitivity

_WHERE = {
    "AlternativesResult": "near_optimal", "alternatives": "near_optimal",
    "AnalysisError": "runner", "BreakevenResult": "flips", "Criterion": "criteria",
    "Lever": "levers", "LeverError": "levers", "RiskResult": "montecarlo",
    "SensitivityResult": "swing", "breakeven": "flips", "executor": "runner",
    "lever": "levers", "plan_levers": "levers", "risk": "montecarlo", "sensitivity": "swing",
}

__all__ = [
    "AlternativesResult", "AnalysisError", "BreakevenResult", "Criterion", "Lever", "LeverError",
    "RiskResult", "SensitivityResult", "alternatives", "breakeven", "executor", "lever",
    "plan_levers", "risk", "sensitivity",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
