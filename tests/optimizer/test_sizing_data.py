"""The measured serving throughput of pricing/data/throughput.csv against the figures its sources
print (a row's per-GPU value is the published replica or system total over its GPUs), the
convention that picks each default row, and inference workloads sized on the classes those rows
cover (or leave out) against hand-computed GPU counts."""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest

from tco.optimizer import PlanError, plan_from_dict
from tco.optimizer.planfile import Precision
from tco.optimizer.sizing import table_throughput
from tco.pricing.reference import ThroughputFigure, gpu_classes, throughput_figures
from tests.conftest import plan_doc

TRT_0_13 = "https://github.com/NVIDIA/TensorRT-LLM/blob/v0.13.0/docs/source/performance/perf-overview.md"
TRT_0_17 = ("https://github.com/NVIDIA/TensorRT-LLM/blob/258c7540c03517def55d9a5aadfa9288af474e1b/"
            "docs/source/performance/perf-overview.md")
TRT_1_0 = ("https://github.com/NVIDIA/TensorRT-LLM/blob/00f37686aa854010d68bcbd0f4ab000221541ca6/"
           "docs/source/performance/perf-overview.md")
MLPERF_5_1 = ("https://github.com/mlcommons/inference_results_v5.1/blob/"
              "965182b03376a00fcae415c54e560e1c83937932/closed/")


def _summary(submitter: str, system: str, model: str) -> str:
    return (f"{MLPERF_5_1}{submitter}/results/{system}/{model}/Offline/performance/run_1/"
            "mlperf_log_summary.txt")


# (gpu, model size in B, precision, GPUs per replica, total tokens/s as the source prints it,
#  GPUs that total is over, input/output tokens, default, source, as_of)
SOURCED = [
    # TensorRT-LLM v0.17 perf overview, L40S column (FP8), Llama 3.1 8B TP1 and 70B TP4 / TP8
    ("L40S", 8, "fp8", 1, 5_365.81, 1, (128, 2048), False, TRT_0_17, "2025-01-30"),
    ("L40S", 8, "fp8", 1, 4_054.71, 1, (1000, 1000), True, TRT_0_17, "2025-01-30"),
    ("L40S", 70, "fp8", 4, 1_942.66, 4, (128, 2048), False, TRT_0_17, "2025-01-30"),
    ("L40S", 70, "fp8", 4, 1_209.25, 4, (1000, 1000), True, TRT_0_17, "2025-01-30"),
    ("L40S", 70, "fp8", 8, 2_303.31, 8, (128, 2048), False, TRT_0_17, "2025-01-30"),
    ("L40S", 70, "fp8", 8, 1_333.62, 8, (1000, 1000), False, TRT_0_17, "2025-01-30"),
    # MLPerf Inference v5.1, closed, Offline: tokens per second of the whole system
    ("L40S", 8, "fp8", 1, 1_642.22, 1, None, False,
     _summary("RedHat", "IBM_Cloud_gx3-48x240x2l40s_vLLM", "llama3.1-8b"), "2025-09-09"),
    ("B200", 8, "fp4", 1, 136_752, 8, None, True,
     _summary("NVIDIA", "B200-SXM-180GBx8_TRT", "llama3.1-8b"), "2025-09-09"),
    ("B200", 70, "fp4", 1, 101_527, 8, None, False,
     _summary("NVIDIA", "B200-SXM-180GBx8_TRT", "llama2-70b-99"), "2025-09-09"),
    ("B200", 405, "fp4", 4, 1_624.11, 8, None, False,
     _summary("NVIDIA", "B200-SXM-180GBx8_TRT", "llama3.1-405b"), "2025-09-09"),
    # TensorRT-LLM v1.0 perf overview, GB200 column (FP4), Llama 3.3 70B TP1 and 3.1 405B TP4
    ("GB200", 70, "fp4", 1, 11_309, 1, (128, 2048), False, TRT_1_0, "2025-09-22"),
    ("GB200", 70, "fp4", 1, 7_326, 1, (1000, 1000), True, TRT_1_0, "2025-09-22"),
    ("GB200", 405, "fp4", 4, 8_151, 4, (128, 2048), False, TRT_1_0, "2025-09-22"),
    ("GB200", 405, "fp4", 4, 5_389, 4, (1000, 1000), True, TRT_1_0, "2025-09-22"),
]


_TOTAL = re.compile(r"total ([\d,]+(?:\.\d+)?) tok/s over (\d+) GPU")


def _note_total(f: ThroughputFigure) -> tuple[float, int]:
    """The replica's (or the system's) total tokens/s and its GPUs, as the row's note states them."""
    match = _TOTAL.search(f.note)
    assert match, f
    return float(match.group(1).replace(",", "")), int(match.group(2))


def _find(gpu: str, size: int, precision: str, gpus: int, shape: tuple[int, int] | None,
          source: str) -> ThroughputFigure:
    isl, osl = shape if shape else (None, None)
    (row,) = [f for f in throughput_figures()
              if (f.gpu, f.model_params_b, f.precision, f.gpus_per_replica, f.isl, f.osl,
                  f.source) == (gpu, size, precision, gpus, isl, osl, source)]
    return row


def _id(r: tuple) -> str:
    shape = "{}-{}".format(*r[6]) if r[6] else "dataset"
    return f"{r[0]}-{r[1]}B-{r[2]}-x{r[3]}-{shape}-{r[9]}"


@pytest.mark.parametrize(("gpu", "size", "precision", "gpus", "total", "over", "shape", "default",
                          "source", "as_of"), SOURCED, ids=[_id(r) for r in SOURCED])
def test_each_row_is_its_sources_total_over_its_gpus(gpu, size, precision, gpus, total, over,
                                                       shape, default, source, as_of):
    row = _find(gpu, size, precision, gpus, shape, source)
    assert row.tokens_per_s_per_gpu == pytest.approx(total / over, abs=0.0501)
    assert _note_total(row) == (total, over)
    assert row.default is default
    assert row.as_of == as_of


def test_the_older_l40s_rows_stay_for_reference_but_no_longer_size():
    # TensorRT-LLM v0.13: 3,648.21 tok/s (8B, 1 GPU) and 1,113.18 tok/s (70B, 4 GPUs) at
    # 1000/1000 tokens; v0.17 measured the same shapes, so its rows are the defaults
    old_8b = _find("L40S", 8, "fp8", 1, (1000, 1000), TRT_0_13)
    old_70b = _find("L40S", 70, "fp8", 4, (1000, 1000), TRT_0_13)
    assert old_8b.tokens_per_s_per_gpu == pytest.approx(3_648.21, abs=0.0501)
    assert old_70b.tokens_per_s_per_gpu == pytest.approx(1_113.18 / 4, abs=0.0501)
    assert not old_8b.default and not old_70b.default


def test_every_row_is_the_total_in_its_note_over_its_gpus():
    for f in throughput_figures():
        total, over = _note_total(f)
        assert f.tokens_per_s_per_gpu == pytest.approx(total / over, abs=0.0501), f
        assert f.gpu in gpu_classes() and f.source.startswith("https://"), f


def test_one_default_per_class_size_and_precision_the_newest_1000_1000_run_where_measured():
    rows: dict[tuple[str, float, str], list[ThroughputFigure]] = defaultdict(list)
    for f in throughput_figures():
        rows[(f.gpu, f.model_params_b, f.precision)].append(f)
    for key, figures in rows.items():
        defaults = [f for f in figures if f.default]
        assert len(defaults) <= 1, key
        square = [f for f in figures if (f.isl, f.osl) == (1000, 1000)]
        if square:
            (chosen,) = defaults
            assert (chosen.isl, chosen.osl) == (1000, 1000), key
            assert chosen.as_of == max(f.as_of for f in square), key


# --- sizing on the classes the rows cover ------------------------------------------------------

def _chat(gpu: list[str], params: float, precision: str, tps: float, **kw) -> dict:
    return {"name": "chat", "kind": "inference", "gpu": gpu, "growth_per_month": 0.0,
            "model": {"params": params, "precision": precision}, "tokens_per_second": tps, **kw}


def _sized(*args, **kw):
    loaded = plan_from_dict(plan_doc(_chat(*args, **kw)))
    (z,) = loaded.sizings
    return loaded.plan.workloads[0], {c.gpu: c for c in z.classes}


def test_l40s_gpus_from_the_tensorrt_llm_0_17_rows():
    # 8B fp8: 40,000 tokens/s / 4,054.7 tokens/s per GPU = 9.865 GPUs
    w, classes = _sized(["L40S"], 8e9, "fp8", 40_000)
    assert w.gpus == pytest.approx(40_000 / 4_054.7, rel=1e-12)
    assert w.gpus == pytest.approx(9.865, abs=5e-4)
    assert TRT_0_17 in classes["L40S"].source
    # 70B fp8: 6,000 / (1,209.25 / 4 = 302.3) = 19.85 GPUs; 84 GB of weights need 2 L40S (48 GB)
    w, classes = _sized(["L40S"], 70e9, "fp8", 6_000)
    assert w.gpus == pytest.approx(6_000 / 302.3, rel=1e-12)
    assert classes["L40S"].min_gpus == 2


def test_l40s_between_8b_and_70b_is_log_log():
    # 4,054.7 x (30/8) ** (ln(302.3/4054.7) / ln(70/8)) = 833.45 tokens/s per GPU at 30B
    found = table_throughput("L40S", 30e9, Precision.FP8)
    slope = math.log(302.3 / 4_054.7) / math.log(70 / 8)
    assert found is not None and found[0] == pytest.approx(4_054.7 * (30 / 8) ** slope, rel=1e-12)
    assert found[0] == pytest.approx(833.45, abs=0.01)


def test_b200_gpus_from_mlperf_at_8b_and_tensorrt_llm_at_70b():
    # 8B fp4: 40,000 / (136,752 / 8 = 17,094.0) = 2.34 GPUs
    w, classes = _sized(["B200"], 8e9, "fp4", 40_000)
    assert w.gpus == pytest.approx(40_000 / 17_094.0, rel=1e-12)
    assert "B200-SXM-180GBx8_TRT/llama3.1-8b" in classes["B200"].source
    # 70B fp4 is still TensorRT-LLM 1.0 at 1000/1000 tokens: 6,000 / 7,007 = 0.856 GPUs
    w, _ = _sized(["B200"], 70e9, "fp4", 6_000)
    assert w.gpus == pytest.approx(6_000 / 7_007.0, rel=1e-12)
    # 30B fp4: 17,094 x (30/8) ** (ln(7007/17094) / ln(70/8)) = 9,927.2 tokens/s per GPU
    found = table_throughput("B200", 30e9, Precision.FP4)
    assert found is not None and found[0] == pytest.approx(9_927.2, abs=0.0501)


def test_b200_has_no_fp8_or_bf16_measurement_so_it_is_left_out():
    w, classes = _sized(["H100", "B200"], 8e9, "fp8", 40_000)
    assert w.gpus == pytest.approx(40_000 / 15_220.0, rel=1e-12)     # H100 TensorRT-LLM 1.0
    assert "no measured throughput for B200 serving fp8 weights" in classes["B200"].excluded
    assert table_throughput("B200", 8e9, Precision.BF16) is None


def test_gb200_is_a_class_and_sizes_from_the_tensorrt_llm_1_0_rows():
    spec = gpu_classes()["GB200"]
    assert (spec.memory_gib, spec.bf16_dense_tflops, spec.memory_bandwidth_gbps, spec.tdp_w) == (
        186, 2500, 8000, 1200)
    # 70B fp4: 6,000 / 7,326 = 0.819 GPUs; 42 GB of weights fit one 186 GB GPU
    w, classes = _sized(["GB200"], 70e9, "fp4", 6_000)
    assert w.gpus == pytest.approx(6_000 / 7_326.0, rel=1e-12)
    assert classes["GB200"].min_gpus == 1
    # 405B fp4: 5,389 / 4 = 1,347.25 per GPU; 243 GB of weights need 2 GPUs
    w, classes = _sized(["GB200"], 405e9, "fp4", 6_000)
    assert w.gpus == pytest.approx(6_000 / 1_347.2, rel=1e-12)
    assert classes["GB200"].min_gpus == 2


@pytest.mark.parametrize(("gpu", "min_gpus"), [("A10", 1), ("T4", 2), ("L4", 1)])
def test_a10_t4_and_l4_have_no_published_measurement_and_are_left_out(gpu, min_gpus):
    # 8B bf16 = 8e9 x 2 x 1.2 = 19.2 GB: one 24 GB A10 or L4 holds it, a 16 GB T4 does not
    w, classes = _sized(["H100", gpu], 8e9, "bf16", 40_000)
    assert w.gpus == pytest.approx(40_000 / 7_160.9, rel=1e-12)      # H100 fp16, TensorRT-LLM
    assert f"no measured throughput for {gpu} serving bf16 weights" in classes[gpu].excluded
    assert f"throughput = {{ {gpu} = ... }}" in classes[gpu].excluded
    assert classes[gpu].min_gpus == min_gpus
    for precision in (Precision.BF16, Precision.FP8, Precision.FP4):
        assert table_throughput(gpu, 8e9, precision) is None
    # the plan's own measurement sizes it: 40,000 / 900 = 44.4 GPUs
    w, _ = _sized([gpu], 8e9, "bf16", 40_000, throughput={gpu: 900.0})
    assert w.gpus == pytest.approx(40_000 / 900.0, rel=1e-12)


def test_only_unmeasured_classes_is_an_error_naming_each():
    with pytest.raises(PlanError) as exc:
        plan_from_dict(plan_doc(_chat(["A10", "T4", "L4"], 8e9, "bf16", 1_000)))
    text = str(exc.value)
    assert all(f"{gpu}: no measured throughput for {gpu}" in text for gpu in ("A10", "T4", "L4"))
