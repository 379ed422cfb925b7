"""Files tco writes are created as any other program's would be: with the user's umask, and
atomically (a reader sees the old file or the new one, never half of one)."""

from __future__ import annotations

import os
import stat

import pytest

from tco.cli.main import main
from tco.pricing.files import atomic_write_text


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_takes_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    path = tmp_path / "report.json"
    atomic_write_text(path, "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert path.read_text() == "{}\n"


def test_the_commands_write_with_the_umask(tmp_path, umask, capsys):
    umask(0o022)
    plan = tmp_path / "plan.toml"
    assert main(["init", str(plan)]) == 0
    assert stat.S_IMODE(plan.stat().st_mode) == 0o644


def test_replacing_a_file_leaves_nothing_behind(tmp_path, umask):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old\n")
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
