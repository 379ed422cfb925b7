"""Refreshing the snapshot's spot rows from gpuhunt's catalogs of AWS, Azure and GCP: which
rows take the catalog's price, source and date, which are added, which stay with their old
date, and that nothing else in the file changes. The catalogs under fixtures/gpuhunt are in
gpuhunt's published layout; their prices are made up for these tests."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tco.pricing.gpuclouds import CatalogFile
from tco.pricing.models import Provider
from tco.pricing.settings import PricingSettings
from tco.pricing.snapshot_spot import (
    SpotQuote,
    main,
    read_rows,
    refresh_rows,
    refresh_snapshot,
    region_of,
    write_rows,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "gpuhunt"
SNAPSHOT = Path(__file__).parents[2] / "pricing" / "data" / "snapshot"
HEADER = ("provider,region,instance_type,gpu,gpu_count,gpu_memory_gib,vcpus,memory_gib,purchase,"
          "recurring_usd_per_hour,upfront_usd,term_months,source_ref,as_of\n")
OLD = "https://example.org/prices.json"
ROWS = [
    "aws,us-east-1,g5.xlarge,A10G,1,24,4,16,on_demand,1.006,0,0,https://example.org/od.js,2026-08-26",
    f"aws,us-east-1,g5.xlarge,A10G,1,24,4,16,spot,0.3837,0,0,{OLD},2025-11-30",
    f"aws,eu-west-1,g5.xlarge,A10G,1,24,4,16,spot,0.5795,0,0,{OLD},2027-01-04",
    f"aws,us-west-2,g5.xlarge,A10G,1,24,4,16,spot,0.5226,0,0,{OLD},2025-11-30",
    f"aws,us-east-1,g5.2xlarge,A10G,1,24,8,32,spot,0.4626,0,0,{OLD},2025-11-30",
    f"aws,us-east-1,p5.48xlarge,H100,8,80,192,2048,spot,36.0,0,0,{OLD},2025-11-30",
    f"aws,us-east-1,p5.48xlarge,H100,8,80,192,2048,reserved_1y,0,398522.00,12,{OLD},2025-11-30",
    ("aws,ap-southeast-1,p4d.24xlarge,A100-40GB,8,40,96,1152,on_demand,26.34917,0,0,"
    "https://example.org/od.js,2026-08-26"),
    (f"aws,ap-southeast-1,p4d.24xlarge,A100-40GB,8,40,96,1152,reserved_1y,0,136583.00,12,{OLD},"
    "2025-11-30"),
]


def _snapshot(tmp_path: Path, name: str = "aws", rows: list[str] = ROWS) -> Path:
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / f"compute_{name}.csv").write_text(HEADER + "".join(r + "\n" for r in rows))
    return folder


def _catalogs(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "catalogs"
    folder.mkdir()
    for name in names:
        shutil.copy(FIXTURES / f"{name}.csv", folder / f"{name}.csv")
        (folder / f"{name}.version").write_text("20261201-2\n")
    return folder


def _settings(tmp_path: Path) -> PricingSettings:
    return PricingSettings(cache_dir=tmp_path / "cache", retries=0)


def test_spot_rows_take_the_catalogs_price_source_and_date_and_nothing_else_moves(tmp_path):
    folder = _snapshot(tmp_path)
    catalogs = _catalogs(tmp_path, "aws")
    lines = refresh_snapshot(Provider.AWS, folder, str(catalogs), _settings(tmp_path))
    ref = f"{catalogs / 'aws.csv'}#"
    after = (folder / "compute_aws.csv").read_text().splitlines()
    assert after == [HEADER.rstrip("\n"),
                     ROWS[0],
                     # the catalog's price, the catalog and item as source, its version's date
                     (f"aws,us-east-1,g5.xlarge,A10G,1,24,4,16,spot,0.4123,0,0,"
                     f"{ref}g5.xlarge@us-east-1,2026-12-01"),
                     ROWS[2],      # already more recent than the catalog
                     ROWS[3],      # not in the catalog: kept, with its date
                     ROWS[4],      # the catalog's price is 0: not a price
                     (f"aws,us-east-1,p5.48xlarge,H100,8,80,192,2048,spot,31.4675,0,0,"
                     f"{ref}p5.48xlarge@us-east-1,2026-12-01"),
                     ROWS[6],      # reservations are not the catalog's to change
                     ROWS[7],
                     # priced on demand with no spot row: one is added beside it, same shape
                     (f"aws,ap-southeast-1,p4d.24xlarge,A100-40GB,8,40,96,1152,spot,11.2044,0,0,"
                     f"{ref}p4d.24xlarge@ap-southeast-1,2026-12-01"),
                     ROWS[8]]
    assert lines[0] == (f"{folder / 'compute_aws.csv'}: 2 spot row(s) updated and 1 added from "
                        f"{catalogs / 'aws.csv'} (2026-12-01)")
    assert "  1 spot row(s) already as recent as the catalog, kept" in lines
    assert ("  spot rows the catalog does not price, kept with their dates: 2 of 2025-11-30"
            in lines)
    # p5.48xlarge in us-east-1 went from $36 to $31.4675: within a factor of 1.5, not named
    assert not any("moved by" in line for line in lines)
    # g5.xlarge in af-south-1: a region the file does not list
    assert ("  1 catalog spot price(s) of instances or regions the file does not list, not added"
            in lines)


def test_a_gcp_region_takes_the_lowest_spot_price_of_its_zones(tmp_path):
    rows = [("gcp,europe-west4,a2-highgpu-1g,A100-40GB,1,40,12,85,spot,1.692835,0,0,"
            f"{OLD},2026-07-30")]
    folder = _snapshot(tmp_path, "gcp", rows)
    catalogs = _catalogs(tmp_path, "gcp")
    refresh_snapshot(Provider.GCP, folder, str(catalogs), _settings(tmp_path))
    _, after = read_rows(folder / "compute_gcp.csv")
    assert [(r["recurring_usd_per_hour"], r["source_ref"], r["as_of"]) for r in after] == [
        ("1.6542", f"{catalogs / 'gcp.csv'}#a2-highgpu-1g@europe-west4-b", "2026-12-01")]
    assert region_of(Provider.GCP, "us-central1-a") == "us-central1"
    assert region_of(Provider.AWS, "us-east-1") == "us-east-1"
    assert region_of(Provider.AZURE, "eastus") == "eastus"


def test_an_item_with_another_gpu_count_than_the_files_instance_is_not_used():
    _, rows = _rows_of([(f"aws,us-east-1,p5.48xlarge,H100,8,80,192,2048,spot,36.0,0,0,"
                              f"{OLD},2025-11-30")])
    out = refresh_rows(rows, {("us-east-1", "p5.48xlarge"): SpotQuote(3.9, 1, "x#p5")},
                       dt.date(2026, 12, 1), "compute_aws.csv")
    assert out.rows == rows and out.updated == 0
    assert out.kept == {"2025-11-30": 1}
    assert out.notes == [("1 catalog item(s) with another GPU count than the file's instance, "
                         "not used: p5.48xlarge in us-east-1")]


def _rows_of(lines: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(HEADER + "".join(r + "\n" for r in lines)))
    return list(reader.fieldnames or []), [dict(r) for r in reader]


@pytest.mark.parametrize("name", ["aws", "gcp", "azure"])
def test_the_snapshots_files_are_written_back_byte_for_byte(tmp_path, name):
    # a refresh rewrites the whole file: every row it does not touch must come back unchanged
    source = SNAPSHOT / f"compute_{name}.csv"
    header, rows = read_rows(source)
    write_rows(tmp_path / source.name, header, rows)
    assert (tmp_path / source.name).read_bytes() == source.read_bytes()


class Bucket(BaseHTTPRequestHandler):
    """gpuhunt's published layout: ``/v3/<name>/version`` and
    ``/v3/<name>/<version>/catalog.zip`` holding ``<name>.csv``."""

    version: ClassVar[str] = "20261201-2"
    requests: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Bucket.requests.append(self.path)
        body: bytes | None = None
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[2] == "version" and (FIXTURES / f"{parts[1]}.csv").exists():
            body = f"{Bucket.version}\n".encode()
        elif (len(parts) == 4 and parts[2] == Bucket.version and parts[3] == "catalog.zip"
              and (FIXTURES / f"{parts[1]}.csv").exists()):
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w") as archive:
                archive.write(FIXTURES / f"{parts[1]}.csv", f"{parts[1]}.csv")
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
def test_the_published_catalog_is_downloaded_and_its_url_named_in_each_row(
        tmp_path, bucket, monkeypatch, capsys):
    folder = _snapshot(tmp_path)
    monkeypatch.setenv("TCO_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["--provider", "aws", "--from", bucket, "--snapshot", str(folder)]) == 0
    assert Bucket.requests == ["/v3/aws/version", "/v3/aws/20261201-2/catalog.zip"]
    _, after = read_rows(folder / "compute_aws.csv")
    fresh = [r for r in after if r["as_of"] == "2026-12-01"]
    assert {r["source_ref"] for r in fresh} == {
        f"{bucket}/aws/20261201-2/catalog.zip#g5.xlarge@us-east-1",
        f"{bucket}/aws/20261201-2/catalog.zip#p5.48xlarge@us-east-1",
        f"{bucket}/aws/20261201-2/catalog.zip#p4d.24xlarge@ap-southeast-1"}
    assert "2 spot row(s) updated and 1 added" in capsys.readouterr().out


def test_a_missing_catalog_is_a_clear_error_and_the_file_is_left_alone(tmp_path, capsys):
    folder = _snapshot(tmp_path)
    before = (folder / "compute_aws.csv").read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--provider", "aws", "--from", str(empty), "--snapshot", str(folder)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "aws.csv: no such file" in err
    assert "Traceback" not in err
    assert (folder / "compute_aws.csv").read_bytes() == before


def test_a_file_that_is_not_a_compute_file_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "compute_aws.csv").write_text("provider,region\naws,us-east-1\n")
    catalogs = _catalogs(tmp_path, "aws")
    assert main(["--provider", "aws", "--from", str(catalogs), "--snapshot", str(folder)]) == 3
    assert "not a snapshot compute file" in capsys.readouterr().err


def test_the_summary_names_the_catalog_the_rows_name():
    source = CatalogFile(Path("/x/aws.csv"), "https://h/v3/aws/20261201-2/catalog.zip",
                         dt.date(2026, 12, 1))
    _, rows = _rows_of([(f"aws,us-east-1,g5.xlarge,A10G,1,24,4,16,spot,0.3837,0,0,"
                              f"{OLD},2025-11-30")])
    out = refresh_rows(rows, {("us-east-1", "g5.xlarge"): SpotQuote(0.41, 1, source.ref + "#g")},
                       source.as_of, "f")
    assert out.summary("f", source)[0] == (
        "f: 1 spot row(s) updated and 0 added from "
        "https://h/v3/aws/20261201-2/catalog.zip (2026-12-01)")


def test_a_price_that_moved_by_a_factor_of_one_and_a_half_is_named_for_a_check():
    _, rows = _rows_of([f"aws,us-east-1,g5.xlarge,A10G,1,24,4,16,spot,0.3837,0,0,{OLD},2025-11-30",
                        (f"aws,us-east-1,p5.48xlarge,H100,8,80,192,2048,spot,36.0,0,0,{OLD},"
                        "2025-11-30")])
    out = refresh_rows(rows, {("us-east-1", "g5.xlarge"): SpotQuote(0.2557, 1, "x#g5"),
                              ("us-east-1", "p5.48xlarge"): SpotQuote(53.99, 8, "x#p5")},
                       dt.date(2026, 12, 1), "compute_aws.csv")
    source = CatalogFile(Path("/x/aws.csv"), "x", dt.date(2026, 12, 1))
    # 0.3837 / 0.2557 = 1.5006 is named; 53.99 / 36 = 1.4997 is not
    assert out.moved == ["g5.xlarge in us-east-1 $0.3837 -> $0.2557"]
    assert ("  1 spot price(s) moved by a factor of 1.5 or more, to check against the provider "
            "before committing: g5.xlarge in us-east-1 $0.3837 -> $0.2557") in out.summary(
                "f", source)
