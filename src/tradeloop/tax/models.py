"""Purchase invoices (进项发票: VAT special invoices a trader bought the exported goods with) and their
allocation to export declaration lines, the basis of 免退税 (domain.md §3.1 item 4, §3.3 (a)).

Amounts are CNY fen (integer); quantities are decimals in the invoice's unit (N19,5 as customs quantities);
rates are fractions (0.13). An allocation says: this many units of this invoice line were exported on that
declaration line, carrying this part of the invoice amount and VAT. Neither side is ever allocated beyond its
quantity.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import DecimalText, created_column, updated_column


class PurchaseInvoice(Base):
    __tablename__ = "purchase_invoices"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "invoice_code", "invoice_no", name="uq_purchase_invoices_number"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_purchase_invoices_date", "enterprise_id", "issue_date"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: 发票代码 (10 or 12 digits); empty ("") for fully digital invoices (数电发票), which have a 20-digit number.
    invoice_code: Mapped[str] = mapped_column(String(12))
    #: 发票号码 (8 digits, or 20 for 数电发票).
    invoice_no: Mapped[str] = mapped_column(String(20))
    issue_date: Mapped[date] = mapped_column(Date)
    seller_uscc: Mapped[str] = mapped_column(String(18))
    seller_name: Mapped[str | None] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # 金额 (excl. VAT), sum of the lines
    vat_minor: Mapped[int] = mapped_column(BigInteger)  # 税额, sum of the lines
    filename: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class PurchaseInvoiceLine(Base):
    __tablename__ = "purchase_invoice_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "invoice_id", "line_no"),
        ForeignKeyConstraint(["enterprise_id", "invoice_id"], ["purchase_invoices.enterprise_id",
                                                               "purchase_invoices.id"], ondelete="CASCADE"),
        Index("ix_purchase_invoice_lines_sku", "enterprise_id", "sku"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)
    #: 货物或应税劳务、服务名称 as printed (e.g. *纺织产品*真丝丝巾).
    goods_name: Mapped[str] = mapped_column(String(200))
    #: The catalogue SKU the line is for (from a SKU column, or 规格型号 when it names a SKU).
    sku: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))  # 规格型号
    unit: Mapped[str | None] = mapped_column(String(20))  # 单位
    quantity: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # 金额 (excl. VAT)
    vat_rate: Mapped[Decimal] = mapped_column(DecimalText)  # 税率 as a fraction
    vat_minor: Mapped[int] = mapped_column(BigInteger)  # 税额
    allocated_qty: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True), default=Decimal(0))


class InvoiceAllocation(Base):
    """Units of an invoice line exported on a declaration line, with their share of amount and VAT."""

    __tablename__ = "invoice_allocations"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "invoice_line_id", "declaration_line_id", name="uq_invoice_allocations"),
        ForeignKeyConstraint(["enterprise_id", "invoice_line_id"], ["purchase_invoice_lines.enterprise_id",
                                                                    "purchase_invoice_lines.id"], ondelete="CASCADE"),
        Index("ix_invoice_allocations_declaration_line", "enterprise_id", "declaration_line_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    invoice_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    declaration_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    qty: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(10))  # auto or manual
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
