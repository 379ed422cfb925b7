"""The Python examples of the README and the docs run as written: each file's blocks one
after the other, as one script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def blocks(path: Path = README) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def run(path: Path, tmp_path: Path) -> str:
    script = tmp_path / "budget.py"
    # run as a script, so that the process pool's workers start as they would for a user
    script.write_text("\n".join(blocks(path)))
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_has_the_library_examples():
    code = "\n".join(blocks())
    assert "solve(" in code and "sensitivity(" in code and "risk(" in code


def test_the_readme_examples_run(tmp_path: Path):
    out = run(README, tmp_path)
    assert "best on average: hybrid" in out
    assert "electricity" in out and "cloud_prices" in out


def test_the_analysis_example_runs(tmp_path: Path):
    out = run(ROOT / "docs" / "analysis.md", tmp_path)
    assert "'scenario': 'hybrid'" in out
