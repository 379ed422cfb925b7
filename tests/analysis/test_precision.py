"""SPEC 16: the analyses report only what their solves can tell apart. Two NPVs differ only
by more than the sum of their gaps in dollars; a decision change or a flip needs proven solves
on both sides; an unproven base exits 4.

The rules are checked on outcomes whose NPVs and gaps are set by hand (the solves replaced by
functions of the lever's value), so that each case is exactly on one side of its line."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tco.analysis import evaluate, flips
from tco.analysis.evaluate import Outcome
from tco.analysis.flips import breakeven
from tco.analysis.swing import _best
from tco.cli.main import main
from tco.optimizer.gaps import Npv
from tco.optimizer.result import Decisions

from .test_closed_form import CLOUD, plan
from .test_commands import files  # noqa: F401  (a fixture)

SERVER = ("hybrid", (("box", 1),), ())
CLOUDY = ("cloud-only", (), ())
SERVER_DECISIONS = Decisions(orders=((("dc", "box", 0), 1),))
CLOUD_DECISIONS = Decisions()


def outcome(signature, npv, gap, proven=True, unproven=False):
    decisions = SERVER_DECISIONS if signature == SERVER else CLOUD_DECISIONS
    return Outcome({}, npv, signature[0], signature, decisions, unproven, gap, proven)


# --- sensitivity ---------------------------------------------------------------------------


BASE = outcome(SERVER, 100_000.0, 100.0)


def test_a_cheaper_plan_beyond_both_gaps_is_a_decision_change():
    # re-optimized: the cloud at $99,000 +- $50; the base decisions held: $100,000 +- $100.
    # They differ by $1,000, more than $150: the decisions change
    side = _best((outcome(CLOUDY, 99_000.0, 50.0), Npv(100_000.0, 100.0)), BASE, 0.001)
    assert side.changes and side.tie_usd is None and side.recommended == "cloud-only"
    assert side.npv == Npv(99_000.0, 50.0)


def test_a_cheaper_plan_within_the_gaps_is_a_tie_not_a_change():
    # $99,900 +- $50 against $100,000 +- $100: $100 apart, within $150. The solver's other
    # decisions are noise at this precision: a tie within +-$150
    side = _best((outcome(CLOUDY, 99_900.0, 50.0), Npv(100_000.0, 100.0)), BASE, 0.001)
    assert not side.changes
    assert side.tie_usd == pytest.approx(150.0)
    # exactly at the sum of the gaps it is still a tie; a cent beyond it, a change
    at = _best((outcome(CLOUDY, 99_850.0, 50.0), Npv(100_000.0, 100.0)), BASE, 0.001)
    beyond = _best((outcome(CLOUDY, 99_849.99, 50.0), Npv(100_000.0, 100.0)), BASE, 0.001)
    assert not at.changes and beyond.changes


def test_an_unproven_side_reports_no_change():
    # far apart, but the re-optimized solve is not proven within the analysis's gap
    side = _best((outcome(CLOUDY, 90_000.0, 5_000.0, proven=False), Npv(100_000.0, 100.0)),
                 BASE, 0.001)
    assert not side.changes and side.unproven_change
    # nor when the committed NPV is the unproven one: $400 on $100,000 is 0.4% > 0.1%;
    # $10,000 apart is more than both gaps, which the row says without calling it a change
    side = _best((outcome(CLOUDY, 90_000.0, 50.0), Npv(100_000.0, 400.0)), BASE, 0.001)
    assert not side.changes and side.unproven_change
    # unproven and within the gaps: a tie, not an unproven change
    side = _best((outcome(CLOUDY, 99_700.0, 50.0), Npv(100_000.0, 400.0)), BASE, 0.001)
    assert not side.changes and not side.unproven_change and side.tie_usd == 450.0


def test_base_decisions_held_cheaper_than_the_solver_returned_are_the_best_plan():
    # the held plan ($99,950) beats the re-optimized one ($100,000 +- $200, bound $99,800):
    # it is the best plan known, its gap measured against that bound: $150
    side = _best((outcome(CLOUDY, 100_000.0, 200.0), Npv(99_950.0, 30.0)), BASE, 0.01)
    assert not side.changes and side.recommended == "hybrid"
    assert side.npv == Npv(99_950.0, pytest.approx(150.0))


# --- break-even ----------------------------------------------------------------------------


def _world(x_npv, y_npv, gap_usd):
    """Solves replaced by hand-set NPVs: the server plan (X) costs ``x_npv(v)``, the cloud
    plan (Y) ``y_npv(v)``, each with a gap of ``gap_usd``; re-optimizing returns the cheaper
    (the server on a tie)."""

    def at(p, catalog, name, value, solver, time_limit):
        x, y = x_npv(value), y_npv(value)
        return outcome(SERVER, x, gap_usd) if x <= y else outcome(CLOUDY, y, gap_usd)

    def held_at(p, catalog, name, value, decided, solver, time_limit):
        return Npv((x_npv if decided.signature == SERVER else y_npv)(value), gap_usd)

    def reoptimized(p, catalog, values, solver, time_limit):
        return at(p, catalog, "", 1.0, solver, time_limit)
    return at, held_at, reoptimized


@pytest.fixture
def world(monkeypatch):
    def use(x_npv, y_npv, gap_usd):
        at, held_at, reoptimized = _world(x_npv, y_npv, gap_usd)
        monkeypatch.setattr(flips, "_at", at)
        monkeypatch.setattr(flips, "_held_at", held_at)
        monkeypatch.setattr(flips, "reoptimized", reoptimized)
    return use


def test_a_flip_is_located_to_where_each_side_is_proven_cheaper(world):
    # server 1,000 + 100 v, cloud 1,050: they cross at v = 0.5. With gaps of $5 each they are
    # told apart only where |100 v - 50| > 10: below 0.4 the server is proven cheaper, above
    # 0.6 the cloud. The grid point 0.5 lies in the tie; the flip's interval runs from the
    # last value below 0.4 to the first above 0.6 that bisection reached (within 0.001)
    world(lambda v: 1_000.0 + 100.0 * v, lambda v: 1_050.0, 5.0)
    res = breakeven(plan(), CLOUD, "electricity", 0.0, 1.0, points=5, gap=0.04)
    (flip,) = res.flips
    low, high = flip.before.value, flip.after.value
    assert 0.399 <= low < 0.4 and 0.6 < high <= 0.601
    assert flip.before.outcome.signature == SERVER and flip.after.outcome.signature == CLOUDY
    doc = flip.to_dict()
    assert doc["interval"] == [pytest.approx(low), pytest.approx(high)]
    assert doc["after_held_at_before"]["npv_usd"] == 1_050.0
    assert doc["before_held_at_after"]["npv_usd"] == pytest.approx(1_000.0 + 100.0 * high,
                                                                   abs=0.005)
    assert doc["before"]["gap_usd"] == 5.0 and doc["before"]["proven"]
    assert res.ties == ()


def test_a_change_within_the_gaps_everywhere_is_a_tie_not_a_flip(world):
    # resale x 1.046 "flipping" plan A for a $10 difference: the two plans differ by at most
    # $10 across the range, their gaps $500 each. The solver's answer changes at 0.5, but
    # neither plan is anywhere proven cheaper: a tie within +-$1,000, no flip
    world(lambda v: 100_000.0 + 20.0 * (v - 0.5), lambda v: 100_000.0, 500.0)
    res = breakeven(plan(), CLOUD, "electricity", 0.0, 1.0, points=5, gap=0.04)
    assert res.flips == ()
    (tie,) = res.ties
    assert tie.reason == "tie" and tie.within_usd == pytest.approx(1_000.0)
    assert tie.low.outcome.signature == SERVER and tie.high.outcome.signature == CLOUDY
    assert res.to_dict()["ties"][0]["interval"] == [0.5, 0.75]


def test_a_change_between_unproven_solves_is_not_a_flip(world, monkeypatch):
    world(lambda v: 1_000.0 + 100.0 * v, lambda v: 1_050.0, 5.0)
    real = flips._at

    def unproven(*args):
        o = real(*args)
        return Outcome(o.values, o.npv_usd, o.recommended, o.signature, o.decisions, False,
                       o.gap_usd, False)
    monkeypatch.setattr(flips, "_at", unproven)
    res = breakeven(plan(), CLOUD, "electricity", 0.0, 1.0, points=5, gap=0.04)
    assert res.flips == ()
    assert [t.reason for t in res.ties] == ["unproven"]


# --- every analysis exits 4 on an unproven base --------------------------------------------


@pytest.mark.parametrize("command", [
    ["sensitivity", "--param", "electricity"],
    ["breakeven", "--param", "electricity", "--points", "2"],
    ["risk", "--samples", "2"],
])
def test_an_unproven_base_exits_4_and_says_so_in_every_format(files, capsys,  # noqa: F811
                                                               monkeypatch, command):
    # the base solve runs in this process: its gap made 20% of its NPV (over SPEC 15's 5%)
    monkeypatch.setattr(evaluate, "_gap_of",
                        lambda result: 0.2 * abs(result.recommended.npv_usd or 0.0))
    plan_file, cat = files
    args = [command[0], str(plan_file), "--catalog", str(cat), "--workers", "1", *command[1:]]
    assert main([*args, "--format", "json"]) == 4
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["unproven"] is True and doc["base"]["unproven"] is True
    assert doc["base"]["proven"] is False
    assert doc["base"]["gap_usd"] == pytest.approx(0.2 * doc["base"]["npv_usd"], abs=0.01)
    assert "unproven" in captured.err
    for fmt in ("table", "markdown"):
        assert main([*args, "--format", fmt]) == 4
        assert "the base plan is unproven" in capsys.readouterr().out
    assert main([*args, "--format", "csv"]) == 4
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(row["base_unproven"] == "True" for row in rows)


def test_a_solve_stopped_without_a_plan_is_neither_a_price_nor_infeasible():
    # SPEC 16: a committed solve the time limit stopped before any plan is unknown: it tells
    # nothing apart, and is never read as "these decisions cannot serve"
    unknown = Npv.unknown()
    assert not unknown.known and not unknown.proven(0.05)
    side = _best((outcome(CLOUDY, 90_000.0, 50.0), unknown), BASE, 0.001)
    assert not side.changes and side.tie_usd is None
    assert flips._state(Npv(100.0, 0.0), unknown, 0.01) == flips._TIE
    assert flips._state(Npv(100.0, 0.0), None, 0.01) == flips._X      # None: cannot serve


def test_a_risk_sample_with_an_unsolved_committed_solve_is_counted_as_failed(monkeypatch):
    from tco.analysis import montecarlo

    real = montecarlo.committed

    def stopped(plan, catalog, values, scenario, decisions, solver, time_limit):
        if values["electricity"] > 2.0:
            return Npv.unknown()
        return real(plan, catalog, values, scenario, decisions, solver, time_limit)
    monkeypatch.setattr(montecarlo, "committed", stopped)
    # a solve per sample (not one program moved from price to price)
    monkeypatch.setattr(montecarlo, "sample_moves", lambda plan, catalog, values: None)
    p = plan({"electricity": {"dist": "uniform", "low": 0.5, "high": 2.5}})
    res = montecarlo.risk(p, CLOUD, samples=20, seed=3)
    drawn = [montecarlo.sample(p.plan.uncertainty, 3, i)["electricity"] for i in range(20)]
    failed = [i for i, e in enumerate(drawn) if e > 2.0]
    assert 0 < len(failed) < 20
    assert list(res.failed_samples) == failed
    assert res.samples_solved == 20 - len(failed) and res.samples_failed == len(failed)
    assert [row["sample"] for row in res.sample_rows()] == [
        i for i in range(20) if i not in failed]
