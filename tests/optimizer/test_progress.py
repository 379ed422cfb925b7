"""Progress of a compare: each scenario solved with its gap, and the whole-number searches
under way told as they improve, whether the scenarios are solved here or side by side in
worker processes. Watching changes nothing in the answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tco.optimizer import load_plan, solve
from tco.optimizer.model import linear
from tco.optimizer.program import GE, Program
from tco.optimizer.solver import run, watching
from tco.pricing import load_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEARCH = re.compile(r"^(?P<name>[\w-]+): best plan \$(?P<npv>[\d,]+), "
                    r"(within (?P<gap>[\d.]+)% of the solver's bound|no bound yet)$")


@pytest.fixture(scope="module")
def snapshot():
    return load_catalog(offline=True)


def _knapsack() -> Program:
    # a whole-number program HiGHS has to search: min Σ c_i x_i, Σ w_i x_i >= 50, x_i whole
    prob = Program("knapsack")
    xs = [prob.var(f"x{i}", 0, 10, integer=True) for i in range(12)]
    prob.add(linear([(x, 3.0 + 0.37 * i) for i, x in enumerate(xs)]), GE, 50.5, "need")
    prob.objective = linear([(x, 5.0 + 0.91 * i - 0.05 * i * i) for i, x in enumerate(xs)])
    return prob


def test_a_watcher_sees_the_search_and_changes_nothing():
    seen: list[tuple[float, float]] = []
    watched = _knapsack()
    with watching(lambda found, bound: seen.append((found, bound))):
        run(watched, "highs", None, 0.0)
    plain = _knapsack()
    run(plain, "highs", None, 0.0)
    assert watched.cost() == pytest.approx(plain.cost(), rel=1e-12)
    assert seen, "no improving plan was told"
    # each plan told is a plan: never cheaper than the optimum, and the last is no dearer
    # than the first
    assert all(found >= watched.cost() - 1e-9 * abs(watched.cost()) for found, _ in seen)
    assert seen[-1][0] <= seen[0][0]
    # once the block is left, nothing is told
    told = len(seen)
    run(_knapsack(), "highs", None, 0.0)
    assert len(seen) == told


@pytest.mark.parametrize("workers", [1, 2])
def test_compare_tells_each_scenario_solved_and_the_searches(snapshot, workers):
    loaded = load_plan(EXAMPLES / "research-lab.toml")
    events: list[tuple[str, str]] = []
    told = solve(loaded, snapshot, workers=workers,
                 progress=lambda event, what: events.append((event, what)))
    quiet = solve(loaded, snapshot, workers=workers)
    assert [s.npv_usd for s in told.scenarios] == [s.npv_usd for s in quiet.scenarios]
    solved = [what for event, what in events if event == "solved"]
    # every distinct scenario is told once, with the gap of its plan as reported
    for res in told.scenarios:
        lines = [s for s in solved if s.startswith(f"{res.name} (")]
        if not lines:
            continue          # solved under another scenario's name (the same program)
        assert len(lines) == 1
        if any("keeps the first-stage decisions of the" in n for n in res.notes):
            # its own solve was told; a narrower plan priced in it afterwards is the answer
            assert any(e == "pricing" and w.endswith(f" in {res.name}") for e, w in events)
            continue
        if res.feasible and res.solver is not None and res.solver.mip_gap is not None:
            assert lines[0] == f"{res.name} (within {res.solver.mip_gap:.2%} of its bound)"
    assert any(s.startswith("hybrid (") for s in solved)
    # the hybrid program's full search runs (its warm start is not within 1%) and is told
    searches = [what for event, what in events if event == "searching"]
    assert searches
    for line in searches:
        match = SEARCH.match(line)
        assert match, line
    assert any(s.startswith("hybrid:") for s in searches)
