"""Default assumptions (``pricing/data/defaults.csv``): each value with its public source."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Default:
    key: str
    value: float
    unit: str
    source: str
    as_of: str
    note: str

    @property
    def display(self) -> str:
        unit = f" {self.unit}" if self.unit and self.unit not in ("fraction", "ratio") else ""
        return f"{self.value:g}{unit}"

    @property
    def citation(self) -> str:
        parts = [p for p in (self.note, self.source if self.source not in ("SPEC", "tco") else "",
                             f"as of {self.as_of}" if self.as_of else "") if p]
        return "; ".join(parts)


@cache
def defaults() -> dict[str, Default]:
    path = resources.files("tco.pricing").joinpath("data", "defaults.csv")
    with io.StringIO(path.read_text(encoding="utf-8"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["key"].strip(): Default(r["key"].strip(), float(r["value"]), r.get("unit", "").strip(),
                                      r.get("source", "").strip(), r.get("as_of", "").strip(),
                                      r.get("note", "").strip())
            for r in rows if r.get("key")}


@dataclass(frozen=True)
class Plausible:
    """The range of published figures for one plan key: a value outside it is allowed, but
    named in a warning with the figures it is compared to (``plausible.csv``)."""

    key: str
    low: float
    high: float
    unit: str
    source: str
    note: str


@cache
def plausible() -> dict[str, Plausible]:
    path = resources.files("tco.pricing").joinpath("data", "plausible.csv")
    with io.StringIO(path.read_text(encoding="utf-8"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["key"].strip(): Plausible(r["key"].strip(), float(r["low"]), float(r["high"]),
                                        r["unit"].strip(), r["source"].strip(), r["note"].strip())
            for r in rows if r.get("key")}
