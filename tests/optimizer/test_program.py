"""The program container: sums, rows and the PuLP copy CBC is given must say exactly what the
model wrote."""

from __future__ import annotations

import pytest

from tco.optimizer.model import linear
from tco.optimizer.program import EQ, GE, LE, Program, value
from tco.optimizer.solver import to_pulp


def test_linear_adds_up_repeated_variables_expressions_and_numbers():
    prob = Program("p")
    x, y = prob.var("x", 0), prob.var("y", 0)
    fleet = linear([(x, 2.0), (3, 1.0)])                 # 2x + 3
    expr = linear([(x, 1.0), (y, 4.0), (x, 0.5), (fleet, -2.0), (10, 0.5)])
    # x: 1 + 0.5 - 4 = -2.5; y: 4; constant: -6 + 5 = -1
    assert dict(expr) == {x: -2.5, y: 4.0}
    assert expr.constant == -1.0
    # the common case, distinct variables only, keeps every coefficient and no constant
    simple = linear([(x, 1.0), (y, -730.0)])
    assert dict(simple) == {x: 1.0, y: -730.0} and simple.constant == 0.0


def test_values_are_unknown_until_every_variable_has_one():
    prob = Program("p")
    x, y = prob.var("x"), prob.var("y")
    expr = linear([(x, 2.0), (y, 1.0), (1, 7.0)])
    assert value(expr) is None and value(x) is None and value(4) == 4.0
    x.varValue = 3.0
    assert value(expr) is None
    y.varValue = -1.0
    assert value(expr) == pytest.approx(12.0)            # 6 - 1 + 7


@pytest.mark.parametrize("sense, x, holds", [
    (LE, 2.0, True), (LE, 2.5, False), (GE, 2.0, True), (GE, 1.5, False),
    (EQ, 2.0, True), (EQ, 2.1, False),
])
def test_a_row_holds_by_its_sense(sense, x, holds):
    prob = Program("p")
    v = prob.var("v")
    row = prob.add(linear([(v, 2.0), (1, 1.0)]), sense, 5.0, "r")   # 2v + 1 (sense) 5
    assert (row.lower, row.upper) == {LE: (None, 4.0), GE: (4.0, None), EQ: (4.0, 4.0)}[sense]
    v.varValue = x
    assert row.value() == pytest.approx(2 * x - 4)
    assert row.holds() is holds


def test_the_pulp_copy_has_every_column_bound_and_row():
    prob = Program("copy")
    x = prob.var("x[a-b,2027-01]", 0, 4.5)
    n = prob.var("n", 0, 3, integer=True)
    spare = prob.var("spare", 1)                         # in no row: still a column
    prob.objective = linear([(x, 2.0), (n, 100.0), (7, 1.0)])
    prob.add(linear([(x, 1.0), (n, -730.0), (12, 1.0)]), LE, 0.0, "cap[a-b,2027-01]")
    lp, columns, constraints = to_pulp(prob)
    assert [c.name for c in columns.values()] == ["x_a_b,2027_01_", "n", "spare"]
    assert (columns[x].lowBound, columns[x].upBound, columns[x].cat) == (0, 4.5, "Continuous")
    assert (columns[n].upBound, columns[n].cat) == (3, "Integer")
    assert columns[spare].lowBound == 1
    assert dict(lp.objective) == {columns[x]: 2.0, columns[n]: 100.0}
    assert lp.objective.constant == 7.0
    (con,) = constraints
    assert dict(con) == {columns[x]: 1.0, columns[n]: -730.0}
    assert con.getUb() == -12.0 and con.getLb() is None and con.name == "cap_a_b,2027_01_"
