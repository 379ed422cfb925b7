"""Running a decision analysis's independent solves: in this process, on a local process pool
(one worker per core, each solver single-threaded), or on a Dask distributed cluster, through
the one ``concurrent.futures.Executor`` interface.

``executor("local")`` and ``executor("dask://HOST:PORT")`` give one; ``run`` maps a function over
tasks on it, reports progress, and retries once a task whose worker died (a killed process, a
lost Dask worker), then reports the tasks that still failed. An error the analysis raises on
purpose (bad input) is not retried: it is raised. ``flow`` does the same for tasks that lead
to more tasks as they finish (risk prices the narrower scenarios' candidates while the widest
scenario still solves), handing tasks out as workers free up.
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import os
import sys
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from tco.optimizer.processes import process_context
from tco.pricing.errors import TcoError

__all__ = ["AnalysisError", "Failed", "Phases", "Progress", "Task", "executor", "flow", "run",
           "telling_gaps"]

T = TypeVar("T")
Progress = Callable[[int, int], None]       # (tasks done, tasks in all)


class AnalysisError(TcoError):
    """An analysis that cannot run: a bad executor address, a cluster that cannot be reached."""


@dataclass(frozen=True)
class Failed:
    """A task that failed twice: which one (its index, or its key in ``flow``), and why."""

    index: Hashable
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
            # every task is a call of its own (not one Dask may take for another with the
            # same arguments), and its arguments are not hashed to name it
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    raise AnalysisError(f"--executor: expected 'local' or 'dask://HOST:PORT', got '{spec}'")


def _slots(pool: Executor) -> int:
    """How many tasks ``pool`` can run at once: a process pool's processes, a Dask cluster's
    worker threads (as it had them when asked); else no limit."""
    workers = getattr(pool, "_max_workers", None)
    if isinstance(workers, int):
        return max(1, workers)
    client = getattr(pool, "_client", None)
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except OSError:         # a cluster that cannot say: no limit
            return sys.maxsize
    return sys.maxsize


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


@dataclass(frozen=True)
class Task:
    """One piece of work for ``flow``: ``fn(*args)``, known by ``key``."""

    key: Hashable
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    # may take much longer than the others: while it runs, no task waits for a worker
    long: bool = False


def flow(tasks: Iterable[Task], then: Callable[[Task, Any], Iterable[Task]],
         pool: Executor | None = None) -> None:
    """Runs ``tasks``, and each task ``then`` returns when one finishes (``then(task,
    value)``, with the task's result, or :class:`Failed`), until none is left. With no
    ``pool`` they run here, one after the other, in the order given; on a pool, as workers
    are free, and ``then`` is called in this process, for tasks finishing together in the
    order they were handed out.

    A task whose worker dies is run once more (on a new process pool when the pool itself
    broke, as a process pool does when one of its processes is killed). One that dies twice
    is :class:`Failed`; when its pool broke both times it is first run alone, once the pool
    has nothing else to do, to tell the task that kills its worker from those that were beside
    it. An exception a task raises itself is raised."""
    if pool is None:
        queue = deque(tasks)
        while queue:
            task = queue.popleft()
            queue.extend(then(task, task.fn(*task.args)))
        return
    spare: Executor | None = None        # a replacement pool this flow made, shut down after
    current: Executor = pool
    pending: deque[Task] = deque(tasks)
    alone: deque[Task] = deque()         # to run by themselves
    running: dict[Future[Any], tuple[int, Task, Executor]] = {}
    deaths: dict[Hashable, int] = {}
    handed = 0
    # at most one task waits for each worker, so that the next is there when a worker is
    # free (each hand-out is a round trip to the cluster); none while a long task runs, since
    # a pool queues a task on a worker before it knows how long each takes (a Dask
    # scheduler moves a short task queued behind a long one only after a while)
    slots = _slots(pool)

    def fresh(broken: Executor) -> None:
        """A new pool in place of ``broken``, unless it was replaced already."""
        nonlocal spare, current
        if broken is not current:
            return
        if spare is not None:
            spare.shutdown(wait=True)
        spare = current = _replacement(broken)

    def died(task: Task, exc: BaseException, on: Executor) -> None:
        broke = isinstance(exc, BrokenProcessPool)
        if broke:
            fresh(on)
        deaths[task.key] = deaths.get(task.key, 0) + 1
        if deaths[task.key] < 2:
            pending.append(task)
        elif broke:
            alone.append(task)
        else:
            pending.extend(then(task, Failed(task.key, f"its worker died twice "
                                                       f"({type(exc).__name__}: {exc})")))

    try:
        while pending or running or alone:
            while pending and len(running) < (
                    slots if any(t.long for _, t, _ in running.values()) else 2 * slots):
                task = pending.popleft()
                on = current
                try:
                    running[on.submit(task.fn, *task.args)] = (handed, task, on)
                except BrokenProcessPool as exc:
                    # it broke while tasks were still being handed to it
                    died(task, exc, on)
                handed += 1
            if not running:
                if alone:
                    task = alone.popleft()
                    on = current
                    try:
                        value = on.submit(task.fn, *task.args).result()
                    except BrokenProcessPool as exc:
                        value = Failed(task.key, f"{type(exc).__name__}: {exc}")
                        fresh(on)
                    pending.extend(then(task, value))
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: running[f][0]):
                _, task, on = running.pop(future)
                error = future.exception()
                if error is None:
                    pending.extend(then(task, future.result()))
                elif _died(error):
                    died(task, error, on)
                else:
                    raise error
    finally:
        if spare is not None:
            spare.shutdown(wait=True)


def run(fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]], pool: Executor | None = None,
        progress: Progress | None = None) -> list[T | Failed]:
    """``fn(*task)`` for every task, in task order, on ``pool`` or here (``flow``, which
    says what is done about a worker that dies). ``progress`` is told the tasks done."""
    total = len(tasks)
    out: list[Any] = [_NOTHING] * total
    done = 0
    widest: float | None = None
    with_gap = telling_gaps(progress)

    def finish(task: Task, value: Any) -> tuple[Task, ...]:
        nonlocal done, widest
        out[cast(int, task.key)] = value
        done += 1
        if with_gap is not None:
            widest = max([*_gaps(value), *([] if widest is None else [widest])], default=None)
            with_gap(done, total, gap_usd=widest)  # type: ignore[call-arg]
        elif progress:
            progress(done, total)
        return ()

    flow([Task(i, fn, task) for i, task in enumerate(tasks)], finish, pool)
    return out
