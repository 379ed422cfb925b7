"""Where an analysis runs: in this process, on a local process pool, or on a Dask cluster the
test starts on loopback. The results are bit-identical whichever runs them; a worker that dies
is replaced and its task run again once, then reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tco.analysis import AnalysisError, alternatives, breakeven, executor, risk, sensitivity
from tco.analysis.runner import Failed, run

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
