"""Shopify orders export (Admin → Orders → Export, CSV): one row per line item; the order's own columns
(status, dates, currency, totals, addresses) are filled only on the first row of each order and carried
forward here to the order's other rows. Dates look like ``2026-01-15 09:12:33 +0100``.

Line id: ``Lineitem id`` when the export has it, else the line's position in the order (1, 2, …). The line's
price is ``Lineitem price`` (per unit) × quantity, its discount ``Lineitem discount``. Order-level amounts —
shipping, taxes, refunded amount (and the order discount when there is no line discount column) — are kept
on the order's first line, so that sums over lines equal the order's totals.
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

#: Order columns filled on the first row only, carried to the order's other rows.
CARRIED = ("financial_status", "fulfillment_status", "fulfilled_at", "currency", "created_at", "shipping_country",
           "billing_country", "cancelled_at")
FIRST_ROW_AMOUNTS = ("shipping", "taxes", "discount_amount", "refunded")


def line_status(financial: str, fulfilment: str, line_fulfilment: str, cancelled: bool) -> str:
    financial, fulfilment, line_fulfilment = financial.lower(), fulfilment.lower(), line_fulfilment.lower()
    if cancelled or financial == "voided":
        return "cancelled"
    if financial == "refunded":
        return "refunded"
    if line_fulfilment == "restocked":
        return "refunded" if "refund" in financial else "cancelled"
    if financial == "partially_refunded":
        return "partially_refunded"
    if line_fulfilment == "fulfilled" or (not line_fulfilment and fulfilment == "fulfilled"):
        return "shipped"
    return "pending"


class ShopifyImporter(Importer):
    channel = "shopify"
    title = ("a Shopify orders export", "Shopify订单导出文件")
    delimiter = None
    COLUMNS = {
        "name": ("Name",),
        "financial_status": ("Financial Status",),
        "fulfillment_status": ("Fulfillment Status",),
        "fulfilled_at": ("Fulfilled at",),
        "currency": ("Currency",),
        "shipping": ("Shipping",),
        "taxes": ("Taxes",),
        "discount_amount": ("Discount Amount",),
        "created_at": ("Created at",),
        "quantity": ("Lineitem quantity",),
        "price": ("Lineitem price",),
        "sku": ("Lineitem sku",),
        "line_fulfillment": ("Lineitem fulfillment status",),
        "line_discount": ("Lineitem discount",),
        "line_item_id": ("Lineitem id", "Line item id"),
        "shipping_country": ("Shipping Country",),
        "billing_country": ("Billing Country",),
        "cancelled_at": ("Cancelled at",),
        "refunded": ("Refunded Amount",),
    }
    REQUIRED = ("name", "created_at", "quantity", "price", "sku", "currency")

    def __init__(self, ctx):
        super().__init__(ctx)
        self.numbers = LineNumbers()
        self.order = ""
        self.carried: dict[str, str] = {}

    def parse(self, number: int, cells: list[str]):
        cell, col = self.cell, self.column
        row = Row(number)
        name = check_text(row, col("name"), cell(cells, "name").strip(), "external_order_id")
        if not name:
            row.bad(col("name"), "", "is required", "为必填项")
            return row
        first = name != self.order
        if first:
            self.order = name
            self.carried = {k: cell(cells, k) for k in CARRIED}
        values = {k: (cell(cells, k) or self.carried.get(k, "")) for k in CARRIED}
        zone = self.ctx.timezone
        order_date = when(row, col("created_at"), values["created_at"], lambda s: iso_datetime(s, zone),
                          required=True)
        cancelled_at = when(row, col("cancelled_at"), values["cancelled_at"], lambda s: iso_datetime(s, zone))
        fulfilled_at = when(row, col("fulfilled_at"), values["fulfilled_at"], lambda s: iso_datetime(s, zone))
        currency, units = currency_units(row, self.ctx, col("currency"), values["currency"])
        if currency is None and not values["currency"].strip():
            row.bad(col("currency"), "", "is required", "为必填项")
        sku = check_text(row, col("sku"), cell(cells, "sku").strip(), "sku")
        if not sku:
            row.bad(col("sku"), "", "is empty: the line cannot be linked to a product",
                    "为空：该行无法关联到商品")
        quantity = parse_quantity(row, col("quantity"), cell(cells, "quantity"))
        unit_price = money(row, col("price"), cell(cells, "price"), units, required=True)
        line_discount = money(row, col("line_discount"), cell(cells, "line_discount"), units, absolute=True)
        shipping = taxes = order_discount = 0
        refunded = None
        if first:
            shipping = money(row, col("shipping"), cell(cells, "shipping"), units)
            taxes = money(row, col("taxes"), cell(cells, "taxes"), units)
            if "line_discount" not in self.index:
                order_discount = money(row, col("discount_amount"), cell(cells, "discount_amount"), units,
                                       absolute=True)
            if cell(cells, "refunded").strip():
                refunded = money(row, col("refunded"), cell(cells, "refunded"), units, absolute=True)
        buyer_country = country(row, self.ctx, col("shipping_country"), values["shipping_country"]) \
            if values["shipping_country"].strip() else \
            country(row, self.ctx, col("billing_country"), values["billing_country"])
        financial, fulfilment = values["financial_status"].strip(), values["fulfillment_status"].strip()
        line_fulfilment = cell(cells, "line_fulfillment").strip()
        status = line_status(financial, fulfilment, line_fulfilment, cancelled_at is not None)
        raw_status = check_text(row, col("financial_status"),
                                "|".join((financial, fulfilment, line_fulfilment)).strip("|"), "raw_status")
        item_id = cell(cells, "line_item_id").strip()
        line_id = item_id or str(self.numbers.position(name))  # a bad row keeps its position too
        check_text(row, col("line_item_id"), line_id, "line_id")
        if row.issues:
            return row
        fulfilled = (line_fulfilment.lower() == "fulfilled"
                     or (not line_fulfilment and fulfilment.lower() == "fulfilled"))
        ship_date = fulfilled_at if fulfilled else None
        return ("shopify", "Shopify", name, line_id, order_date, ship_date, None, buyer_country, currency, status,
                raw_status or None, None, sku, quantity, unit_price * quantity, taxes, shipping, 0, 0,
                line_discount + order_discount, None, refunded)
