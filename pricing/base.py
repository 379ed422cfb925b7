"""The adapter contract every live price source implements (one module per provider).

An adapter is built from the environment with ``from_env(settings)`` and raises
:class:`~tco.pricing.errors.MissingCredentialsError` (naming the variable to set) when it
cannot be. ``fetch`` returns normalized records with ``source = live``, ``as_of`` = the fetch
date and ``source_ref`` = the provider's SKU / meter / offer id. Adapters never import one
another, never write caches themselves, and wrap SDK errors in
:class:`~tco.pricing.errors.PricingError` (``raise ... from``).

An adapter may also name its ``endpoint``: the URL of the API its fetch calls first. An
automatic refresh checks that it can be reached (``live.probe``) before fetching, so that a
machine without a network pays about a second, not a timeout and retries per request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .models import ComputePrice, EgressPrice, Provider, StoragePrice
from .settings import PricingSettings

Progress = Callable[[str], None]


@dataclass
class FetchResult:
    compute: list[ComputePrice] = field(default_factory=list)
    storage: list[StoragePrice] = field(default_factory=list)
    egress: list[EgressPrice] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def unpriced_regions(self, provider: str) -> list[str]:
        """One warning per region with compute prices but no storage or no internet-egress
        price: the catalog keeps the snapshot's price of that kind there, if it has one."""
        priced = {"storage": {r.region for r in self.storage},
                  "internet egress": {r.region for r in self.egress
                                      if r.destination == "internet"}}
        lines = []
        for region in sorted({r.region for r in self.compute}):
            missing = [kind for kind, regions in priced.items() if region not in regions]
            if missing:
                lines.append(f"{provider}:{region}: GPU prices but no {' or '.join(missing)} "
                             f"price in the answer")
        return lines


class Adapter(Protocol):
    name: str

    def fetch(self, regions: Sequence[str] | None = None,
              progress: Progress | None = None) -> FetchResult:
        """Prices for ``regions`` (every region when None)."""


# Each provider's adapter, written once: the provider (``models.Provider``, the closed set) ->
# "module:factory", imported only when used, so the CLI starts without loading any provider SDK
ADAPTERS: dict[Provider, str] = {
    Provider.AWS: "tco.pricing.aws:from_env",
    Provider.GCP: "tco.pricing.gcp:from_env",
    Provider.AZURE: "tco.pricing.azure:from_env",
    Provider.LAMBDA: "tco.pricing.gpuclouds:lambda_from_env",
    Provider.NEBIUS: "tco.pricing.gpuclouds:nebius_from_env",
    Provider.RUNPOD: "tco.pricing.gpuclouds:runpod_from_env",
    Provider.OCI: "tco.pricing.gpuclouds:oci_from_env",
}

# providers with no machine-readable price source: how their snapshot rows are kept current
NO_LIVE_SOURCE: dict[Provider, str] = {
    Provider.CRUSOE: "no public price API; the snapshot's rows come from crusoe.ai/cloud/pricing "
                     "(docs/prices.md says how they are updated)",
    Provider.COREWEAVE: "no public price API; the snapshot's rows come from "
                        "coreweave.com/pricing (docs/prices.md says how they are updated)",
}


def load_adapter(provider: str, settings: PricingSettings) -> Adapter:
    import importlib

    module_name, _, factory = ADAPTERS[Provider(provider)].partition(":")
    module = importlib.import_module(module_name)
    adapter: Adapter = getattr(module, factory)(settings)
    return adapter
