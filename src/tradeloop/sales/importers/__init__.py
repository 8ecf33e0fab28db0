"""Importers of order files: each reads one real layout by header name and produces normalised lines
(``values.LINE_FIELDS``) or row issues; ``sales.service.import_orders`` writes them."""

from __future__ import annotations

from tradeloop.sales.importers.amazon import AmazonImporter
from tradeloop.sales.importers.base import Importer, parsed_rows
from tradeloop.sales.importers.ebay import EbayImporter
from tradeloop.sales.importers.generic import FIELDS, GenericImporter, ProfileSpec
from tradeloop.sales.importers.shopify import ShopifyImporter
from tradeloop.sales.importers.source import Source, open_source
from tradeloop.sales.importers.values import Codes, Context, FatalFile, Issue

#: Importer of each ``--channel`` value (generic needs a profile).
IMPORTERS: dict[str, type[Importer]] = {"amazon": AmazonImporter, "shopify": ShopifyImporter,
                                        "ebay": EbayImporter, "generic": GenericImporter}
#: Time zone of times written without an offset, per layout (eBay: its site time, Pacific on eBay.com).
DEFAULT_TIMEZONES = {"amazon": "UTC", "shopify": "UTC", "ebay": "America/Los_Angeles"}

__all__ = ["FIELDS", "IMPORTERS", "DEFAULT_TIMEZONES", "Codes", "Context", "FatalFile", "GenericImporter", "Importer",
           "Issue", "ProfileSpec", "Source", "open_source", "parsed_rows"]
