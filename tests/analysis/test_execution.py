"""Where an analysis runs: in this process, on a local process pool, or on a Dask cluster the
test starts on loopback. The results are bit-identical whichever runs them; a worker that dies
is replaced and its task run again once, then reported."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from tco.analysis import (
    AnalysisError,
    alternatives,
    breakeven,
    executor,
    montecarlo,
    risk,
    sensitivity,
)
from tco.analysis.evaluate import DEFAULT_GAP, with_gap
from tco.analysis.runner import Failed, Task, _slots, flow, run
from tco.optimizer.scenarios import solve_scenario

from .test_closed_form import CLOUD, UNIFORM, plan

LOOPBACK = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


def _risk(pool):
    res = risk(plan(UNIFORM), CLOUD, samples=24, seed=5, executor=pool)
    return json.dumps(res.to_dict(), sort_keys=True), res.npvs


@pytest.fixture(scope="module")
def in_process():
    return _risk(None)


@pytest.mark.parametrize("workers", [1, 2])
def test_risk_is_the_same_on_a_process_pool(in_process, workers):
    with executor("local", workers) as pool:
        assert _risk(pool) == in_process


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_risk_is_the_same_on_a_dask_cluster(in_process):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        spec = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        with executor(spec) as pool:
            assert _risk(pool) == in_process
            # the other analyses run there too, and agree with a run in this process
            here = sensitivity(plan(), CLOUD, ["electricity"]).to_dict()
            assert sensitivity(plan(), CLOUD, ["electricity"], executor=pool).to_dict() == here
            flips = breakeven(plan(), CLOUD, "cloud_prices", 0.5, 1.5, points=3,
                              executor=pool).to_dict()
            assert flips == breakeven(plan(), CLOUD, "cloud_prices", 0.5, 1.5,
                                      points=3).to_dict()
            near = alternatives(plan(), CLOUD, dims=["cloud_gpu_hours"], directions=1)
            assert alternatives(plan(), CLOUD, dims=["cloud_gpu_hours"], directions=1,
                                executor=pool).to_dict() == near.to_dict()
            # the robust search's programs and the re-optimized NPVs as well
            robust = risk(plan(UNIFORM), CLOUD, samples=4, seed=5, optimize=True,
                          per_program=2).to_dict()
            there = risk(plan(UNIFORM), CLOUD, samples=4, seed=5, optimize=True,
                         per_program=2, executor=pool).to_dict()
            for doc in (robust, there):
                doc["robust"].pop("seconds")
            assert there == robust


def test_progress_counts_every_sample():
    seen = []
    risk(plan(UNIFORM), CLOUD, samples=10, seed=1, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10, 10)
    assert all(t == 10 for _, t in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)


# --- a worker that dies --------------------------------------------------------------------

def _dies_once(marker: str, i: int) -> int:
    """Kills its worker process the first time it runs task 1, succeeds the second time."""
    flag = Path(marker) / f"ran-{i}"
    if i == 1 and not flag.exists():
        flag.write_text("")
        os._exit(1)
    return i * i


def _always_dies(i: int) -> int:
    if i == 2:
        os._exit(1)
    return i


def test_a_task_whose_worker_dies_is_run_again(tmp_path):
    with executor("local", 2) as pool:
        out = run(_dies_once, [(str(tmp_path), i) for i in range(4)], pool)
    assert out == [0, 1, 4, 9]
    assert (tmp_path / "ran-1").exists()


def test_a_task_that_kills_its_worker_twice_is_reported():
    with executor("local", 2) as pool:
        out = run(_always_dies, [(i,) for i in range(4)], pool)
    failed = [x for x in out if isinstance(x, Failed)]
    assert [f.index for f in failed] == [2]
    assert "BrokenProcessPool" in failed[0].reason
    # the tasks that shared the broken pool ran again: all but the culprit came back
    assert [x for x in out if not isinstance(x, Failed)] == [0, 1, 3]


def _raises(i: int) -> int:
    raise ValueError(f"task {i} is wrong")


def test_a_task_that_raises_is_not_retried():
    with executor("local", 1) as pool, pytest.raises(ValueError, match="task 0 is wrong"):
        run(_raises, [(0,)], pool)


def test_an_executor_that_is_not_one():
    with pytest.raises(AnalysisError, match="expected 'local' or 'dask://HOST:PORT'"), \
            executor("threads"):
        pass


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_an_unreachable_dask_scheduler_is_a_clear_error():
    import socket

    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AnalysisError, match=f"cannot reach the Dask scheduler at "
                                            f"tcp://127.0.0.1:{port}"), \
            executor(f"dask://127.0.0.1:{port}"):
        pass


class _Told:
    def __init__(self, gap_usd):
        self.gap_usd = gap_usd


def _task(k):
    # an outcome with a gap, an NPV without one, or a list of them (as a risk chunk)
    return [_Told(10.0 * k), _Told(None)] if k % 2 else _Told(100.0 - k)


def test_progress_is_told_the_widest_gap_of_the_solves_done():
    told = []
    run(_task, [(k,) for k in range(5)], None,
        lambda done, total, gap_usd=None: told.append((done, total, gap_usd)))
    # gaps, in task order: 100, [10, None], 98, [30, None], 96
    assert told == [(1, 5, 100.0), (2, 5, 100.0), (3, 5, 100.0), (4, 5, 100.0), (5, 5, 100.0)]
    told.clear()
    run(_task, [(k,) for k in (1, 3, 0)], None,
        lambda done, total, gap_usd=None: told.append(gap_usd))
    assert told == [10.0, 30.0, 100.0]


def test_phases_count_every_run_out_of_one_total_and_carry_the_widest_gap():
    from tco.analysis.runner import Phases

    told = []
    phases = Phases(lambda done, total, gap_usd=None: told.append((done, total, gap_usd)), 5)
    run(_task, [(1,), (3,)], None, phases.part(0))      # gaps 10, then 30
    run(_task, [(4,), (2,), (9,)], None, phases.part(2))  # 96, 98, 90
    assert told == [(1, 5, 10.0), (2, 5, 30.0), (3, 5, 96.0), (4, 5, 98.0), (5, 5, 98.0)]
    plain = []
    two = Phases(lambda done, total: plain.append((done, total)), 3)
    run(_task, [(0,)], None, two.part(0))
    run(_task, [(1,), (2,)], None, two.part(1))
    assert plain == [(1, 3), (2, 3), (3, 3)]
    assert Phases(None, 3).part(0) is None


def test_a_progress_callback_of_two_arguments_still_works():
    told = []
    run(_task, [(k,) for k in range(3)], None, lambda done, total: told.append((done, total)))
    assert told == [(1, 3), (2, 3), (3, 3)]


def test_an_analysis_on_a_pool_and_on_a_busy_process_gives_the_same_json(monkeypatch):
    # small node budgets and a gap of 0, so that the committed solves stop at their budgets
    # (where a wall-clock share would stop them wherever the machine's load left them); the
    # rows that hold while the fleet is held close these samples at the root, so they are left
    # out here to keep searches that need their budgets
    from tco.optimizer import load_plan
    from tco.optimizer import scenarios as scenarios_module
    from tco.optimizer import solver as solver_module
    from tco.pricing import load_catalog

    from ..optimizer.test_budgets import _busy

    monkeypatch.setattr(scenarios_module, "add_held_cuts", lambda model: [])
    monkeypatch.setattr(solver_module, "NODE_WORK", 100_000)
    monkeypatch.setattr(solver_module, "MIN_NODES", 2)
    lab = load_plan(Path(__file__).resolve().parents[2] / "examples" / "research-lab.toml")
    catalog = load_catalog(offline=True)

    def once(pool):
        return risk(lab, catalog, samples=3, seed=1, executor=pool, gap=0.0).to_dict()
    with executor("local", 2) as pool:
        on_pool = once(pool)
    with _busy():
        here = once(None)
    assert json.dumps(here, sort_keys=True) == json.dumps(on_pool, sort_keys=True)
    assert here["stopped_by_time_limit"] == 0
    gaps = [g for row in here["samples_drawn"] for g in row["gap_usd"].values() if g]
    assert gaps          # some committed solve stopped at its budget, short of a gap of 0


# --- tasks that lead to more tasks ----------------------------------------------------------

def _square(k: int) -> int:
    return k * k


def _square_or_die(k: int) -> int:
    if k == 9:
        os._exit(1)
    return k * k


def _follow_ups(fn):
    """``flow``'s ``then``: every value seen, and a task squaring the value of each root."""
    seen = []

    def then(task, value):
        seen.append((task.key, value))
        return [Task(("after", task.key), fn, (value,))] if task.key != "after" and \
            not isinstance(task.key, tuple) else []
    return seen, then


@pytest.mark.parametrize("workers", [None, 2])
def test_flow_runs_the_tasks_each_task_leads_to(workers):
    seen, then = _follow_ups(_square)
    tasks = [Task(k, _square, (k,)) for k in (1, 2, 3)]
    if workers is None:
        flow(tasks, then)
        # here, in the order handed out: the roots, then what they led to
        assert seen == [(1, 1), (2, 4), (3, 9), (("after", 1), 1), (("after", 2), 16),
                        (("after", 3), 81)]
    else:
        with executor("local", workers) as pool:
            flow(tasks, then, pool)
        assert sorted(seen, key=str) == sorted([(1, 1), (2, 4), (3, 9), (("after", 1), 1),
                                                (("after", 2), 16), (("after", 3), 81)],
                                               key=str)


def test_a_task_a_task_led_to_that_kills_its_worker_twice_reaches_then_as_failed():
    seen, then = _follow_ups(_square_or_die)
    with executor("local", 2) as pool:
        flow([Task(k, _square, (k,)) for k in (2, 3)], then, pool)
    values = dict(seen)
    assert values[2] == 4 and values[3] == 9 and values[("after", 2)] == 16
    failed = values[("after", 3)]
    assert isinstance(failed, Failed) and failed.index == ("after", 3)
    assert "BrokenProcessPool" in failed.reason


def _waits_for(marker: str, k: int) -> str:
    """Task 0 waits until ``marker`` exists (written by a task that another task leads to);
    a flow that handed out follow-ups only once every task was done would never write it."""
    if k == 0:
        deadline = time.monotonic() + 120
        while not Path(marker).exists():
            assert time.monotonic() < deadline, "the follow-up never ran beside task 0"
            time.sleep(0.01)
        return "saw it"
    return "done"


def _writes(marker: str) -> str:
    Path(marker).write_text("")
    return "wrote"


def test_a_follow_up_runs_while_a_long_task_is_still_running(tmp_path):
    marker = str(tmp_path / "marker")
    seen = {}

    def then(task, value):
        seen[task.key] = value
        return [Task("write", _writes, (marker,))] if task.key == 1 else []
    with executor("local", 2) as pool:
        flow([Task(k, _waits_for, (marker, k)) for k in (0, 1)], then, pool)
    assert seen == {0: "saw it", 1: "done", "write": "wrote"}


def test_a_pool_is_handed_no_more_tasks_than_it_has_workers():
    with executor("local", 3) as pool:
        assert _slots(pool) == 3


# --- risk: the narrower candidates priced while the widest scenario solves ------------------

def _widest_waits(marker: str, plan, catalog, scenario, *args):
    """``solve_scenario``, which for the widest scenario first waits until a narrower
    candidate has been priced (``_prices_and_marks`` writes ``marker``)."""
    if scenario.name == "hybrid":
        deadline = time.monotonic() + 120
        while not Path(marker).exists():
            assert time.monotonic() < deadline, "no narrower candidate was priced meanwhile"
            time.sleep(0.01)
    return solve_scenario(plan, catalog, scenario, *args)


_CHUNK = montecarlo._chunk


def _prices_and_marks(marker: str, plan, catalog, program, *args):
    out = _CHUNK(plan, catalog, program, *args)
    if program == "onprem-only":
        Path(marker).write_text("")
    return out


def test_risk_prices_narrower_candidates_while_the_widest_solves(tmp_path, monkeypatch,
                                                                  in_process):
    # onprem-only's candidate is priced while hybrid waits; hybrid's plan then turns out to
    # have the same decisions (the server), so the candidate becomes hybrid's, priced in its
    # own program: the result is the one solved in this process, where nothing was priced
    # before every scenario was solved
    marker = str(tmp_path / "priced")
    monkeypatch.setattr(montecarlo, "solve_scenario", partial(_widest_waits, marker))
    monkeypatch.setattr(montecarlo, "_chunk", partial(_prices_and_marks, marker))
    with executor("local", 2) as pool:
        here = _risk(pool)
    assert Path(marker).exists()
    assert here == in_process
    names = {c["scenario"]: c["same_as"] for c in json.loads(here[0])["candidates"]}
    assert names == {"hybrid": ["onprem-only"], "cloud-only": ["aws-only"]}


def test_risk_finds_the_candidates_and_base_that_a_solve_of_every_scenario_gives():
    p = with_gap(plan(UNIFORM).plan, DEFAULT_GAP)
    chosen, base = montecarlo.candidates(p, CLOUD)
    size = montecarlo.chunk_size(24)
    chunks = [list(range(k, min(k + size, 24))) for k in range(0, 24, size)]
    with executor("local", 2) as pool:
        found, found_base, priced = montecarlo._solved_and_priced(p, CLOUD, 5, chunks, pool,
                                                                  None, None, None)
    assert found == chosen and found_base == base
    for c in chosen:
        for k, indices in enumerate(chunks):
            assert priced[(c.scenario, c.decisions, k)] == montecarlo._chunk(
                p, CLOUD, c.scenario, c.decisions, 5, indices, None, None)


class _Counting(ThreadPoolExecutor):
    """A pool of two threads that records, at each hand-out, how many tasks it holds, and
    opens ``crowded`` once it holds three."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.held: list[int] = []
        self.out: set[Future] = set()
        self.crowded = threading.Event()

    def submit(self, fn, /, *args, **kwargs):
        self.out = {f for f in self.out if not f.done()}
        future = super().submit(fn, *args, **kwargs)
        self.out.add(future)
        self.held.append(len(self.out))
        if len(self.out) >= 3:
            self.crowded.set()
        return future


def _named(name: str, wait: threading.Event | None = None) -> str:
    if wait is not None:
        assert wait.wait(60), f"{name} waited in vain"
    return name


def test_no_task_waits_for_a_worker_while_a_long_one_runs():
    release = threading.Event()
    done = []

    def then(task, value):
        done.append(value)
        if len(done) == 6:
            release.set()     # the long task ends after six short ones
        return []
    with _Counting() as pool:
        # the short ones after the sixth end only once the pool holds three tasks: one
        # waiting behind each busy worker, which is allowed once the long one is done
        tasks = [Task("long", _named, ("long", release), long=True),
                 *(Task(k, _named, (f"short{k}", pool.crowded if k >= 6 else None))
                   for k in range(10))]
        flow(tasks, then, pool)
    assert sorted(done) == sorted(["long", *(f"short{k}" for k in range(10))])
    # while the long one ran (it and the first seven short ones handed out), each short one
    # was handed out only as the one before it ended
    assert max(pool.held[:8]) <= 2
    assert max(pool.held) <= 4
