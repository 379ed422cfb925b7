"""The terminal's progress lines: a compare's status appears only once it has taken two
seconds, says what is solving, how the search goes and what is solved; the analyses' bar
shows the widest gap so far. Neither writes anything when standard error is not a terminal."""

from __future__ import annotations

import io
import time

from rich.console import Console

from tco.cli import progress as progress_module
from tco.cli.progress import AnalysisBar, CompareStatus


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=200), out


def test_compare_status_says_what_is_solving_searching_and_solved():
    console, _ = _terminal()
    status = CompareStatus(console, True)
    status("solving", "hybrid, cloud-only")
    status("searching", "hybrid: best plan $335,161, within 3.83% of the solver's bound")
    status("solved", "cloud-only (within 0.48% of its bound)")
    assert status.line() == ("solving hybrid, cloud-only... | solved: cloud-only (within 0.48% "
                             "of its bound)")
    status("searching", "hybrid: best plan $335,146, within 0.98% of the solver's bound")
    assert "hybrid: best plan $335,146, within 0.98%" in status.line()


def test_compare_status_appears_only_after_the_quiet_time(monkeypatch):
    monkeypatch.setattr(progress_module, "QUIET_SECONDS", 0.05)
    console, out = _terminal()
    with CompareStatus(console, True) as status:
        status("solving", "hybrid")
        assert status.status is None           # not yet
        deadline = time.monotonic() + 5
        while status.status is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert status.status is not None
    assert status.status is None
    assert "solving hybrid..." in out.getvalue()


def test_a_quick_compare_shows_nothing(monkeypatch):
    console, out = _terminal()
    with CompareStatus(console, True) as status:
        status("solving", "hybrid")
    assert status.status is None and out.getvalue() == ""


def test_nothing_is_shown_off_a_terminal(monkeypatch):
    monkeypatch.setattr(progress_module, "QUIET_SECONDS", 0.0)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with CompareStatus(console, True) as status:
        assert not status.enabled
        status("solving", "hybrid")
        time.sleep(0.05)
    with AnalysisBar(console) as bar:
        bar(1, 2, gap_usd=12.0)
    assert out.getvalue() == ""


def test_the_analysis_bar_shows_the_widest_gap():
    console, _ = _terminal()
    with AnalysisBar(console) as bar:
        bar(3, 10, gap_usd=1234.4)
        task = bar.bar.tasks[0]
        assert (task.completed, task.total) == (3, 10)
        assert task.description == "widest gap so far $1,234"
        bar(4, 10)
        assert bar.bar.tasks[0].description == ""
