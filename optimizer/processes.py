"""Worker processes for solves run side by side.

Where the platform can fork (Linux), workers are forked: they start with every module already
imported, and a script that starts them needs no ``if __name__ == "__main__":`` guard (a
fork server or spawned workers import the script's main module again). Forking a process
that has already solved is safe here because every solve runs HiGHS on one thread
(``solver.py``): the parent holds no solver threads whose locks a forked copy could inherit
half-made. Elsewhere (Windows, macOS) workers are spawned.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import BaseContext

__all__ = ["process_context"]


def process_context() -> BaseContext:
    """The start method for solver worker processes."""
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
