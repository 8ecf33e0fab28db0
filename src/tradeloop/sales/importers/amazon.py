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

from datetime import datetime
from hashlib import blake2b
from operator import itemgetter

from tradeloop.sales.importers.base import Importer
from tradeloop.sales.importers.values import (
    MAX_MINOR,
    AmountError,
    DateError,
    LineNumbers,
    Row,
    cached_amount,
    check_text,
    country,
    currency_units,
    iso_datetime,
    line_hash,
    money,
    parse_quantity,
    remember_time_text,
    time_text,
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
#: Entries kept by each cache of ``parse_line`` (cell text -> parsed value); a full cache is emptied.
CACHE_LIMIT = 4096
NUL = "\x00"


def _plain_quantity(text: str) -> bool:
    """ASCII digits only and below MAX_QUANTITY (7 digits): the shortcut; anything else is checked in full."""
    return len(text) < 8 and text.isascii() and text.isdigit()
_NO_TIME = (None, NUL)
_MISSING = object()


class _Slow(Exception):
    """The row is not of the common, well-formed shape: ``parse`` reads it (and names its problems)."""


_SLOW = _Slow()
fromisoformat = datetime.fromisoformat
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
        # The caches of parse_line: cell text -> (time, its text) / minor units (per currency's units) /
        # country / fulfilment channel. Only values that parsed without a problem are kept.
        self.times: dict[str, tuple] = {"": _NO_TIME}
        self.amounts: dict[int, dict[str, int]] = {}
        self.countries: dict[str, str | None] = {}
        self.fulfilments: dict[str, str | None] = {}

    def bind(self, number, cells):
        super().bind(number, cells)
        self.at = self.positions(self.KEYS)
        self.h = {k: self.column(k) for k in self.COLUMNS}
        self.cells_of = itemgetter(*self.at)
        self.lacks_column = -1 in self.at

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
        quantity = int(quantity_text) if _plain_quantity(quantity_text) else parse_quantity(row, h["quantity"],
                                                                                             quantity_text)
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

    # --- the fast path ----------------------------------------------------------------------------------------
    # ``parse_line`` reads a row of the common shape (every value present and well-formed) with cached
    # conversions and builds the hash text as it goes; anything else (a problem, an unusual quantity, a missing
    # currency with amounts …) is left to ``parse``, so results, problems and their order are those of
    # ``parse``. Nothing is changed before the row is known to take the fast path (the line counters last).

    def _time(self, text: str) -> tuple:
        """(time, its ``str()``) of a cell, or raise _SLOW when ``parse`` would report it."""
        if text.isspace():
            found = _NO_TIME
        else:
            s = text.strip()
            if (len(s) == 25 and s[19:] == "+00:00" or len(s) == 20 and s[19] == "Z") and s[4] == "-" \
                    and s[7] == "-" and s[10] == "T" and s[13] == ":" and s[16] == ":":
                # 2026-01-15T09:12:33+00:00 (or …Z), as Amazon writes them: UTC already, and its text is the cell's
                try:
                    value = fromisoformat(s)
                except ValueError:
                    raise _SLOW from None
                found = (value, remember_time_text(value, f"{s[:10]} {s[11:19]}+00:00"))
            else:
                try:
                    value = self.iso(text)
                except DateError:
                    raise _SLOW from None
                found = (value, time_text(value))
        if len(self.times) >= CACHE_LIMIT:
            self.times.clear()
            self.times[""] = _NO_TIME
        self.times[text] = found
        return found

    def _amount(self, text: str, units: int, cache: dict[str, int]) -> int:
        """Minor units of a non-empty amount cell, or raise _SLOW when ``parse`` would report it."""
        whole, dot, fraction = text.partition(".")
        if dot and len(fraction) == units and 0 < len(whole) <= 15 and whole.isdecimal() and fraction.isdecimal():
            value = int(whole + fraction)  # "12.99" in a currency of two decimals: 1299, as amount_minor reads it
            if value >= MAX_MINOR:
                raise _SLOW
        elif text.isspace():
            value = 0
        else:
            try:
                value = cached_amount(text, units, None)
            except AmountError:
                raise _SLOW from None
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def _country(self, text: str) -> str | None:
        code = self.ctx.codes.country(text)
        if code is None and text.strip():
            raise _SLOW
        if len(self.countries) >= CACHE_LIMIT:
            self.countries.clear()
        self.countries[text] = code
        return code

    def _fulfilment(self, text: str) -> str | None:
        stripped = text.strip()
        value = FULFILMENT.get(stripped.lower(), stripped[:64]) or None
        if len(self.fulfilments) >= CACHE_LIMIT:
            self.fulfilments.clear()
        self.fulfilments[text] = value
        return value

    def parse_line(self, number: int, cells: list[str]):
        try:
            return self._fast(cells)
        except _Slow:
            pass
        out = self.parse(number, cells)
        if out.__class__ is tuple:
            return (*out, line_hash(out))
        return out

    def _fast(self, cells: list[str]) -> tuple:
        missing = self.width - len(cells)
        if missing > 0:
            cells.extend([""] * missing)
        if self.lacks_column:
            cells.append("")  # what a column the file lacks reads (position -1)
        (order_id, item_id, purchase, last_updated, order_status, item_status, fulfilment_text, marketplace, sku,
         quantity_text, currency_text, t_price, t_tax, t_shipping, t_shipping_tax, t_wrap, t_wrap_tax, t_item_promo,
         t_ship_promo, ship_country, shipment) = self.cells_of(cells)
        order_id, sku, marketplace = order_id.strip(), sku.strip(), marketplace.strip()
        if not order_id or len(order_id) > 64 or not sku or len(sku) > 100 or len(marketplace) > 64:
            raise _SLOW
        times = self.times
        order_date, order_date_text = times.get(purchase) or self._time(purchase)
        if order_date is None:
            raise _SLOW  # required
        updated, updated_text = times.get(last_updated) or self._time(last_updated)
        ship_date, ship_date_text = times.get(shipment) or self._time(shipment)
        if not currency_text or currency_text.isspace():
            currency_text = MARKETPLACE_CURRENCIES.get(marketplace.lower(), "")
        found = self.ctx.codes.currency(currency_text)
        if not _plain_quantity(quantity_text):
            raise _SLOW
        quantity = int(quantity_text)
        if found is None:
            if (currency_text.strip() or t_price or t_tax or t_shipping or t_shipping_tax or t_wrap or t_wrap_tax
                    or t_item_promo or t_ship_promo):
                raise _SLOW  # an unknown currency, or amounts without one
            currency = None
            item_price = item_tax = shipping = shipping_tax = other = discount = 0
        else:
            currency, units = found
            cache = self.amounts.get(units)
            if cache is None:
                cache = self.amounts[units] = {}
            amount = self._amount
            item_price = (cache.get(t_price) if t_price else 0)
            if item_price is None:
                item_price = amount(t_price, units, cache)
            item_tax = (cache.get(t_tax) if t_tax else 0)
            if item_tax is None:
                item_tax = amount(t_tax, units, cache)
            shipping = (cache.get(t_shipping) if t_shipping else 0)
            if shipping is None:
                shipping = amount(t_shipping, units, cache)
            shipping_tax = (cache.get(t_shipping_tax) if t_shipping_tax else 0)
            if shipping_tax is None:
                shipping_tax = amount(t_shipping_tax, units, cache)
            wrap = (cache.get(t_wrap) if t_wrap else 0)
            if wrap is None:
                wrap = amount(t_wrap, units, cache)
            wrap_tax = (cache.get(t_wrap_tax) if t_wrap_tax else 0)
            if wrap_tax is None:
                wrap_tax = amount(t_wrap_tax, units, cache)
            item_promo = (cache.get(t_item_promo) if t_item_promo else 0)
            if item_promo is None:
                item_promo = amount(t_item_promo, units, cache)
            ship_promo = (cache.get(t_ship_promo) if t_ship_promo else 0)
            if ship_promo is None:
                ship_promo = amount(t_ship_promo, units, cache)
            other = wrap + wrap_tax
            discount = abs(item_promo) + abs(ship_promo)
        if ship_country:
            buyer_country = self.countries.get(ship_country, _MISSING)
            if buyer_country is _MISSING:
                buyer_country = self._country(ship_country)
        else:
            buyer_country = None
        status, raw_status = self._status(order_status, item_status)
        if len(raw_status) > 100:
            raise _SLOW
        fulfilment = self.fulfilments.get(fulfilment_text, _MISSING)
        if fulfilment is _MISSING:
            fulfilment = self._fulfilment(fulfilment_text)
        item_id = item_id.strip()
        if item_id:
            if len(item_id) > 100:
                raise _SLOW
            line_id = item_id
        else:
            n = self.numbers.occurrence(order_id, sku)  # the row takes the fast path: count it
            line_id = sku if n == 1 else f"{sku}#{n}"
        marketplace = marketplace or None
        raw_status = raw_status or None
        # The text line_hash hashes (and its digest): the values joined by US (0x1f), None as NUL, times as str().
        text = (f"amazon\x1f{marketplace or NUL}\x1f{order_id}\x1f{line_id}\x1f{order_date_text}\x1f{ship_date_text}"
                f"\x1f{updated_text}\x1f{NUL if buyer_country is None else buyer_country}"
                f"\x1f{NUL if currency is None else currency}\x1f{status}\x1f{raw_status or NUL}"
                f"\x1f{fulfilment or NUL}\x1f{sku}\x1f{quantity}\x1f{item_price}\x1f{item_tax}\x1f{shipping}"
                f"\x1f{shipping_tax}\x1f{other}\x1f{discount}\x1f\x00\x1f\x00")
        return ("amazon", marketplace, order_id, line_id, order_date, ship_date, updated, buyer_country, currency,
                status, raw_status, fulfilment, sku, quantity, item_price, item_tax, shipping, shipping_tax, other,
                discount, None, None, blake2b(text.encode(), digest_size=16).hexdigest())
