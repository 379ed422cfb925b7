"""Progress on the terminal, and only there: a status line for a ``tco compare`` that takes
more than two seconds, and the analyses' bar with the widest gap of the solves done.

Nothing here is written to a file or to standard output: a report is the same whether or not
anyone watched it being made.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status

__all__ = ["AnalysisBar", "CompareStatus"]

# a compare quicker than this shows nothing
QUIET_SECONDS = 2.0


class CompareStatus:
    """``tco compare``'s status line: which scenarios are solving, how the search under way
    is going (its best plan and the solver's gap), and the scenarios solved so far with their
    gaps. It appears once the compare has taken ``QUIET_SECONDS``; events before then are
    kept, not shown. Used as the ``progress`` callback of ``tco.optimizer.solve``."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.solving = "solving"
        self.search = ""
        self.solved: list[str] = []
        self.status: Status | None = None
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def __enter__(self) -> Self:
        if self.enabled:
            self.timer = threading.Timer(QUIET_SECONDS, self._show)
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        with self.lock:
            if self.status is not None:
                self.status.stop()
                self.status = None
            self.enabled = False

    def __call__(self, event: str, what: str) -> None:
        with self.lock:
            if event == "solved":
                self.solved.append(what)
                self.search = ""
            elif event == "searching":
                self.search = what
            else:
                self.solving = f"{event} {what}"
            if self.status is not None:
                self.status.update(self.line())

    def line(self) -> str:
        parts = [f"{self.solving}..."]
        if self.search:
            parts.append(self.search)
        if self.solved:
            parts.append(f"solved: {', '.join(self.solved)}")
        return " | ".join(parts)

    def _show(self) -> None:
        with self.lock:
            if self.enabled and self.status is None:
                self.status = self.console.status(self.line(), spinner="dots")
                self.status.start()


class AnalysisBar:
    """The analyses' bar: solves done out of the total, the time taken, and the widest gap of
    the solves done so far (how far any NPV reported may be from its best plan). Used as the
    ``progress`` callback of the analyses, which pass ``gap_usd``."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.description}"), console=console,
                            transient=True, disable=not console.is_terminal)
        self.task = self.bar.add_task("", total=None)

    def __enter__(self) -> Self:
        self.bar.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bar.__exit__(kind, exc, tb)

    def __call__(self, done: int, total: int, gap_usd: float | None = None) -> None:
        note = "" if gap_usd is None else f"widest gap so far ${gap_usd:,.0f}"
        self.bar.update(self.task, completed=done, total=total, description=note)
