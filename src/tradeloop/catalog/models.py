"""The product catalogue (tenant data) and the HS reference with VAT and export-rebate rates by date."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import created_column, updated_column


class HsCode(Base):
    """One HS line and one rate period; reference data (every user reads it), loaded from ``catalog/data``.

    A line whose rates changed (lithium-ion batteries: 财政部 税务总局公告2024年第15号, 2026年第2号) has one row
    per period. ``id`` is the code (10 digits, or 8 where no 10-digit line was confirmed) plus
    ``@valid_from`` for periods after the first. An empty rate means no source gave it: unknown, never 0.
    """

    __tablename__ = "hs_codes"
    __table_args__ = (Index("ix_hs_codes_code10", "code10"), Index("ix_hs_codes_code8", "code8"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code10: Mapped[str | None] = mapped_column(String(10))
    code8: Mapped[str] = mapped_column(String(8))
    description_zh: Mapped[str] = mapped_column(String(200))
    #: Percent (13 = 13%), exact decimals.
    vat_rate_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2, asdecimal=True))
    rebate_rate_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2, asdecimal=True))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    rate_as_of: Mapped[date | None] = mapped_column(Date)
    #: Legal units of quantity (法定计量单位), 3-digit customs unit codes, where a source gave them.
    unit1: Mapped[str | None] = mapped_column(String(3))
    unit2: Mapped[str | None] = mapped_column(String(3))
    product: Mapped[str | None] = mapped_column(String(100))
    hs_given: Mapped[str | None] = mapped_column(String(40))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    confidence: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "sku"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_products_hs_code", "enterprise_id", "hs_code"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    sku: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    declared_name: Mapped[str] = mapped_column(String(250))  # 申报品名 (CEB gname)
    declared_elements: Mapped[str | None] = mapped_column(Text)  # 申报要素
    hs_code: Mapped[str] = mapped_column(String(10))
    customs_unit: Mapped[str] = mapped_column(String(3))
    unit1: Mapped[str | None] = mapped_column(String(3))
    #: How many unit1 make one customs unit (e.g. 0.25 kg per piece).
    unit1_factor: Mapped[Decimal | None] = mapped_column(Numeric(15, 6, asdecimal=True))
    unit2: Mapped[str | None] = mapped_column(String(3))
    unit2_factor: Mapped[Decimal | None] = mapped_column(Numeric(15, 6, asdecimal=True))
    gross_weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(12, 4, asdecimal=True))
    net_weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(12, 4, asdecimal=True))
    #: 3-digit customs country code (原报关代码), the code set of the CEB messages.
    origin_country: Mapped[str | None] = mapped_column(String(3))
    brand: Mapped[str | None] = mapped_column(String(100))
    gtin: Mapped[str | None] = mapped_column(String(14))
    #: Integer minor units of ``cost_currency`` (ISO 4217; its minor units come from ref_currencies).
    cost_minor: Mapped[int | None] = mapped_column(BigInteger)
    cost_currency: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
