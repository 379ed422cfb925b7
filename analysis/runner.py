"""Running a decision analysis's independent solves: in this process, on a local process pool
(one worker per core, each solver single-threaded), or on a Dask distributed cluster, through
the one ``concurrent.futures.Executor`` interface.

``executor("local")`` and ``executor("dask://HOST:PORT")`` give one; ``run`` maps a function over
tasks on it, reports progress, and retries once a task whose worker died (a killed process, a
lost Dask worker), then reports the tasks that still failed. An error the analysis raises on
purpose (bad input) is not retried: it is raised.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from tco.pricing.errors import TcoError

__all__ = ["AnalysisError", "Failed", "Progress", "executor", "run"]

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
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(method)) as pool:
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


def run(fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]], pool: Executor | None = None,
        progress: Progress | None = None) -> list[T | Failed]:
    """``fn(*task)`` for every task, in task order. With no ``pool`` they run here, one after
    the other. A task whose worker dies is run once more (on a new process pool when the pool
    itself broke, as a process pool does when one of its processes is killed); one that fails
    again comes back as :class:`Failed`. An exception a task raises itself is raised."""
    total = len(tasks)
    out: list[Any] = [_NOTHING] * total
    if pool is None:
        for i, task in enumerate(tasks):
            out[i] = fn(*task)
            if progress:
                progress(i + 1, total)
        return out
    done = 0
    pending = list(range(total))
    spare: Executor | None = None        # a replacement pool this run made, shut down after
    try:
        for attempt in range(2):
            futures: dict[Future[T], int] = {}
            try:
                for i in pending:
                    futures[pool.submit(fn, *tasks[i])] = i
            except BrokenProcessPool:
                spare = pool = _replacement(pool)
                futures = {pool.submit(fn, *tasks[i]): i for i in pending}
            retry: list[int] = []
            broke = False
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when="FIRST_COMPLETED")
                for future in finished:
                    i = futures[future]
                    exc = future.exception()
                    if exc is None:
                        out[i] = future.result()
                    elif _died(exc):
                        broke = broke or isinstance(exc, BrokenProcessPool)
                        if attempt == 0:
                            retry.append(i)
                            continue
                        out[i] = Failed(i, f"{type(exc).__name__}: {exc}")
                    else:
                        raise exc
                    done += 1
                    if progress:
                        progress(done, total)
            if not retry:
                break
            if broke:
                spare = pool = _replacement(pool)
            pending = sorted(retry)
    finally:
        if spare is not None:
            spare.shutdown(wait=True)
    return out
