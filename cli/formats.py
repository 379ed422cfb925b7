"""Output formats of ``tco compare`` (kept free of heavy imports for a fast start-up)."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"


class CsvTable(StrEnum):
    """The tables ``--format csv`` can write (``--table``)."""

    SCENARIOS = "scenarios"
    BREAKDOWN = "breakdown"
    ALLOCATIONS = "allocations"
    CASH_FLOWS = "cash-flows"
    PROCUREMENT = "procurement"
    COMMITMENTS = "commitments"
    RETIREMENTS = "retirements"
    BUDGET = "budget"
