"""eBay Seller Hub "Orders" report (Reports → Downloads → Orders, CSV).

The layout (see docs/sales-import.md for the sources): an empty first line (or a row of bare commas), the
header, a row of empty cells, one row per order line, then a blank line and a footer —
``N,record(s) downloaded,from … to …`` and ``Seller ID : …`` — which ends the data. An order of several
items has an order row (address, dates, totals, no Item Number) followed by its item rows; the order row is
not a line: its dates and ship-to country are carried to the items. Dates are eBay time without a zone
(``Jan-15-26``, ``Jan-15-26 23:45:00``), read in the import's time zone (default America/Los_Angeles, the
time of eBay's US site); money carries its currency (``$12.99``, ``EUR 12,99``, ``£5.00``).

Line id: ``Item Number-Transaction ID`` (the Transaction ID tells apart several purchases of one listing;
it is 0 for auctions), or the Item Number alone when the report has no Transaction ID. SKU: ``Custom Label``.
The report has no status, refund or fee columns: a line with a ``Shipped On Date`` is shipped, every other
line pending (eBay does not list cancelled orders in it).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from tradeloop.sales.importers.base import STOP, Importer
from tradeloop.sales.importers.values import (
    ZONE_ABBREVIATIONS,
    AmountError,
    DateError,
    Row,
    amount_minor,
    check_text,
    country,
    parse_quantity,
    split_currency,
    to_utc,
    when,
    zone,
)

PATTERNS = ("%b-%d-%y %H:%M:%S", "%b-%d-%y", "%b-%d-%Y %H:%M:%S", "%b-%d-%Y", "%d-%b-%y %H:%M:%S", "%d-%b-%y",
            "%b %d, %Y %H:%M:%S", "%b %d, %Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
_ZONE_SUFFIX = re.compile(r"\s+([A-Z]{2,4})$")
_FOOTER = re.compile(r"record\(s\)\s+downloaded", re.IGNORECASE)


@lru_cache(maxsize=4096)
def ebay_datetime(text: str, zone_name: str) -> datetime:
    """``Jan-15-26`` (midnight) or ``Jan-15-26 23:45:00`` in ``zone_name``, or with a zone abbreviation
    (``Jan-15-26 23:45:00 PST``)."""
    s = text.strip()
    tz = zone(zone_name)
    match = _ZONE_SUFFIX.search(s)
    if match and match.group(1) in ZONE_ABBREVIATIONS:
        tz, s = ZONE_ABBREVIATIONS[match.group(1)], s[:match.start()]
    for pattern in PATTERNS:
        try:
            return to_utc(datetime.strptime(s, pattern), tz)
        except ValueError:
            continue
    raise DateError("is not an eBay date (e.g. Jan-15-26 or Jan-15-26 23:45:00)",
                    "不是eBay日期格式（如Jan-15-26或Jan-15-26 23:45:00）")


class EbayImporter(Importer):
    channel = "ebay"
    title = ("an eBay Seller Hub orders report", "eBay Seller Hub订单报告")
    delimiter = None
    COLUMNS = {
        "order_number": ("Order Number", "Order ID"),
        "item_number": ("Item Number", "Item ID"),
        "transaction_id": ("Transaction ID",),
        "sku": ("Custom Label",),
        "quantity": ("Quantity",),
        "sold_for": ("Sold For", "Sale Price", "Item Price"),
        "shipping": ("Shipping And Handling", "Postage And Packaging"),
        "seller_tax": ("Seller Collected Tax",),
        "ebay_tax": ("eBay Collected Tax",),
        "sale_date": ("Sale Date", "Order Date"),
        "paid_date": ("Paid On Date",),
        "shipped_date": ("Shipped On Date", "Dispatched On Date"),
        "ship_country": ("Ship To Country", "Post To Country"),
        "buyer_country": ("Buyer Country",),
        "fulfillment_program": ("eBay Fulfillment Program",),
    }
    REQUIRED = ("order_number", "item_number", "sku", "quantity", "sold_for", "sale_date")
    #: Order-row values carried to the order's item rows.
    CARRIED = ("sale_date", "paid_date", "shipped_date", "ship_country", "buyer_country")

    def __init__(self, ctx):
        super().__init__(ctx)
        self.zone_name = getattr(ctx.timezone, "key", None) or "UTC"
        self.order = ""
        self.carried: dict[str, str] = {}

    def _amount(self, row: Row, cells: list[str], key: str, currency: list) -> int:
        text = self.cell(cells, key).strip()
        if not text:
            return 0
        try:
            number, mark = split_currency(text)
        except AmountError as exc:
            row.bad(self.column(key), text, exc.en, exc.zh)
            return 0
        if mark is None:
            row.bad(self.column(key), text, "has no currency (eBay writes amounts like $12.99 or EUR 12,99)",
                    "缺少货币符号（eBay金额形如$12.99或EUR 12,99）")
            return 0
        if currency[0] is None:
            currency[0] = mark
        elif currency[0] != mark:
            row.bad(self.column(key), text, f"is in another currency than the line ({currency[0]})",
                    f"币种与该行其他金额（{currency[0]}）不同")
            return 0
        units = self.ctx.codes.minor_units(mark)
        if units is None:
            row.bad(self.column(key), text, "is in a currency that is not in ISO 4217", "币种不在ISO 4217中")
            return 0
        try:
            return amount_minor(number, units)
        except AmountError as exc:
            row.bad(self.column(key), text, exc.en, exc.zh)
            return 0

    def parse(self, number: int, cells: list[str]):
        head = ",".join(cells[:3])
        if _FOOTER.search(head) or cells[0].strip().lower().startswith("seller id"):
            return STOP
        cell, col = self.cell, self.column
        order = cell(cells, "order_number").strip()
        item = cell(cells, "item_number").strip()
        if order and not item and not cell(cells, "sku").strip():
            # The order row of a multi-item order: not a line; its values go to the item rows after it.
            self.order, self.carried = order, {k: cell(cells, k) for k in self.CARRIED}
            return None
        carried = self.carried if order == self.order else {}
        values = {k: (cell(cells, k) or carried.get(k, "")) for k in self.CARRIED}
        row = Row(number)
        check_text(row, col("order_number"), order, "external_order_id")
        if not order:
            row.bad(col("order_number"), "", "is required", "为必填项")
        if not item:
            row.bad(col("item_number"), "", "is required", "为必填项")
        sku = check_text(row, col("sku"), cell(cells, "sku").strip(), "sku")
        if not sku:
            row.bad(col("sku"), "", "is empty: the line cannot be linked to a product (fill Custom Label)",
                    "为空：该行无法关联到商品（请填写Custom Label）")
        zone_name = self.zone_name
        order_date = when(row, col("sale_date"), values["sale_date"], lambda s: ebay_datetime(s, zone_name),
                          required=True)
        ship_date = when(row, col("shipped_date"), values["shipped_date"], lambda s: ebay_datetime(s, zone_name))
        when(row, col("paid_date"), values["paid_date"], lambda s: ebay_datetime(s, zone_name))
        quantity = parse_quantity(row, col("quantity"), cell(cells, "quantity"))
        currency: list = [None]
        unit_price = self._amount(row, cells, "sold_for", currency)
        if not cell(cells, "sold_for").strip():
            row.bad(col("sold_for"), "", "is required", "为必填项")
        shipping = self._amount(row, cells, "shipping", currency)
        tax = self._amount(row, cells, "seller_tax", currency) + self._amount(row, cells, "ebay_tax", currency)
        ship_to = values["ship_country"] if values["ship_country"].strip() else values["buyer_country"]
        buyer_country = country(row, self.ctx, col("ship_country" if values["ship_country"].strip()
                                                   else "buyer_country"), ship_to)
        transaction = cell(cells, "transaction_id").strip()
        line_id = check_text(row, col("transaction_id"), f"{item}-{transaction}" if transaction else item, "line_id")
        if row.issues:
            return row
        program = cell(cells, "fulfillment_program").strip().lower()
        status = "shipped" if ship_date else "pending"
        return ("ebay", "eBay", order, line_id, order_date, ship_date, None, buyer_country, currency[0], status,
                None, "eBay Fulfillment" if program in ("yes", "true", "1") else None, sku, quantity,
                unit_price * quantity, tax, shipping, 0, 0, 0, None, None)
