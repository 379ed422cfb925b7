"""HTML reports: one self-contained page (no script, no network), its charts inline SVG, the
same bytes for the same result; and opened in a real headless Chromium, which lays the page
out with its charts and tables."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tco.cli.main import main
from tests.analysis.test_commands import CATALOG, PLAN, UNCERTAINTY


class Page(HTMLParser):
    """The tags of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    plan = tmp_path / "box.toml"
    plan.write_text(PLAN + UNCERTAINTY)
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    return plan, cat


def html_of(files, tmp_path: Path, *args: str) -> str:
    plan, cat = files
    out = tmp_path / f"{args[0]}.html"
    workers = [] if args[0] == "compare" else ["--workers", "1"]
    assert main([args[0], str(plan), "--catalog", str(cat), *workers, *args[1:],
                 "--format", "html", "--output", str(out)]) == 0
    return out.read_text()


REPORTS = [
    ("sensitivity", "--param", "electricity", "--param", "server_prices"),
    ("breakeven", "--param", "cloud_prices", "--low", "0.5", "--high", "1.5", "--points", "5"),
    ("risk", "--samples", "12"),
    ("compare",),
    ("alternatives", "--dims", "cloud_gpu_hours,onprem_gpu_hours", "--directions", "2"),
]


@pytest.mark.parametrize("args", REPORTS, ids=[r[0] for r in REPORTS])
def test_a_self_contained_page(files, tmp_path, args):
    text = html_of(files, tmp_path, *args)
    page = Page()
    page.feed(text)
    assert "script" not in page.tags           # nothing to run, nothing to fetch
    assert not [r for r in page.refs if r.startswith(("http", "//"))]
    assert "table" in page.tags
    if args[0] != "compare":
        assert "svg" in page.tags and "figure" in page.tags
    # the same result, the same bytes
    assert html_of(files, tmp_path, *args) == text


def test_the_sensitivity_page_says_what_the_table_says(files, tmp_path):
    page = Page()
    page.feed(html_of(files, tmp_path, *REPORTS[0]))
    text = " ".join(page.text)
    # electricity x 0.8 and x 1.2: 53,160 -/+ 1,752 (tests/analysis/test_closed_form.py)
    assert "$51,408" in text and "$54,912" in text
    assert "server_prices" in text and "Tornado" in text


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


FIGURES = {"sensitivity": 1, "breakeven": 1, "risk": 1, "compare": 3, "alternatives": 2}


@pytest.mark.parametrize("args", REPORTS, ids=[r[0] for r in REPORTS])
def test_chromium_shows_every_chart_offline_without_console_errors(files, tmp_path, args):
    browser = _browser()
    if browser is None:
        if os.environ.get("TCO_REQUIRE_BROWSER"):
            pytest.fail("no Chromium on this machine, and TCO_REQUIRE_BROWSER is set")
        pytest.skip("no Chromium on this machine (.ci/run installs it)")
    page = tmp_path / "page.html"
    page.write_text(html_of(files, tmp_path, *args))
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1400",
              # no name resolves: the page must need nothing from the network
              "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr
    # every chart laid out: one figure per chart, each with its drawing
    figures = re.findall(r"<figure>(.*?)</figure>", dom.stdout, flags=re.DOTALL)
    assert len(figures) == FIGURES[args[0]]
    for figure in figures:
        assert "<svg" in figure and ("<path" in figure or "<rect" in figure)
    assert "<table>" in dom.stdout
    assert "CONSOLE" not in dom.stderr, dom.stderr
    shot = tmp_path / "page.png"
    done = subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank page compresses to a few kilobytes; text, tables and a chart do not
    assert len(png) > 20_000


def test_the_console_check_sees_an_error(tmp_path):
    """The browser check above would see a page's console errors: a page with one shows it."""
    browser = _browser()
    if browser is None:
        if os.environ.get("TCO_REQUIRE_BROWSER"):
            pytest.fail("no Chromium on this machine, and TCO_REQUIRE_BROWSER is set")
        pytest.skip("no Chromium on this machine (.ci/run installs it)")
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>missing();</script></body></html>")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                           "--v=0", "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120, check=False)
    assert "CONSOLE" in done.stderr and "missing is not defined" in done.stderr


def test_a_page_with_nine_providers_needs_no_horizontal_scroll_at_1280_px(tmp_path):
    browser = _browser()
    if browser is None:
        if os.environ.get("TCO_REQUIRE_BROWSER"):
            pytest.fail("no Chromium on this machine, and TCO_REQUIRE_BROWSER is set")
        pytest.skip("no Chromium on this machine (.ci/run installs it)")
    root = Path(__file__).resolve().parents[2]
    nine = ["aws", "gcp", "azure", "lambda", "nebius", "coreweave", "crusoe", "runpod", "oci"]
    plan = tmp_path / "nine.toml"
    plan.write_text((root / "examples" / "gpu-clouds.toml").read_text().replace(
        'providers = ["aws", "nebius", "lambda"]', f"providers = {json.dumps(nine)}"))
    out = tmp_path / "nine.html"
    assert main(["compare", str(plan), "--offline", "--format", "html", "-o", str(out)]) == 0
    # the report has no script of its own: a copy measures its laid-out width
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text().replace(
        "</body>", "<script>document.body.setAttribute('data-width', "
                   "document.documentElement.scrollWidth); document.body.setAttribute("
                   "'data-bottom', Math.ceil(document.getElementById('recommendation')"
                   ".getBoundingClientRect().bottom))</script></body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
                          "--window-size=1280,1400", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr
    width = re.search(r'data-width="(\d+)"', dom.stdout)
    assert width is not None and int(width.group(1)) <= 1280
    bottom = re.search(r'data-bottom="(\d+)"', dom.stdout)     # the answer above the fold
    assert bottom is not None and int(bottom.group(1)) < 800
    for p in nine:
        assert f"{p}-only" in dom.stdout


def _needs_browser() -> str:
    browser = _browser()
    if browser is None:
        if os.environ.get("TCO_REQUIRE_BROWSER"):
            pytest.fail("no Chromium on this machine, and TCO_REQUIRE_BROWSER is set")
        pytest.skip("no Chromium on this machine (.ci/run installs it)")
    return browser


@pytest.mark.parametrize("example", ["research-lab", "gpu-clouds"])
def test_the_recommendation_is_above_the_fold_at_1280_px(tmp_path, example):
    """A screenshot of the first screen (1280 × 800) shows the answer box: its green edge is in
    the picture's pixels, and the laid-out box ends above 800 px; the caveats come after it."""
    import numpy as np
    from matplotlib.image import imread

    browser = _needs_browser()
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "page.html"
    assert main(["compare", str(root / "examples" / f"{example}.toml"), "--offline",
                 "--format", "html", "-o", str(out)]) == 0
    text = out.read_text()
    lead = re.search(r'<div class="lead" id="recommendation">(.*?)</div>', text, re.DOTALL)
    assert lead is not None and "Recommended:" in lead.group(1)
    assert text.index('id="recommendation"') < text.index("<ul>") < text.index("<figure>")
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,800"]
    shot = tmp_path / "fold.png"
    done = subprocess.run([*common, f"--screenshot={shot}", out.as_uri()], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    pixels = (imread(shot)[:, :, :3] * 255).round().astype(int)
    assert pixels.shape[:2] == (800, 1280)
    edge = np.all(pixels == (0x2A, 0x6F, 0x2A), axis=2)     # the box's left border
    assert edge.sum() > 4 * 40          # 4 px wide, at least two lines of text tall
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace(
        "</body>", "<script>document.body.setAttribute('data-bottom', Math.ceil(document."
                   "getElementById('recommendation').getBoundingClientRect().bottom))"
                   "</script></body>"))
    dom = subprocess.run([*common, "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120, check=False)
    bottom = re.search(r'data-bottom="(\d+)"', dom.stdout)
    assert bottom is not None and int(bottom.group(1)) < 800


def test_twelve_categories_never_share_a_colour():
    from tco.cli import charts
    from tco.optimizer.ledger import CATEGORIES

    assert len(CATEGORIES) <= len(charts.PALETTE) == len(set(charts.PALETTE))


def test_gpu_hours_are_drawn_one_panel_per_class():
    """An H100 hour is not an H200 hour: each class has its own axis, named by class, and a
    venue keeps its colour across panels."""
    from tco.cli import charts

    svg = charts.hours_by_venue(["2027-01", "2027-02"], [
        ("H100", [("aws:us-east-1", [10.0, 20.0]), ("site:lab", [5.0, 0.0])]),
        ("H200", [("aws:us-east-1", [1.0, 2.0])])])
    assert "H100 GPU-hours" in svg and "H200 GPU-hours" in svg
    assert svg.count("aws:us-east-1") == 1 and svg.count("site:lab") == 1   # one legend
    assert len(re.findall(r'<g id="axes_\d+"', svg)) == 2


def test_the_recommended_line_is_drawn_last_and_past_the_horizon_is_shaded():
    from tco.cli import charts

    months = ["2027-01", "2027-02", "2027-03", "2027-04"]
    svg = charts.cumulative_cash(months, [("cloud-only", [1.0, 2.0, 3.0, 3.0]),
                                          ("hybrid", [1.0, 2.0, 3.0, 2.5])],
                                 highlight="hybrid", horizon=3)
    assert "hybrid (recommended)" in svg and "after the horizon" in svg
    same = charts.cumulative_cash(months, [("cloud-only", [1.0, 2.0, 3.0, 3.0]),
                                           ("aws-only", [1.0, 2.0, 3.0, 3.0])])
    assert "aws-only (= cloud-only)" in same
    plain = charts.cumulative_cash(months[:3], [("hybrid", [1.0, 2.0, 3.0])],
                                   highlight="hybrid", horizon=3)
    assert "after the horizon" not in plain
