"""The GPU clouds' prices from gpuhunt's catalogs (SPEC 18): read from a directory, and
downloaded from a loopback stand-in of the published bucket; what is kept, what is left out,
and the date each record carries."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tco.pricing.errors import PricingError
from tco.pricing.gpuclouds import GpuhuntAdapter, gpu_class, read_items, records, version_date
from tco.pricing.live import refresh_all
from tco.pricing.models import Provider, Purchase, Source
from tco.pricing.settings import PricingSettings

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gpuhunt"


def _settings(tmp_path: Path, catalog_from: str | None = None) -> PricingSettings:
    return PricingSettings(cache_dir=tmp_path / "cache", retries=0, catalog_from=catalog_from)


def test_a_catalog_version_is_dated_by_its_first_eight_digits():
    assert version_date("20261201-2\n", "v") == dt.date(2026, 12, 1)
    with pytest.raises(PricingError, match="expected a catalog version"):
        version_date("<html>", "https://example/version")
    with pytest.raises(PricingError, match="does not start with a date"):
        version_date("20261341-1", "v")


@pytest.mark.parametrize(("name", "memory", "instance", "expected"), [
    ("H100", 80.0, "gpu_8x_h100_sxm5", "H100"),
    ("H100", 80.0, "NVIDIA H100 80GB HBM3", "H100"),
    ("H100", 80.0, "gpu_1x_h100_pcie", None),          # the PCIe card is not the SXM part
    ("H100", 80.0, "NVIDIA H100 PCIe", None),
    ("H100", 94.0, "NVIDIA H100 NVL", "H100-NVL"),
    ("H200", 141.0, "NVIDIA H200 NVL", None),
    ("H200", 141.0, "BM.GPU.H200.8", "H200"),
    ("A100", 40.0, "gpu_1x_a100", "A100-40GB"),
    ("A100", 80.0, "NVIDIA A100-SXM4-80GB", "A100-80GB"),
    ("B200", 180.0, "gpu_8x_b200_sxm6", "B200"),
    ("L40S", 48.0, "gpu-l40s-a 1gpu-8vcpu-32gb", "L40S"),
    ("L40S", 24.0, "odd", None),                        # memory far from the class's
    ("GH200", 96.0, "gpu_1x_gh200", None),              # no class in gpus.csv
    (None, None, "cpu-only", None),
])
def test_a_gpuhunt_item_maps_to_the_class_of_its_part(name, memory, instance, expected):
    assert gpu_class(name, memory, instance) == expected


def test_a_directory_catalog_is_read_by_gpuhunt_and_dated_by_its_version_stamp(tmp_path):
    folder = tmp_path / "catalogs"
    folder.mkdir()
    shutil.copy(FIXTURES / "runpod.csv", folder / "runpod.csv")
    (folder / "runpod.version").write_text("20261201-2\n")
    result = GpuhuntAdapter(Provider.RUNPOD, _settings(tmp_path, str(folder))).fetch()
    got = {(r.region, r.instance_type, r.gpu_count): r for r in result.compute}
    assert set(got) == {("US-TX-3", "1x NVIDIA H100 80GB HBM3", 1),
                        ("US-TX-3", "8x NVIDIA H100 80GB HBM3", 8),
                        ("US", "1x NVIDIA H100 80GB HBM3", 1),
                        ("EU-RO-1", "1x NVIDIA A100-SXM4-80GB", 1)}
    one = got[("US-TX-3", "1x NVIDIA H100 80GB HBM3", 1)]
    assert (one.provider, one.gpu, one.purchase, one.usd_per_hour, one.vcpus, one.memory_gib) == \
        ("runpod", "H100", Purchase.ON_DEMAND, 2.69, 24, 188.0)
    assert one.source == Source.LIVE and one.as_of == dt.date(2026, 12, 1)
    assert one.source_ref.startswith(str(folder / "runpod.csv"))
    assert got[("EU-RO-1", "1x NVIDIA A100-SXM4-80GB", 1)].gpu == "A100-80GB"
    # the cluster offer, the CPU-only item and the PCIe card are left out, and said so
    said = " | ".join(result.warnings)
    assert "1 item(s) of the catalog: cluster offers" in said
    assert "1 item(s) of the catalog: CPU-only" in said
    assert "1 item(s) of the catalog: H100 PCIe or NVL cards" in said


def test_without_a_version_stamp_a_directory_catalog_is_dated_by_the_file(tmp_path):
    folder = tmp_path / "catalogs"
    folder.mkdir()
    shutil.copy(FIXTURES / "runpod.csv", folder / "runpod.csv")
    stamp = dt.datetime(2026, 10, 3, 12, 0, tzinfo=dt.UTC).timestamp()
    os.utime(folder / "runpod.csv", (stamp, stamp))
    result = GpuhuntAdapter(Provider.RUNPOD, _settings(tmp_path, str(folder))).fetch(["EU-RO-1"])
    assert [(r.region, r.as_of) for r in result.compute] == [("EU-RO-1", dt.date(2026, 10, 3))]


def test_a_missing_or_malformed_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(PricingError, match=r"lambdalabs\.csv: no such file"):
        GpuhuntAdapter(Provider.LAMBDA, _settings(tmp_path, str(tmp_path))).fetch()
    (tmp_path / "oci.csv").write_text("instance_name,location\nBM.GPU.H100.8,us-ashburn-1\n")
    with pytest.raises(PricingError, match=r"oci\.csv: not a gpuhunt catalog .*gpu_count"):
        read_items(tmp_path, "oci")
    # a catalog with one bad row among good ones is read, and the row is reported
    text = (FIXTURES / "runpod.csv").read_text()
    (tmp_path / "runpod.csv").write_text(text + "broken,US-TX-3,abc,1,1,1,H100,80,False,,,,,\n")
    items, warnings = read_items(tmp_path, "runpod")
    assert len(items) == 7
    assert warnings and "skipped 1 malformed row(s)" in warnings[0]


def test_the_cheapest_of_an_offer_listed_twice_is_kept(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    text = (FIXTURES / "runpod.csv").read_text().splitlines()
    (folder / "runpod.csv").write_text("\n".join([*text, text[1].replace("2.69", "2.59")]) + "\n")
    items, _ = read_items(folder, "runpod")
    source = GpuhuntAdapter(Provider.RUNPOD, _settings(tmp_path, str(folder)))._local(folder)
    kept, _ = records(items, "runpod", source, ["US-TX-3"])
    ones = [r.usd_per_hour for r in kept if r.gpu_count == 1 and r.gpu == "H100"]
    assert ones == [2.59]


class Bucket(BaseHTTPRequestHandler):
    """gpuhunt's published layout: ``/v3/<provider>/version`` and
    ``/v3/<provider>/<version>/catalog.zip`` holding ``<provider>.csv``."""

    version: ClassVar[str] = "20261201-2"
    requests: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Bucket.requests.append(self.path)
        body: bytes | None = None
        if self.path == "/v3/runpod/version":
            body = f"{Bucket.version}\n".encode()
        elif self.path == f"/v3/runpod/{Bucket.version}/catalog.zip":
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w") as archive:
                archive.write(FIXTURES / "runpod.csv", "runpod.csv")
            body = data.getvalue()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@pytest.fixture
def bucket():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Bucket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Bucket.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.enable_socket
def test_a_published_catalog_is_downloaded_and_dated_by_its_version(tmp_path, bucket):
    result = GpuhuntAdapter(Provider.RUNPOD, _settings(tmp_path, bucket)).fetch()
    assert Bucket.requests == ["/v3/runpod/version", "/v3/runpod/20261201-2/catalog.zip"]
    assert {r.as_of for r in result.compute} == {dt.date(2026, 12, 1)}
    assert all(r.source_ref.startswith(f"{bucket}/runpod/20261201-2/catalog.zip#")
               for r in result.compute)
    assert len(result.compute) == 4


@pytest.mark.enable_socket
def test_a_provider_without_the_catalog_fails_alone_and_one_without_a_source_says_so(
        tmp_path, bucket):
    outcomes = {o.provider: o for o in refresh_all(["runpod", "lambda", "crusoe"],
                                                   _settings(tmp_path, bucket))}
    assert outcomes["runpod"].ok and outcomes["runpod"].records == 4
    assert not outcomes["lambda"].ok and "HTTP 404" in (outcomes["lambda"].message or "")
    assert not outcomes["crusoe"].ok and outcomes["crusoe"].reason == "no live source"
    assert "no public price API" in (outcomes["crusoe"].message or "")


def _tco(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tco.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


@pytest.mark.enable_socket
def test_refresh_from_the_bucket_needs_no_credentials_and_lists_dated_rows(tmp_path, bucket):
    env = {k: v for k, v in os.environ.items()
           if k != "TCO_OFFLINE" and not k.startswith(("AWS_", "GOOGLE_", "AZURE_"))}
    env["TCO_CACHE_DIR"] = str(tmp_path / "cache")
    done = _tco("prices", "refresh", "--provider", "runpod", "--from", bucket, env=env)
    assert done.returncode == 0, done.stderr
    assert "runpod" in done.stdout and "ok" in done.stdout
    listed = _tco("prices", "list", "--provider", "runpod", "--region", "US-TX-3", "--format",
                  "json", env=env)
    rows = [r for r in json.loads(listed.stdout) if r["source"] == "live"]
    assert {(r["instance_type"], r["gpu_count"], r["usd_per_hour"], r["as_of"]) for r in rows} \
        == {("1x NVIDIA H100 80GB HBM3", 1, 2.69, "2026-12-01"),
            ("8x NVIDIA H100 80GB HBM3", 8, 21.52, "2026-12-01")}


def test_from_names_gpuhunt_catalogs_only(tmp_path):
    env = {**os.environ, "TCO_CACHE_DIR": str(tmp_path / "cache")}
    done = _tco("prices", "refresh", "--provider", "aws", "--from", str(tmp_path), env=env)
    assert done.returncode == 2
    assert "--from reads gpuhunt catalogs" in done.stderr and "not for aws" in done.stderr
    assert "Traceback" not in done.stderr
