"""Generate a large plan: 50 workloads over every GPU class AWS, GCP and Azure sell, 36 months.

    python benchmarks/generate_plan.py [WORKLOADS [SEED [MONTHS]]] > /tmp/large.toml

Deterministic (seeded): a mix of training runs of every GPU class those clouds sell, some
interruptible, some single-venue with datasets at the site, and inference services with users
in several metros, latency bounds, availability targets, egress and storage; one colocation
site with two server types.
"""

from __future__ import annotations

import random
import sys

from tco.pricing import load_catalog

METRO_SETS = [{"us-east": 0.6, "us-west": 0.4}, {"eu-west": 0.5, "eu-central": 0.5},
              {"us-east": 0.5, "eu-west": 0.3, "us-central": 0.2}, {"ap-northeast": 1.0},
              {"us-central": 1.0}, {"ap-southeast": 0.7, "ap-northeast": 0.3}]


SERVING_CLASSES = ["L4 = 1.0, L40S = 2.0, A10G = 0.8", "H100 = 1.0, H200 = 1.3, A100-80GB = 0.5",
                   "L4 = 1.0", "A100-80GB = 1.0, A100-40GB = 0.8, H100 = 1.8"]


def generate(n: int = 50, months: int = 36, seed: int = 7) -> str:
    rng = random.Random(seed)
    # the classes the plan's clouds (the default three) sell: the GPU clouds of the snapshot
    # sell classes (GB200) that none of them does
    gpus = sorted({r.gpu for r in load_catalog(offline=True).compute
                   if r.provider in ("aws", "gcp", "azure")})
    out = [
        "[plan]", f'name = "generated: {n} workloads, {months} months"', 'start = "2027-01"', f"months = {months}",
        "discount_rate = 0.08", "capex_budget_usd = 6_000_000", "",
        "[[onprem.sites]]", 'name = "colo"', 'location = "us-east"', "power_kw = 800",
        "pue = 1.35", "electricity_usd_per_kwh = 0.09", "colo_usd_per_kw_month = 160",
        "staff_usd_per_server_month = 300", "storage_usd_per_tb_month = 8",
        "egress_usd_per_gb = 0.004", "availability = 0.999", "",
    ]
    for name, gpu, price, kw in (("hgx-h100", "H100", 250_000, 10.2),
                                 ("l40s-box", "L40S", 70_000, 3.5)):
        out += ["[[onprem.servers]]", f'name = "{name}"', f'gpu = "{gpu}"', "gpus = 8",
                f"price_usd = {price}", f"power_kw = {kw}", "residual_fraction = 0.1",
                "lead_time_months = 3", ""]
    for i in range(n):
        gpu = gpus[i % len(gpus)]
        out.append("[[workloads]]")
        if i % 2 == 0:
            start = rng.randrange(0, months - 6)
            length = rng.randrange(3, min(18, months - start) + 1)
            out += [f'name = "train-{i}"', 'kind = "training"', f'gpu = "{gpu}"',
                    f"gpu_hours = {rng.randrange(5, 200) * 1000}",
                    (f'window = ["{2027 + start // 12}-{start % 12 + 1:02d}", '
                     f'"{2027 + (start + length - 1) // 12}-{(start + length - 1) % 12 + 1:02d}"]')]
            if rng.random() < 0.5:
                out += ["interruptible = true", "spot_overhead = 0.1"]
            if gpu in ("H100", "L40S") and rng.random() < 0.5:
                out += [f"dataset_tb = {rng.randrange(5, 100)}", 'data_at = "colo"',
                        "single_venue = true"]
        else:
            users = METRO_SETS[i % len(METRO_SETS)]
            shares = ", ".join(f"{k} = {v}" for k, v in users.items())
            table = SERVING_CLASSES[(i // 2) % len(SERVING_CLASSES)]
            out += [f'name = "serve-{i}"', 'kind = "inference"', f"gpu = {{ {table} }}",
                    f"gpus = {rng.randrange(1, 24)}",
                    f"growth_per_month = {rng.choice([0.0, 0.01, 0.03])}",
                    f"users = {{ {shares} }}", f"max_latency_ms = {rng.choice([60, 90, 150])}",
                    f"availability = {rng.choice([0.99, 0.999, 0.9995])}",
                    f"egress_tb_per_month = {rng.randrange(0, 10)}",
                    f"storage_tb = {rng.randrange(0, 3)}"]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    months = int(sys.argv[3]) if len(sys.argv) > 3 else 36
    if months < 12:
        sys.exit("generate_plan.py: MONTHS must be at least 12")
    sys.stdout.write(generate(n, months, seed))
