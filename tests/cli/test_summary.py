"""The HTML report's executive summary (SPEC 20): the answer, its margin and proof, what to
sign and the budget by fiscal year, all inside the box the page opens with."""

from __future__ import annotations

import re

from tco.cli.render import MOST_ACTIONS, action_lines, render_html
from tco.optimizer import solve
from tco.optimizer.result import Commitment, ScenarioResult
from tests.analysis.test_closed_form import CLOUD
from tests.optimizer.test_finance import one_box


def lead_text(html: str) -> str:
    box = re.search(r'<div class="lead" id="recommendation">(.*?)</div>', html, re.DOTALL)
    assert box is not None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", box.group(1))).replace("&amp;", "&")


def test_the_summary_holds_the_answer_what_to_sign_and_the_budget():
    res = solve(one_box(plan={"fiscal_year_start": 7}, finance={"tax_rate": 0.25}), CLOUD)
    text = lead_text(render_html(res))
    assert "Recommended: hybrid (NPV $53,160" in text
    assert "Margin: hybrid is $16,920" in text
    assert "Proof: the solver proved this plan at most $0" in text
    assert "After tax: NPV $39,370." in text
    assert "Order 1 box for dc in 2027-01 (arrive 2027-01; $100,000)" in text
    # the budget by fiscal year from July: the year's capex, opex, P&L and cash
    assert "FY2027 2027-01..2027-06 $100,000 $17,580 $27,580 $117,580" in text
    assert "FY2028 2027-07..2028-01 $0 $17,580 $27,580 -$64,420" in text


def test_a_plan_with_nothing_to_sign_says_so():
    assert action_lines(ScenarioResult("cloud-only", True, None)) == [
        "Nothing to buy, sell or commit: every hour is paid as it is used."]


def test_many_commitments_are_summed_up():
    commitments = tuple(Commitment("cloud-only", "aws", "us-west-2", "p5", "reserved_1y",
                                   f"2027-{m:02d}", f"2028-{m:02d}", 1, 100.0, 0.0, 0)
                        for m in range(1, 11))
    lines = action_lines(ScenarioResult("cloud-only", True, None, commitments=commitments))
    assert len(lines) == MOST_ACTIONS
    assert lines[0] == "Commit 1 x p5 (reserved_1y) on aws us-west-2, 2027-01..2028-01"
    assert lines[-1] == "and 5 more commitments (the Commitments table below)"
