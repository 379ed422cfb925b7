"""A linear program as plain columns and rows: what the model builds, what HiGHS reads as
arrays, and what is handed to PuLP when CBC solves it.

PuLP's own objects do more on every variable and row than a build of tens of thousands of
them can afford (a name check and translation per variable, a copy of each row's expression,
every row's variables registered again, a Python-level hash on every dictionary look-up);
about a third of building the examples' programs went there. Here a variable is a slotted
object hashed by identity, an expression a dictionary, and a row its expression, sense and
right-hand side. The attribute names are PuLP's (``lowBound``, ``upBound``, ``varValue``,
``slack``) so that code reading a solution reads the same either way.
"""

from __future__ import annotations

LE, EQ, GE = -1, 0, 1          # row senses (PuLP's values)
SENSES = {LE: "<=", EQ: "=", GE: ">="}


class Var:
    """One column: bounds (None = unbounded), integrality and, after a solve, its value."""

    __slots__ = ("integer", "lowBound", "name", "upBound", "varValue")

    def __init__(self, name: str, low: float | None = None, up: float | None = None,
                 integer: bool = False) -> None:
        self.name = name
        self.lowBound = low
        self.upBound = up
        self.integer = integer
        self.varValue: float | None = None

    def __repr__(self) -> str:
        return self.name

    def value(self) -> float | None:
        return self.varValue


class Expr(dict):
    """Σ coefficient × variable + constant, as ``{Var: coefficient}`` and ``constant``.

    Made as a dictionary is, ``Expr(pairs)``, with no Python-level ``__init__`` (the model
    makes one per row); the constant is 0 unless set."""

    constant: float = 0.0

    def value(self) -> float | None:
        """The expression at the variables' values; None while any of them has none."""
        total = self.constant
        for var, coef in self.items():
            if var.varValue is None:
                return None
            total += var.varValue * coef
        return total

    def __repr__(self) -> str:
        terms = " + ".join(f"{coef:g}*{var.name}" for var, coef in self.items())
        return f"{terms or '0'} + {self.constant:g}" if self.constant else terms or "0"


class Row:
    """``expr (sense) rhs``, kept as PuLP keeps it: ``constant = expr.constant - rhs`` and the
    row holds ``Σ coef × var + constant (sense) 0``. A solve sets ``pi`` (the dual) and
    ``slack``: how far the row is from binding, never negative while it holds, whatever its
    sense or solver."""

    __slots__ = ("constant", "expr", "name", "pi", "sense", "slack")

    def __init__(self, name: str, expr: Expr, sense: int, rhs: float) -> None:
        self.name = name
        self.expr = expr
        self.sense = sense
        self.constant = expr.constant - rhs
        self.slack: float | None = None
        self.pi: float | None = None

    @property
    def lower(self) -> float | None:
        return -self.constant if self.sense != LE else None

    @property
    def upper(self) -> float | None:
        return -self.constant if self.sense != GE else None

    def value(self) -> float:
        """``Σ coef × value + constant`` at the variables' values (an unsolved one counts 0)."""
        return sum((var.varValue or 0.0) * coef for var, coef in self.expr.items()) + self.constant

    def holds(self, tolerance: float = 1e-6) -> bool:
        """Whether the variables' values satisfy the row, within ``tolerance``."""
        left = self.value()
        if self.sense == LE:
            return left <= tolerance
        if self.sense == GE:
            return left >= -tolerance
        return abs(left) <= tolerance

    def __repr__(self) -> str:
        terms = " + ".join(f"{coef:g}*{var.name}" for var, coef in self.expr.items()) or "0"
        return f"{self.name}: {terms} {SENSES[self.sense]} {-self.constant:g}"


class Program:
    """Variables, rows and a minimized objective. Names are for reading and LP files; the
    program never looks a row up by name, so building one costs no name checks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.vars: list[Var] = []
        self.rows: list[Row] = []
        self.objective = Expr()
        self.highs: object | None = None     # the HiGHS session, once one solves it

    def cost(self) -> float:
        """The objective at the variables' values (a variable with none counts 0)."""
        objective = self.objective
        return sum((var.varValue or 0.0) * coef for var, coef in objective.items()) + (
            objective.constant)

    def var(self, name: str, low: float | None = None, up: float | None = None,
            integer: bool = False) -> Var:
        v = Var(name, low, up, integer)
        self.vars.append(v)
        return v

    def binary(self, name: str) -> Var:
        return self.var(name, 0, 1, integer=True)

    def add(self, expr: Expr, sense: int, rhs: float, name: str) -> Row:
        row = Row(name, expr, sense, rhs)
        self.rows.append(row)
        return row

    def drop(self, rows: list[Row]) -> None:
        """Take ``rows`` out of the program (and out of its HiGHS session, which keeps the
        rest and its basis)."""
        if not rows:
            return
        gone = {id(r) for r in rows}
        self.rows = [r for r in self.rows if id(r) not in gone]
        drop = getattr(self.highs, "drop_rows", None)
        if drop is not None:
            drop(gone)


def value(expr: object) -> float | None:
    """A variable's, expression's or number's value (None for an unsolved variable)."""
    if isinstance(expr, (Var, Expr)):
        return expr.value()
    return float(expr)  # type: ignore[arg-type]
