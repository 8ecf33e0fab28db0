"""Amazon "All Orders" report (``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`` / ``…_BY_LAST_UPDATE_…``,
and the FBA variant): tab-separated, one row per order item, dates ISO 8601 with offset.

Columns are found by header name: Amazon adds columns over time, extra ones are ignored. Line id: the
``order-item-id`` when the report has that column, else the SKU (``SKU#2``, ``SKU#3`` … when one order lists
the same SKU again). ``item-price`` is the price of the row's whole quantity. Cancelled orders come without
prices or currency; the currency then defaults to the marketplace's. The report has no ship date: an
optional ``shipment-date`` column is read when present (FBA shipments layout); ``last-updated-date`` is kept
so an older report never overwrites a newer one.
"""

from __future__ import annotations

from tradeloop.sales.importers.base import Importer
from tradeloop.sales.importers.values import (
    LineNumbers,
    Row,
    check_text,
    country,
    currency_units,
    iso_datetime,
    money,
    parse_quantity,
    when,
)

#: Currency of each marketplace (sales-channel), for rows without one (cancelled orders).
MARKETPLACE_CURRENCIES = {
    "amazon.com": "USD", "amazon.ca": "CAD", "amazon.com.mx": "MXN", "amazon.com.br": "BRL",
    "amazon.co.uk": "GBP", "amazon.de": "EUR", "amazon.fr": "EUR", "amazon.it": "EUR", "amazon.es": "EUR",
    "amazon.nl": "EUR", "amazon.com.be": "EUR", "amazon.ie": "EUR", "amazon.se": "SEK", "amazon.pl": "PLN",
    "amazon.com.tr": "TRY", "amazon.ae": "AED", "amazon.sa": "SAR", "amazon.eg": "EGP", "amazon.in": "INR",
    "amazon.co.jp": "JPY", "amazon.com.au": "AUD", "amazon.sg": "SGD",
}

#: order-status and item-status values (lower case) -> normalised status.
STATUSES = {
    "pending": "pending", "pending - waiting for pick up": "pending", "pendingavailability": "pending",
    "unshipped": "pending", "invoiceunconfirmed": "pending", "unfulfillable": "pending",
    "shipping": "partially_shipped", "partiallyshipped": "partially_shipped", "partially shipped": "partially_shipped",
    "shipped": "shipped", "shipped - picked up": "shipped", "shipped - out for delivery": "shipped",
    "shipped - damaged": "shipped", "shipped - lost in transit": "shipped", "complete": "shipped",
    "shipped - delivered to buyer": "delivered", "delivered": "delivered",
    "shipped - returned to seller": "returned", "shipped - returning to seller": "returned",
    "shipped - rejected by buyer": "returned", "cancelled": "cancelled", "canceled": "cancelled",
}
FULFILMENT = {"amazon": "AFN", "afn": "AFN", "merchant": "MFN", "mfn": "MFN"}
AMOUNT_KEYS = ("item_price", "item_tax", "shipping_price", "shipping_tax", "gift_wrap_price", "gift_wrap_tax",
               "item_promotion", "ship_promotion")


def line_status(order_status: str, item_status: str) -> str:
    order = STATUSES.get(order_status.strip().lower(), "other") if order_status.strip() else None
    item = STATUSES.get(item_status.strip().lower(), "other") if item_status.strip() else None
    if item is None:
        return order or "other"
    if item == "shipped" and order in ("delivered", "returned"):
        return order
    if item == "other" and order is not None:
        return order
    return item


class AmazonImporter(Importer):
    channel = "amazon"
    title = ("an Amazon All Orders report", "亚马逊All Orders报告")
    delimiter = None  # tab-separated; sniffed, so that a CSV of another channel is named as such
    COLUMNS = {
        "order_id": ("amazon-order-id", "order-id"),
        "order_item_id": ("order-item-id", "amazon-order-item-id"),
        "purchase_date": ("purchase-date",),
        "last_updated": ("last-updated-date",),
        "order_status": ("order-status",),
        "item_status": ("item-status",),
        "fulfillment": ("fulfillment-channel",),
        "sales_channel": ("sales-channel",),
        "sku": ("sku",),
        "quantity": ("quantity", "quantity-purchased"),
        "currency": ("currency",),
        "item_price": ("item-price",),
        "item_tax": ("item-tax",),
        "shipping_price": ("shipping-price",),
        "shipping_tax": ("shipping-tax",),
        "gift_wrap_price": ("gift-wrap-price",),
        "gift_wrap_tax": ("gift-wrap-tax",),
        "item_promotion": ("item-promotion-discount",),
        "ship_promotion": ("ship-promotion-discount",),
        "ship_country": ("ship-country",),
        "shipment_date": ("shipment-date",),
    }
    REQUIRED = ("order_id", "purchase_date", "order_status", "sku", "quantity", "currency", "item_price")

    #: The columns read from every row, in this order (see ``parse``).
    KEYS = ("order_id", "order_item_id", "purchase_date", "last_updated", "order_status", "item_status",
            "fulfillment", "sales_channel", "sku", "quantity", "currency", "item_price", "item_tax", "shipping_price",
            "shipping_tax", "gift_wrap_price", "gift_wrap_tax", "item_promotion", "ship_promotion", "ship_country",
            "shipment_date")

    def __init__(self, ctx):
        super().__init__(ctx)
        self.numbers = LineNumbers()
        zone = ctx.timezone
        self.iso = lambda s: iso_datetime(s.strip(), zone)
        self.statuses: dict[tuple[str, str], tuple[str, str]] = {}

    def bind(self, number, cells):
        super().bind(number, cells)
        self.at = self.positions(self.KEYS)
        self.h = {k: self.column(k) for k in self.COLUMNS}

    def _status(self, order_status: str, item_status: str) -> tuple[str, str]:
        key = (order_status, item_status)
        found = self.statuses.get(key)
        if found is None:
            o, i = order_status.strip(), item_status.strip()
            found = (line_status(o, i), f"{o} / {i}" if i else o)
            if len(self.statuses) < 1000:
                self.statuses[key] = found
        return found

    def parse(self, number: int, cells: list[str]):
        h, ctx = self.h, self.ctx
        c = self.pad(cells)
        (order_id, item_id, purchase, last_updated, order_status, item_status, fulfilment_text, marketplace, sku,
         quantity_text, currency_text, *amount_texts, ship_country, shipment) = [c[i] for i in self.at]
        row = Row(number)
        order_id, sku, marketplace = order_id.strip(), sku.strip(), marketplace.strip()
        if not order_id:
            row.bad(h["order_id"], "", "is required", "为必填项")
        elif len(order_id) > 64:
            check_text(row, h["order_id"], order_id, "external_order_id")
        if not sku:
            row.bad(h["sku"], "", "is required", "为必填项")
        elif len(sku) > 100:
            check_text(row, h["sku"], sku, "sku")
        if len(marketplace) > 64:
            check_text(row, h["sales_channel"], marketplace, "marketplace")
        order_date = when(row, h["purchase_date"], purchase, self.iso, required=True)
        updated = when(row, h["last_updated"], last_updated, self.iso)
        ship_date = when(row, h["shipment_date"], shipment, self.iso) if shipment else None
        if not currency_text or currency_text.isspace():
            currency_text = MARKETPLACE_CURRENCIES.get(marketplace.lower(), "")
        currency, units = currency_units(row, ctx, h["currency"], currency_text)
        quantity = int(quantity_text) if quantity_text.isdigit() else parse_quantity(row, h["quantity"], quantity_text)
        (item_price, item_tax, shipping, shipping_tax, wrap, wrap_tax, item_promotion, ship_promotion) = [
            money(row, h[k], t, units) if t else 0 for k, t in zip(AMOUNT_KEYS, amount_texts, strict=True)]
        discount = abs(item_promotion) + abs(ship_promotion)
        if currency is None and not currency_text.strip() and any(amount_texts):
            row.bad(h["currency"], "", "is required when the row has amounts", "有金额时币种为必填项")
        buyer_country = country(row, ctx, h["ship_country"], ship_country)
        status, raw_status = self._status(order_status, item_status)
        if len(raw_status) > 100:
            check_text(row, h["order_status"], raw_status, "raw_status")
        fulfilment_text = fulfilment_text.strip()
        fulfilment = FULFILMENT.get(fulfilment_text.lower(), fulfilment_text[:64]) or None
        item_id = item_id.strip()
        line_id = ""
        if item_id:
            line_id = check_text(row, h["order_item_id"], item_id, "line_id")
        elif order_id and sku:  # a bad row keeps its place too: the lines after it keep their ids
            n = self.numbers.occurrence(order_id, sku)
            line_id = sku if n == 1 else f"{sku}#{n}"
        if row.issues:
            return row
        return ("amazon", marketplace or None, order_id, line_id, order_date, ship_date, updated, buyer_country,
                currency, status, raw_status or None, fulfilment, sku, quantity, item_price, item_tax, shipping,
                shipping_tax, wrap + wrap_tax, discount, None, None)
