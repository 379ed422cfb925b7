"""Worker processes for solves run side by side.

They are started from a clean server process (``forkserver``), not forked from the process
that asks for them: once a solver has run in a process it holds threads and locks that a
forked copy inherits half-made, and HiGHS in such a copy can spin forever. The server imports
the modules named once, so each worker starts in milliseconds rather than importing the solver
again; where there is no fork server (Windows, macOS before it), workers are spawned.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from multiprocessing.context import BaseContext

__all__ = ["process_context"]


def process_context(preload: Sequence[str] = ("tco.optimizer.scenarios",)) -> BaseContext:
    """The start method for solver worker processes, ``preload`` imported by their server."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return mp.get_context("spawn")
