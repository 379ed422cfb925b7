"""The ``tco`` command the benchmarks run: the one installed beside the Python running them
(so that a benchmark run from another install's environment times that install), else the
first on the ``PATH``."""

from __future__ import annotations

import sys
from pathlib import Path

_beside = Path(sys.executable).with_name("tco")
TCO = str(_beside) if _beside.exists() else "tco"
