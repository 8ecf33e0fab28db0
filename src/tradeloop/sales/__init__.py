"""Sales: order lines imported from marketplace and own-site files (Amazon, Shopify, eBay, generic CSV/.xlsx
with column profiles), upserted in bulk, with progress; see docs/sales-import.md."""
