"""Shared test helpers: small hand-made catalogs and plans.

No test touches the network: pytest-socket (``--disable-socket`` in pyproject) makes any
socket a test opens fail loudly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tco.pricing.models import Catalog, ComputePrice, EgressPrice, Purchase, Source, StoragePrice

AS_OF = dt.date(2026, 11, 1)
SOLVERS = ["highs", "cbc"]


def offer(provider: str, region: str, itype: str, gpu: str, count: int, purchase: str,
          usd_per_hour: float, upfront: float = 0.0) -> ComputePrice:
    p = Purchase(purchase)
    return ComputePrice(provider, region, itype, gpu, count, 24.0, 4 * count, 16.0 * count, p,
                        usd_per_hour, upfront, p.term_months, Source.USER, f"test:{itype}", AS_OF)


def storage(provider: str, region: str, *tiers: tuple[float, float]) -> StoragePrice:
    return StoragePrice(provider, region, "standard", tuple(tiers), Source.USER, "test", AS_OF)


def egress(provider: str, region: str, *tiers: tuple[float, float]) -> EgressPrice:
    return EgressPrice(provider, region, "internet", tuple(tiers), Source.USER, "test", AS_OF)


def catalog(*records: Any) -> Catalog:
    return Catalog(tuple(r for r in records if isinstance(r, ComputePrice)),
                   tuple(r for r in records if isinstance(r, StoragePrice)),
                   tuple(r for r in records if isinstance(r, EgressPrice)))


def plan_doc(*workloads: dict[str, Any], months: int = 12, providers: tuple[str, ...] = ("aws",),
             **sections: Any) -> dict[str, Any]:
    """A plan dict with everything a default would otherwise decide stated explicitly."""
    doc: dict[str, Any] = {
        "plan": {"name": "test", "start": "2027-01", "months": months, "discount_rate": 0.0,
                 "mip_gap": 0.0},
        "cloud": {"providers": list(providers), "commit_every_months": 1,
                  "region_availability": 0.9995},
        "workloads": list(workloads),
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return doc


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty price cache and, unless it says otherwise, is offline."""
    monkeypatch.setenv("TCO_CACHE_DIR", str(tmp_path_factory.mktemp("tco-cache")))
    monkeypatch.setenv("TCO_OFFLINE", "1")


@pytest.fixture(params=SOLVERS)
def solver(request: pytest.FixtureRequest) -> str:
    return request.param
