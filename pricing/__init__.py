"""Where prices come from: records, sources and the catalog the optimizer consumes."""

from .catalog import filter_catalog, load_catalog, matches, read_catalog_file, write_catalog_file
from .errors import (
    CatalogError,
    MissingCredentialsError,
    NoPriceSourceError,
    PricingError,
    TcoError,
)
from .models import (
    HOURS_PER_MONTH,
    Catalog,
    ComputePrice,
    EgressPrice,
    NoticeKind,
    Provider,
    Purchase,
    RecordNotice,
    Source,
    StoragePrice,
)
from .tiers import tiered_cost

__all__ = [
    "HOURS_PER_MONTH", "Catalog", "CatalogError", "ComputePrice", "EgressPrice",
    "MissingCredentialsError", "NoPriceSourceError", "NoticeKind", "PricingError", "Provider",
    "Purchase", "RecordNotice", "Source", "StoragePrice", "TcoError", "filter_catalog",
    "load_catalog", "matches", "read_catalog_file", "tiered_cost", "write_catalog_file",
]
