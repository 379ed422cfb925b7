"""The robust candidate of ``tco risk --optimize`` (SPEC 19) on a plan worked out by hand.

The one-box economics of ``test_closed_form`` with four servers' worth of training every month
for a year, and demand that is either half or one and a half times that: two servers' worth
(the low futures) or six (the high ones). Per server and month (discount rate 0):

- a server in use all month costs 4,430 (1,500 of value, 2,930 of energy, colo, maintenance
  and staff); idle, 4,065 (its energy for the hours used, 365, is not paid);
- a server's worth of cloud hours costs 5,840.

With n servers bought now and a share p of high futures, the first two servers are used in
every future; each one beyond two saves 5,840 - 365 = 5,475 a month in a high future only and
costs 4,065 more in every future, so it pays when p x 5,475 > 4,065, p > 0.7425. With p below
that the mean is least at two servers: 12 x (2 x 4,430 + p x 4 x 5,840) a year. The plan
optimal at the base inputs buys four, all-cloud none.

By the mean of the worst tenth (CVaR 90%), which holds only high futures when at least one in
ten is high, the best is six servers: 12 x 6 x 4,430 = 318,960.

If the recourse were shared across futures (one set of cloud hours for all of them), the cloud
hours would have to meet the high demand in every future, and six servers would be bought by
the mean as well: the mean test fails on such a program.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from tco.analysis import executor, risk
from tco.analysis.montecarlo import cvar90
from tco.analysis.sampling import sample
from tco.cli.main import main
from tco.optimizer import plan_from_dict
from tco.optimizer.scenarios import scenarios_for
from tco.optimizer.stochastic import joint, tail_mean
from tests.conftest import plan_doc

from .test_closed_form import CLOUD, FULL, SERVER, SITE

USED, IDLE, CLOUD_SERVER = 4_430.0, 4_065.0, 5_840.0
LOW, HIGH = 0.5, 1.5


def doc():
    d = plan_doc({"name": "train", "kind": "training", "gpu": "H100",
                  "gpu_hours": 4 * 12 * FULL}, onprem={"sites": [SITE], "servers": [SERVER]})
    d["uncertainty"] = {"demand": {"dist": "choice", "values": [LOW, HIGH]}}
    return d


def plan():
    return plan_from_dict(doc()).plan


def high_share(seed, n):
    """The share of high futures among samples 0 .. n-1 of ``seed``, counted from the draws."""
    draws = [sample(plan().uncertainty, seed, i)["demand"] for i in range(n)]
    assert set(draws) <= {LOW, HIGH}
    return draws.count(HIGH) / n


def year(servers, p):
    """The mean NPV over futures with a share p of high ones, ``servers`` bought now."""
    low = min(servers, 2) * USED + max(0, servers - 2) * IDLE + max(0, 2 - servers) * CLOUD_SERVER
    high = min(servers, 6) * USED + max(0, 6 - servers) * CLOUD_SERVER
    return 12 * ((1 - p) * low + p * high)


def by_name(result):
    return {c["scenario"]: c for c in result.to_dict()["candidates"]}


def test_the_mean_buys_for_the_low_futures_and_is_judged_on_others():
    p_train, p_eval = high_share(0, 10), high_share(1, 10)
    assert p_train < 0.7425 and p_eval < 0.7425 and p_train != p_eval
    r = risk(plan(), CLOUD, samples=10, seed=0, optimize=True, gap=0.0)
    c = by_name(r)
    assert c["robust"]["servers"] == {"box": 2}
    assert c["robust"]["orders"] == [["dc", "box", "2027-01", 2]]
    assert c["hybrid"]["servers"] == {"box": 4}
    # fitted on the samples of seed 0
    assert r.robust.objective_usd == pytest.approx(year(2, p_train), rel=1e-9)
    assert r.robust.start_objective_usd == pytest.approx(year(4, p_train), rel=1e-9)
    assert r.robust.bound_usd == pytest.approx(year(2, p_train), rel=1e-6)
    # judged on those of seed 1
    assert r.evaluation_seed == 1 and r.seed == 0
    assert [i for i, _ in r.drawn] == list(range(10))
    assert [dict(v)["demand"] for _, v in r.drawn] == [
        sample(plan().uncertainty, 1, i)["demand"] for i in range(10)]
    assert c["robust"]["mean_usd"] == pytest.approx(year(2, p_eval), rel=1e-9)
    assert c["hybrid"]["mean_usd"] == pytest.approx(year(4, p_eval), rel=1e-9)
    assert c["cloud-only"]["mean_usd"] == pytest.approx(year(0, p_eval), rel=1e-9)
    assert r.recommended == "robust"
    # at the base inputs (four servers' worth) two servers and two on the cloud
    assert c["robust"]["base_npv_usd"] == pytest.approx(12 * (2 * USED + 2 * CLOUD_SERVER))
    best_scenario = min(year(4, p_eval), year(0, p_eval))
    assert r.vss_usd == pytest.approx(best_scenario - year(2, p_eval), rel=1e-9)
    # knowing the future: two servers in a low one, six in a high one
    perfect = 12 * ((1 - p_eval) * 2 * USED + p_eval * 6 * USED)
    assert r.evpi_usd == pytest.approx(year(2, p_eval) - perfect, rel=1e-9)
    assert r.evpi_gap_usd == pytest.approx(0.0, abs=1e-6)


def test_the_worst_tenth_buys_for_the_high_futures():
    assert 0.1 <= high_share(0, 10)
    r = risk(plan(), CLOUD, samples=10, seed=0, optimize=True, gap=0.0, criterion="cvar")
    c = by_name(r)
    assert c["robust"]["servers"] == {"box": 6}
    assert r.robust.objective_usd == pytest.approx(12 * 6 * USED, rel=1e-9)
    assert c["robust"]["cvar90_usd"] == pytest.approx(12 * 6 * USED, rel=1e-9)
    # the hybrid plan's worst tenth: four servers and two servers' worth of cloud
    assert c["hybrid"]["cvar90_usd"] == pytest.approx(12 * (4 * USED + 2 * CLOUD_SERVER))
    assert r.vss_usd == pytest.approx(12 * (4 * USED + 2 * CLOUD_SERVER - 6 * USED))
    # perfect information does no better in a high future
    assert r.evpi_usd == pytest.approx(0.0, abs=1e-6)


def test_programs_of_a_few_samples_each_agree():
    r = risk(plan(), CLOUD, samples=10, seed=0, optimize=True, gap=0.0, per_program=3)
    assert r.robust.programs == 4 and r.robust.per_program == 3
    assert by_name(r)["robust"]["servers"] == {"box": 2}
    # the chosen plan priced in all ten training samples
    assert r.robust.objective_usd == pytest.approx(year(2, high_share(0, 10)), rel=1e-9)


def test_two_futures_share_one_purchase():
    p = plan()
    scenario = scenarios_for(p)[0]
    from tco.analysis.evaluate import at

    futures = [at(p, CLOUD, {"demand": LOW}), at(p, CLOUD, {"demand": HIGH})]
    j = joint(futures, scenario, "mean", gap=0.0)
    assert dict(j.decisions.orders) == {("dc", "box", 0): 2}
    assert j.objective_usd == pytest.approx(year(2, 0.5), rel=1e-9)
    assert j.npvs == pytest.approx((12 * 2 * USED, 12 * (2 * USED + 4 * CLOUD_SERVER)))
    # each future alone: the deterministic answers
    for future, servers in ((futures[0], 2), (futures[1], 6)):
        alone = joint([future], scenario, "mean", gap=0.0)
        assert sum(n for _, n in alone.decisions.orders) == servers


def test_the_tail_in_rockafellar_uryasev_form_is_the_worst_tenth():
    rng = random.Random(5)
    for n in (1, 7, 10, 23, 100):
        values = [rng.uniform(-50, 200) for _ in range(n)]
        assert tail_mean(values) == pytest.approx(cvar90(values), rel=1e-12)


def test_the_same_on_a_process_pool():
    here = risk(plan(), CLOUD, samples=6, seed=2, optimize=True, per_program=3).to_dict()
    with executor("local", 2) as pool:
        there = risk(plan(), CLOUD, samples=6, seed=2, optimize=True, per_program=3,
                     executor=pool).to_dict()
    for d in (here, there):
        d["robust"].pop("seconds")
    assert there == here


def test_the_command(tmp_path, capsys):
    from .test_commands import CATALOG, PLAN

    path = tmp_path / "box.toml"
    path.write_text(PLAN.replace("gpu_hours = 70_080", f"gpu_hours = {4 * 12 * FULL:g}")
                    + '\n[uncertainty]\ndemand = { dist = "choice", values = [0.5, 1.5] }\n')
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    code = main(["risk", str(path), "--catalog", str(catalog), "--samples", "10",
                 "--optimize", "--gap", "0", "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["robust"]["samples"] == 10 and out["evaluation_seed"] == 1
    assert out["recommended"] == "robust"
    assert math.isclose(out["vss_usd"], min(year(4, high_share(1, 10)),
                                            year(0, high_share(1, 10)))
                        - year(2, high_share(1, 10)), rel_tol=1e-9)
    code = main(["risk", str(path), "--catalog", str(catalog), "--samples", "10",
                 "--optimize", "--gap", "0"])
    text = capsys.readouterr().out
    assert code == 0
    assert "Robust plan: order 2 box at dc in 2027-01" in text
    assert "Value of the stochastic solution" in text
    code = main(["risk", str(path), "--catalog", str(catalog), "--optimize",
                 "--per-program", "0"])
    assert code == 2
    assert "--per-program: expected at least 1" in capsys.readouterr().err
