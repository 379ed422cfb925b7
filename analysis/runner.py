"""Running a decision analysis's independent solves: in this process, on a local process pool
(one worker per core, each solver single-threaded), or on a Dask distributed cluster, through
the one ``concurrent.futures.Executor`` interface.

``executor("local")`` and ``executor("dask://HOST:PORT")`` give one; ``run`` maps a function over
tasks on it, reports progress, and retries once a task whose worker died (a killed process, a
lost Dask worker), then reports the tasks that still failed. An error the analysis raises on
purpose (bad input) is not retried: it is raised.
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tco.optimizer.processes import process_context
from tco.pricing.errors import TcoError

__all__ = ["AnalysisError", "Failed", "Phases", "Progress", "executor", "run",
           "telling_gaps"]

T = TypeVar("T")
Progress = Callable[[int, int], None]       # (tasks done, tasks in all)


class AnalysisError(TcoError):
    """An analysis that cannot run: a bad executor address, a cluster that cannot be reached."""


@dataclass(frozen=True)
class Failed:
    """A task that failed twice: which one, and why."""

    index: int
    reason: str


@contextmanager
def executor(spec: str = "local", workers: int | None = None) -> Iterator[Executor]:
    """An executor for ``spec``: ``local`` (a process pool, ``workers`` processes, one per core
    by default) or ``dask://HOST:PORT`` (a running Dask scheduler's workers)."""
    if spec == "local":
        jobs = max(1, workers or os.cpu_count() or 1)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=process_context()) as pool:
            yield pool
        return
    if spec.startswith("dask://"):
        try:
            from distributed import Client
        except ImportError as exc:
            raise AnalysisError("--executor dask://... needs the 'distributed' package") from exc
        address = "tcp://" + spec[len("dask://"):]
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise AnalysisError(f"cannot reach the Dask scheduler at {address} ({exc})") from exc
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    raise AnalysisError(f"--executor: expected 'local' or 'dask://HOST:PORT', got '{spec}'")


def _died(exc: BaseException) -> bool:
    """Whether a task's failure is its worker's (a process gone), not the task's own."""
    if isinstance(exc, BrokenProcessPool):
        return True
    name = type(exc).__name__
    return name in ("KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError")


_NOTHING: Any = object()


def _replacement(pool: Executor) -> Executor:
    """A new process pool like ``pool``, which broke when one of its processes died."""
    workers = getattr(pool, "_max_workers", None) or os.cpu_count() or 1
    context = getattr(pool, "_mp_context", None) or mp.get_context()
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _as_completed(futures: dict[Future[Any], int]) -> Iterator[Future[Any]]:
    remaining = set(futures)
    while remaining:
        finished, remaining = wait(remaining, return_when="FIRST_COMPLETED")
        yield from sorted(finished, key=futures.__getitem__)


def _pass(fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], indices: Sequence[int],
          pool: Executor, finish: Callable[[int, Any], None], reasons: dict[int, str],
          ) -> tuple[list[int], bool]:
    """The tasks ``indices`` submitted to ``pool`` at once: those that finish are passed to
    ``finish``; returns those whose worker died (why, in ``reasons``), and whether the pool
    itself broke."""
    futures: dict[Future[Any], int] = {}
    try:
        for i in indices:
            futures[pool.submit(fn, *tasks[i])] = i
    except BrokenProcessPool:
        # it broke while tasks were still being handed to it
        unsent = [i for i in indices if i not in futures.values()]
        return sorted([*unsent, *futures.values()]), True
    died: list[int] = []
    broke = False
    for future in _as_completed(futures):
        i = futures[future]
        exc = future.exception()
        if exc is None:
            finish(i, future.result())
        elif _died(exc):
            broke = broke or isinstance(exc, BrokenProcessPool)
            died.append(i)
            reasons[i] = f"{type(exc).__name__}: {exc}"
        else:
            raise exc
    return sorted(died), broke


def _gaps(value: Any) -> Iterator[float]:
    """Every known ``gap_usd`` in a task's result (an outcome, an NPV, or lists of them)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _gaps(item)
        return
    gap = getattr(value, "gap_usd", None)
    if isinstance(gap, (int, float)):
        yield float(gap)


def stopped_by_time(*values: Any) -> int:
    """How many of the solves in tasks' results (outcomes, NPVs, or lists of them) were
    stopped by the wall-clock safety net rather than by their work budgets."""
    count = 0
    for value in values:
        if isinstance(value, (list, tuple)):
            count += stopped_by_time(*value)
        elif getattr(value, "time_limited", False) is True:
            count += 1
    return count


def telling_gaps(progress: Progress | None) -> Progress | None:
    """``progress`` as ``run`` calls it: ``(done, total)``, and also the widest gap of the
    solves done so far (``gap_usd=``) when the callback takes that keyword."""
    if progress is None:
        return None
    try:
        takes_gap = "gap_usd" in inspect.signature(progress).parameters
    except (TypeError, ValueError):
        takes_gap = False
    return progress if takes_gap else None


class Phases:
    """One progress over several ``run`` calls, ``total`` tasks in all: ``part(before)`` is
    the callback for a run that follows ``before`` tasks, and the widest gap told carries
    over from one run to the next."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.told = telling_gaps(progress)
        self.total = total
        self.widest: float | None = None

    def part(self, before: int) -> Progress | None:
        if self.progress is None:
            return None
        plain = self.progress
        if self.told is None:
            return lambda done, _: plain(before + done, self.total)
        told = self.told

        def with_gap(done: int, _: int, gap_usd: float | None = None) -> None:
            if gap_usd is not None:
                self.widest = gap_usd if self.widest is None else max(self.widest, gap_usd)
            told(before + done, self.total, gap_usd=self.widest)  # type: ignore[call-arg]
        return with_gap


def run(fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]], pool: Executor | None = None,
        progress: Progress | None = None) -> list[T | Failed]:
    """``fn(*task)`` for every task, in task order. With no ``pool`` they run here, one after
    the other. A task whose worker dies is run once more (on a new process pool when the pool
    itself broke, as a process pool does when one of its processes is killed); one that fails
    again comes back as :class:`Failed` (when a process pool breaks again, its tasks are run
    one at a time to tell the one that kills its worker from those that were beside it). An
    exception a task raises itself is raised."""
    total = len(tasks)
    out: list[Any] = [_NOTHING] * total
    done = 0
    widest: float | None = None
    with_gap = telling_gaps(progress)

    def finish(i: int, value: Any) -> None:
        nonlocal done, widest
        out[i] = value
        done += 1
        if with_gap is not None:
            widest = max([*_gaps(value), *([] if widest is None else [widest])], default=None)
            with_gap(done, total, gap_usd=widest)  # type: ignore[call-arg]
        elif progress:
            progress(done, total)

    if pool is None:
        for i, task in enumerate(tasks):
            finish(i, fn(*task))
        return out

    spare: Executor | None = None        # a replacement pool this run made, shut down after

    def fresh(old: Executor) -> Executor:
        nonlocal spare
        if spare is not None:
            spare.shutdown(wait=True)
        spare = _replacement(old)
        return spare

    try:
        reasons: dict[int, str] = {}
        died, broke = _pass(fn, tasks, range(total), pool, finish, reasons)
        if not died:
            return out
        if broke:
            pool = fresh(pool)
        died, broke = _pass(fn, tasks, died, pool, finish, reasons)
        if broke:
            # a process pool breaks as a whole, failing every task it held, the one that
            # killed it among them: each is run alone to tell which
            pool = fresh(pool)
            for i in died:
                try:
                    finish(i, pool.submit(fn, *tasks[i]).result())
                except BrokenProcessPool as exc:
                    finish(i, Failed(i, f"{type(exc).__name__}: {exc}"))
                    pool = fresh(pool)
        else:
            for i in died:
                finish(i, Failed(i, f"its worker died twice ({reasons[i]})"))
    finally:
        if spare is not None:
            spare.shutdown(wait=True)
    return out
