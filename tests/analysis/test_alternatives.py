"""Plans near the optimum (SPEC 19) on plans small enough to work out by hand.

Two clouds: 1,000 GPU-hours of fluid training in one month, at $1 a GPU-hour on AWS and $1.10
on GCP. The optimum runs everything on AWS, $1,000. Within 5% ($1,050) a GPU-hour moved to GCP
costs $0.10 more, so GCP may take up to 500 GPU-hours ($1,050), and AWS keeps at least 500.

The one-box plan of ``test_closed_form`` ($53,160: the server bought, every hour on it): a
GPU-hour moved to the cloud costs $1 and saves the energy of the hour, 0.10 x 10 kW x (1 - 0.5
idle) / 8 GPUs = $0.0625, so $0.9375 more. 5% of $53,160 is $2,658: at most 2,835.2 GPU-hours
on the cloud (ordering the server a quarter later, the next order month, costs 3 x $1,410, more
than the slack). At 35% ($71,766) all-cloud ($70,080) is within the slack: the least GPUs
ordered is 0, and the cheapest plan with none is all-cloud.
"""

from __future__ import annotations

import json

import pytest

from tco.analysis import AnalysisError, alternatives, executor
from tco.cli.main import main
from tco.optimizer import plan_from_dict
from tests.conftest import catalog, offer, plan_doc

from .test_closed_form import CLOUD, plan

TWO_CLOUDS = catalog(offer("aws", "us-east-1", "p5", "H100", 8, "on_demand", 8.0),
                     offer("gcp", "us-central1", "a3", "H100", 8, "on_demand", 8.8))


def two_clouds():
    return plan_from_dict(plan_doc({"name": "train", "kind": "training", "gpu": "H100",
                                    "gpu_hours": 1000.0}, months=1, providers=("aws", "gcp")))


def ranges(result):
    return {d.dim: d for d in result.dims}


def test_the_slack_admits_a_known_range_between_two_clouds():
    r = alternatives(two_clouds(), TWO_CLOUDS, slack=0.05)
    assert r.optimum_npv_usd == pytest.approx(1000.0, rel=1e-9)
    assert r.budget_usd == pytest.approx(1050.0, rel=1e-9)
    d = ranges(r)
    gcp, aws = d["cloud_gpu_hours.gcp"], d["cloud_gpu_hours.aws"]
    assert (gcp.min, gcp.max) == (pytest.approx(0.0, abs=1e-6), pytest.approx(500.0, rel=1e-6))
    assert gcp.low.npv_usd == pytest.approx(1000.0, rel=1e-6)
    assert gcp.high.npv_usd == pytest.approx(1050.0, rel=1e-6)
    assert (aws.min, aws.max) == (pytest.approx(500.0, rel=1e-6), pytest.approx(1000.0, rel=1e-6))
    # every plan runs the whole demand on some cloud, and nothing on owned servers; the most
    # GPU-hours paid for is the demand and the $50 of slack spent on GCP hours not needed
    assert d["cloud_gpu_hours"].min == pytest.approx(1000.0, rel=1e-6)
    assert d["cloud_gpu_hours"].max == pytest.approx(1000.0 + 50.0 / 1.1, rel=1e-6)
    assert d["cloud_gpu_hours"].high.excess_gpu_hours == pytest.approx(50.0 / 1.1, rel=1e-6)
    assert d["cloud_gpu_hours"].low.excess_gpu_hours == pytest.approx(0.0, abs=1e-6)
    assert d["onprem_gpus"].max == 0.0
    # each range is proven: the searches' bounds are the ends found
    assert gcp.max_bound == pytest.approx(500.0, rel=1e-6)
    assert gcp.optimum == pytest.approx(0.0, abs=1e-9)


def test_no_slack_leaves_no_freedom():
    d = ranges(alternatives(two_clouds(), TWO_CLOUDS, slack=0.0,
                            dims=["cloud_gpu_hours.gcp"]))
    assert list(d) == ["cloud_gpu_hours.gcp"]
    assert d["cloud_gpu_hours.gcp"].max == pytest.approx(0.0, abs=1e-6)


def test_the_one_box_plan_by_hand():
    d = ranges(alternatives(plan(), CLOUD, slack=0.05,
                            dims=["cloud_gpu_hours", "onprem_gpu_hours", "onprem_gpus"]))
    most = 0.05 * 53_160.0 / 0.9375
    assert d["cloud_gpu_hours"].max == pytest.approx(most, rel=1e-6)
    assert d["cloud_gpu_hours"].high.npv_usd == pytest.approx(55_818.0, rel=1e-6)
    assert d["onprem_gpu_hours"].min == pytest.approx(70_080.0 - most, rel=1e-6)
    assert d["onprem_gpus"].min == 8.0 and d["onprem_gpus"].optimum == 8.0
    wide = ranges(alternatives(plan(), CLOUD, slack=0.35, dims=["onprem_gpus", "capex_usd"]))
    assert wide["onprem_gpus"].min == 0.0
    # the cheapest plan with no server: all cloud, 8 x 730 x 12 x $1
    assert wide["onprem_gpus"].low.npv_usd == pytest.approx(70_080.0, rel=1e-9)
    assert wide["capex_usd"].min == 0.0
    assert wide["capex_usd"].optimum == pytest.approx(100_000.0, rel=1e-9)


def test_random_directions_stay_within_the_slack_and_the_ranges():
    r = alternatives(plan(), CLOUD, slack=0.05, directions=4, seed=3)
    assert len(r.points) == 4
    d = ranges(r)
    for p in r.points:
        # the NPV recomputed from the plan's own cash flows, not the budget row
        flows = sum(f.npv_usd for f in p.explored.result.cash_flows)
        assert flows == pytest.approx(p.explored.npv_usd, rel=1e-9)
        assert flows <= r.budget_usd * (1 + 1e-7)
        for dim, value in p.explored.values.items():
            tol = 1e-6 * max(1.0, abs(value))
            assert d[dim].min - tol <= value <= d[dim].max + tol
        assert abs(sum(w * w for w in p.weights.values()) - 1.0) < 1e-9
    again = alternatives(plan(), CLOUD, slack=0.05, directions=4, seed=3)
    assert [p.weights for p in again.points] == [p.weights for p in r.points]


def test_the_same_on_a_process_pool():
    here = alternatives(two_clouds(), TWO_CLOUDS, directions=2).to_dict()
    with executor("local", 2) as pool:
        assert alternatives(two_clouds(), TWO_CLOUDS, directions=2,
                            executor=pool).to_dict() == here


def test_an_unknown_dimension_is_refused():
    with pytest.raises(AnalysisError, match="no dimension cloud_gpu_hours.azure"):
        alternatives(two_clouds(), TWO_CLOUDS, dims=["cloud_gpu_hours.azure"])
    with pytest.raises(AnalysisError, match="--slack"):
        alternatives(two_clouds(), TWO_CLOUDS, slack=-0.1)


# --- the command ------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    from .test_commands import CATALOG, PLAN

    path = tmp_path / "box.toml"
    path.write_text(PLAN)
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    return path, cat


def test_the_command_writes_spec_json(files, tmp_path, capsys):
    path, cat = files
    assert main(["alternatives", str(path), "--catalog", str(cat), "--workers", "1",
                 "--dims", "cloud_gpu_hours,onprem_gpus", "--directions", "2",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["slack"] == 0.05 and doc["optimum_npv_usd"] == pytest.approx(53_160.0)
    assert [d["dim"] for d in doc["dims"]] == ["cloud_gpu_hours", "onprem_gpus"]
    first = doc["dims"][0]
    assert set(first) >= {"dim", "min", "max", "npv_at_min_usd", "npv_at_max_usd"}
    assert first["max"] == pytest.approx(2_835.2, rel=1e-6)
    assert first["at_max"]["procurement"][0]["server"] == "box"
    assert len(doc["points"]) == 2
    assert set(doc["points"][0]) == {"weights", "values", "npv_usd"}
    assert set(doc["points"][0]["weights"]) <= {"cloud_gpu_hours", "onprem_gpus"}


def test_the_command_table_csv_and_html(files, tmp_path, capsys):
    path, cat = files
    common = ["alternatives", str(path), "--catalog", str(cat), "--workers", "1",
              "--dims", "cloud_gpu_hours,onprem_gpu_hours", "--directions", "2"]
    assert main(common) == 0
    out = capsys.readouterr().out
    assert "2,835 GPU-h" in out and "$55,818" in out
    assert main([*common, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("dim,optimum,min,max,npv_at_min_usd,npv_at_max_usd")
    assert len(lines) == 3
    page = tmp_path / "alt.html"
    assert main([*common, "--format", "html", "-o", str(page)]) == 0
    text = page.read_text()
    assert text.count("<figure>") == 2 and 'id="recommendation"' in text
    assert "GPU-hours on any cloud" in text


def test_the_command_refuses_bad_dimensions(files, capsys):
    path, cat = files
    assert main(["alternatives", str(path), "--catalog", str(cat), "--dims", "gpus"]) == 2
    err = capsys.readouterr().err
    assert "--dims: no dimension gpus" in err and "onprem_gpus" in err and "Traceback" not in err
    assert main(["alternatives", str(path), "--catalog", str(cat), "--plot", "a"]) == 2
    assert "--plot" in capsys.readouterr().err
