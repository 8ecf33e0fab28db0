"""Any CSV or .xlsx order file, read through a saved column profile: for each canonical field, the header of
the column that holds it in the enterprise's files, plus the date format, the time zone of local times, a
default currency and whether amounts use a decimal comma.

Line id: the mapped line id column, else the line's position in its order (1, 2, …). The price is the
mapped line amount, or unit price × quantity. Status words are normalised in English and Chinese (shipped,
已发货 …); without a status column a line with a ship date is shipped, else pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tradeloop.sales.importers.base import Importer
from tradeloop.sales.importers.values import (
    Context,
    LineNumbers,
    Row,
    check_text,
    country,
    currency_units,
    generic_status,
    iso_datetime,
    money,
    parse_quantity,
    pattern_datetime,
    when,
)

#: Canonical fields of a profile: key, English label, Chinese label, required.
FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("order_id", "Order number", "订单号", True),
    ("line_id", "Order line id", "订单行号", False),
    ("order_date", "Order date", "下单时间", True),
    ("ship_date", "Ship date", "发货时间", False),
    ("status", "Status", "状态", False),
    ("sku", "SKU", "SKU", True),
    ("quantity", "Quantity", "数量", True),
    ("currency", "Currency", "币种", False),
    ("unit_price", "Unit price", "单价", False),
    ("item_price", "Line amount", "商品金额", False),
    ("item_tax", "Item tax", "商品税费", False),
    ("shipping", "Shipping", "运费", False),
    ("shipping_tax", "Shipping tax", "运费税", False),
    ("discount", "Discount", "折扣", False),
    ("fees", "Marketplace fees", "平台费用", False),
    ("refunded", "Refunded amount", "退款金额", False),
    ("buyer_country", "Buyer country", "买家国家", False),
    ("marketplace", "Marketplace / store", "站点/店铺", False),
    ("fulfillment_channel", "Fulfilment channel or warehouse", "发货方式/仓库", False),
)
FIELD_KEYS = tuple(f[0] for f in FIELDS)
REQUIRED_FIELDS = tuple(f[0] for f in FIELDS if f[3])


@dataclass
class ProfileSpec:
    """A profile's settings, independent of the database row (the CLI, the API and tests build it alike)."""

    name: str
    channel: str = "own_site"
    columns: dict[str, str] = field(default_factory=dict)
    marketplace: str | None = None
    date_format: str | None = None
    timezone: str = "UTC"
    default_currency: str | None = None
    decimal_comma: bool = False


class GenericImporter(Importer):
    title = ("a file of this column profile", "该列映射方案的文件")

    def __init__(self, ctx: Context, profile: ProfileSpec):
        super().__init__(ctx)
        self.profile = profile
        self.channel = profile.channel
        self.COLUMNS = {key: (header,) for key, header in profile.columns.items() if header}
        required = list(REQUIRED_FIELDS)
        if not profile.default_currency:
            required.append("currency")
        self.REQUIRED = tuple(k for k in required if k in self.COLUMNS) + tuple(
            k for k in required if k not in self.COLUMNS)
        self.numbers = LineNumbers()
        self.decimal_comma = True if profile.decimal_comma else None

    def _missing(self, number, missing, present):
        from tradeloop.sales.importers.values import Issue

        labels = {k: (en, zh) for k, en, zh, _r in FIELDS}
        out = []
        for k in missing:
            header = self.profile.columns.get(k)
            if header:
                out.append(Issue(number, header, "", f"the column {header!r} of profile {self.profile.name!r} "
                                 "is not in the file", f"文件中没有方案“{self.profile.name}”的列“{header}”"))
            else:
                out.append(Issue(number, labels[k][0], "", f"profile {self.profile.name!r} maps no column to the "
                                 f"required field {labels[k][0]}",
                                 f"方案“{self.profile.name}”未映射必填字段{labels[k][1]}"))
        return out

    def bind(self, number, cells):
        if "unit_price" not in self.COLUMNS and "item_price" not in self.COLUMNS:
            from tradeloop.sales.importers.values import FatalFile, Issue

            raise FatalFile(Issue(number, "", "", f"profile {self.profile.name!r} maps neither a unit price nor a "
                                  "line amount", f"方案“{self.profile.name}”既未映射单价也未映射商品金额"))
        super().bind(number, cells)

    def column(self, key: str) -> str:
        return self.headers.get(key) or self.profile.columns.get(key) or key

    def _date(self, text: str):
        tz = self.ctx.timezone
        pattern = self.profile.date_format
        return pattern_datetime(text, pattern, tz) if pattern else iso_datetime(text, tz)

    def parse(self, number: int, cells: list[str]):
        cell, col = self.cell, self.column
        row = Row(number)
        order_id = check_text(row, col("order_id"), cell(cells, "order_id").strip(), "external_order_id")
        if not order_id:
            row.bad(col("order_id"), "", "is required", "为必填项")
        sku = check_text(row, col("sku"), cell(cells, "sku").strip(), "sku")
        if not sku:
            row.bad(col("sku"), "", "is required", "为必填项")
        order_date = when(row, col("order_date"), cell(cells, "order_date"), self._date, required=True)
        ship_date = when(row, col("ship_date"), cell(cells, "ship_date"), self._date)
        currency_text = cell(cells, "currency").strip() or (self.profile.default_currency or "")
        currency, units = currency_units(row, self.ctx, col("currency"), currency_text)
        if not currency_text:
            row.bad(col("currency"), "", "is required", "为必填项")
        quantity = parse_quantity(row, col("quantity"), cell(cells, "quantity"))
        dc = self.decimal_comma
        if "item_price" in self.index:
            item_price = money(row, col("item_price"), cell(cells, "item_price"), units, decimal_comma=dc,
                               required=True)
        else:
            item_price = money(row, col("unit_price"), cell(cells, "unit_price"), units, decimal_comma=dc,
                               required=True) * quantity
        item_tax = money(row, col("item_tax"), cell(cells, "item_tax"), units, decimal_comma=dc)
        shipping = money(row, col("shipping"), cell(cells, "shipping"), units, decimal_comma=dc)
        shipping_tax = money(row, col("shipping_tax"), cell(cells, "shipping_tax"), units, decimal_comma=dc)
        discount = money(row, col("discount"), cell(cells, "discount"), units, decimal_comma=dc, absolute=True)
        fees = money(row, col("fees"), cell(cells, "fees"), units, decimal_comma=dc, absolute=True) \
            if cell(cells, "fees").strip() else None
        refunded = money(row, col("refunded"), cell(cells, "refunded"), units, decimal_comma=dc, absolute=True) \
            if cell(cells, "refunded").strip() else None
        buyer_country = country(row, self.ctx, col("buyer_country"), cell(cells, "buyer_country"))
        raw_status = check_text(row, col("status"), cell(cells, "status").strip(), "raw_status")
        status = generic_status(raw_status) if raw_status else "shipped" if ship_date else "pending"
        if status == "other" and refunded:
            status = "refunded"
        marketplace = check_text(row, col("marketplace"), cell(cells, "marketplace").strip(), "marketplace") \
            or self.profile.marketplace
        fulfilment = check_text(row, col("fulfillment_channel"), cell(cells, "fulfillment_channel").strip(),
                                "fulfillment_channel")
        given = cell(cells, "line_id").strip()
        line_id = given or (str(self.numbers.position(order_id)) if order_id else "")
        check_text(row, col("line_id"), line_id, "line_id")
        if row.issues:
            return row
        return (self.channel, marketplace or None, order_id, line_id, order_date, ship_date, None, buyer_country,
                currency, status, raw_status or None, fulfilment or None, sku, quantity, item_price, item_tax,
                shipping, shipping_tax, 0, discount, fees, refunded)
