"""Sales order lines imported from marketplace and own-site files, and the saved column profiles of the
generic importer.

One wide table holds the lines: order-level fields (dates, buyer country, currency, status …) are repeated
on every line of an order, so an import is one bulk write of one table (PostgreSQL ``COPY``) and every
question about sales is one query without joins. Orders are the lines grouped by
``(channel, external_order_id)`` (see ``repository.SalesRepository.orders``).

Money is integer minor units of the line's ``currency`` (ISO 4217). ``row_hash`` is a digest of the line's
normalised values as read from the file: a later import of the same line changes the row only when the hash
differs, so the same file twice changes nothing.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import UTCDateTime, created_column, updated_column


class Channel(enum.StrEnum):
    AMAZON = "amazon"
    SHOPIFY = "shopify"
    EBAY = "ebay"
    OWN_SITE = "own_site"
    OTHER = "other"


class LineStatus(enum.StrEnum):
    """The normalised status of a line; ``raw_status`` keeps what the file said."""

    PENDING = "pending"  # ordered (paid or not), not shipped yet
    PARTIALLY_SHIPPED = "partially_shipped"  # only when the file gives the order's status, not the line's
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    RETURNED = "returned"  # back to the seller (Amazon "Shipped - Returned to Seller")
    OTHER = "other"  # a status no rule knows; see raw_status


class SalesOrderLine(Base):
    """One line (SKU) of a sale. The key is ``(enterprise_id, channel, external_order_id, line_id)``; how each
    importer forms ``line_id`` is in ``docs/sales-import.md``."""

    __tablename__ = "sales_order_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "channel", "external_order_id", "line_id", name="uq_sales_order_lines_key"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["enterprise_id", "product_id"], ["products.enterprise_id", "products.id"]),
        Index("ix_sales_order_lines_sku", "enterprise_id", "sku"),
        Index("ix_sales_order_lines_order_date", "enterprise_id", "order_date"),
        Index("ix_sales_order_lines_unknown", "enterprise_id", "sku_unknown", "sku"),
        Index("ix_sales_order_lines_outbound", "enterprise_id", "outbound_id"),
        Index("ix_sales_order_lines_outbound_line", "enterprise_id", "outbound_line_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    channel: Mapped[str] = mapped_column(String(16))
    #: e.g. Amazon.com, Amazon.de, Shopify, eBay.
    marketplace: Mapped[str | None] = mapped_column(String(64))
    external_order_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(100))
    order_date: Mapped[datetime] = mapped_column(UTCDateTime)
    ship_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the marketplace last changed the order (Amazon last-updated-date): an older file never
    #: overwrites a line a newer file already updated.
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ISO 3166-1 alpha-2 of the ship-to address.
    buyer_country: Mapped[str | None] = mapped_column(String(2))
    #: ISO 4217; empty only when the file gives no amounts (Amazon leaves cancelled orders without prices).
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    raw_status: Mapped[str | None] = mapped_column(String(100))
    #: AFN (fulfilled by Amazon), MFN (by the merchant), or a warehouse / fulfilment programme name.
    fulfillment_channel: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(100))
    #: The catalogue product of ``sku``; NULL (and ``sku_unknown``) while the SKU is not in the catalogue.
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sku_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    quantity: Mapped[int] = mapped_column(Integer)
    #: The line's price for its whole quantity (not per unit), before discounts.
    item_price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    item_tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Gift wrap and other charges the buyer paid (with their tax).
    other_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Promotions and discounts, as a positive amount taken off.
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Marketplace fees, where the file gives them (positive = charged to the seller).
    fees_minor: Mapped[int | None] = mapped_column(BigInteger)
    #: Refunded amount, where the file gives it.
    refunded_minor: Mapped[int | None] = mapped_column(BigInteger)
    row_hash: Mapped[str] = mapped_column(String(32))
    #: The outbound order (and its line) that shipped or will ship this line from an overseas warehouse, set by
    #: fulfilment (``sales.fulfilment``); the stock allocations of that outbound line are the sale's lineage
    #: (lot -> declaration line). Never written by an import, so a re-import keeps the link.
    outbound_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    outbound_line_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The import (job) that last inserted or changed the line.
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class ImportProfile(Base):
    """A saved column mapping of the generic CSV/.xlsx importer: for each canonical field, the header of the
    column holding it in the enterprise's files, plus how dates and amounts are written."""

    __tablename__ = "sales_import_profiles"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "name"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(80))
    #: The channel the file's lines belong to (own_site, other, or a marketplace).
    channel: Mapped[str] = mapped_column(String(16))
    marketplace: Mapped[str | None] = mapped_column(String(64))
    #: canonical field -> header in the file.
    columns: Mapped[dict] = mapped_column(JSON)
    #: strptime pattern such as ``%d/%m/%Y %H:%M``; empty means ISO 8601.
    date_format: Mapped[str | None] = mapped_column(String(40))
    #: IANA zone of dates written without an offset.
    timezone: Mapped[str] = mapped_column(String(40), default="UTC")
    default_currency: Mapped[str | None] = mapped_column(String(3))
    #: Amounts written with a decimal comma (12,99).
    decimal_comma: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
