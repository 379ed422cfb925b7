"""The real `tco` command against a loopback stand-in speaking the Azure Retail Prices API:
refresh → cache → list → compare, then with the stand-in gone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "azure"
PAGES = {"Virtual Machines": ["retail_vm_page1.json", "retail_vm_page2.json"],
         "Storage": ["retail_storage_page1.json"], "Bandwidth": ["retail_bandwidth_page1.json"]}


class RetailStandIn(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        RetailStandIn.requests.append(self.path)
        query = parse_qs(urlsplit(self.path).query)
        filter_ = query["$filter"][0]
        skip = int(query.get("$skip", ["0"])[0])
        service = re.search(r"serviceName eq '([^']+)'", filter_).group(1)  # type: ignore[union-attr]
        offset, page = 0, None
        for name in PAGES[service]:
            candidate = json.loads((FIXTURES / name).read_text())
            if offset == skip:
                page = candidate
                break
            offset += candidate["Count"]
        if page is None:
            self.send_response(404)
            self.end_headers()
            return
        link = page["NextPageLink"]
        if link:
            nxt = parse_qs(urlsplit(link).query)["$skip"][0]
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            link = f"{host}/api/retail/prices?" + urlencode(
                {"api-version": query["api-version"][0], "$filter": filter_, "$skip": nxt})
        body = json.dumps({**page, "NextPageLink": link}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


PLAN = """
[plan]
name = "azure only"
start = "2027-01"
months = 2
discount_rate = 0
[cloud]
providers = ["azure"]
regions = ["eastus"]
[[workloads]]
name = "train"
kind = "training"
gpu = "H100"
gpu_hours = 800
"""


def _tco(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tco.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


@pytest.mark.enable_socket
def test_refresh_cache_list_compare_against_a_loopback_stand_in(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RetailStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    RetailStandIn.requests = []
    env = {k: v for k, v in os.environ.items() if k != "TCO_OFFLINE"}
    env.update(TCO_CACHE_DIR=str(tmp_path / "cache"),
               TCO_AZURE_RETAIL_URL=f"http://127.0.0.1:{server.server_address[1]}/api/retail/prices")
    try:
        done = _tco("prices", "refresh", "--provider", "azure", env=env)
        assert done.returncode == 0, done.stderr
        assert "azure" in done.stdout and "ok" in done.stdout
        first = len(RetailStandIn.requests)
        assert first >= 4                      # VM pages 1 and 2, storage, bandwidth

        listed = _tco("prices", "list", "--provider", "azure", "--region", "eastus", "--format",
                      "json", env=env)
        rows = json.loads(listed.stdout)
        h100 = [r for r in rows if r["instance_type"] == "Standard_ND96isr_H100_v5"]
        assert {(r["purchase"], r["usd_per_hour"], r["source"]) for r in h100} >= {
            ("on_demand", 100.0, "live"), ("spot", 30.0, "live")}
        nc40 = {r["purchase"]: r["usd_per_hour"] for r in rows
                if r["instance_type"] == "Standard_NC40ads_H100_v5"}
        assert nc40["reserved_1y"] == pytest.approx(10.0)   # 87,600 / 8,760 h

        plan = tmp_path / "plan.toml"
        plan.write_text(PLAN)
        compared = _tco("compare", str(plan), "--format", "json", env=env)
        assert compared.returncode == 0, compared.stderr
        doc = json.loads(compared.stdout)
        assert {p["provider"]: p["source"] for p in doc["prices"]}["azure"].startswith("live")
        assert len(RetailStandIn.requests) == first   # within the TTL: no network call
    finally:
        server.shutdown()
        server.server_close()

    # the stand-in is gone: list and compare still work from the cache
    listed = _tco("prices", "list", "--provider", "azure", "--format", "json", env=env)
    assert listed.returncode == 0 and any(r["source"] == "live" for r in json.loads(listed.stdout))
    compared = _tco("compare", str(plan), "--format", "json", "--offline", env=env)
    assert compared.returncode == 0, compared.stderr
    info = _tco("cache", "info", env=env)
    assert "azure:" in info.stdout and "fresh" in info.stdout
