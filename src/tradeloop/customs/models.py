"""Export declarations over the customs unified-system messages (CEB, 202205 edition).

A declaration (one export: an order / 订仓单, its waybill, its list 清单) is written as several CEB
documents; each document is followed by its receipts. The state of a document is a function of the
*set* of its receipts (see ``customs.status``), so receipts that arrive twice or out of order leave the
same state. Every message written or read is kept verbatim in ``customs_messages``; an inbound file
that cannot be read or matched is kept in ``customs_quarantine`` with the reason, never dropped.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import UTCDateTime, created_column, updated_column


class Mode(enum.StrEnum):
    """Customs supervision mode (监管方式), domain.md §1.1."""

    RETAIL = "9610"  # 跨境贸易电子商务 (B2C retail export)
    B2B_DIRECT = "9710"  # 跨境电商B2B直接出口
    OVERSEAS_WAREHOUSE = "9810"  # 跨境电商出口海外仓
    BONDED = "1210"  # 保税跨境贸易电子商务 (special-area export)


class DeclarationStatus(enum.StrEnum):
    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 已申报, waiting for receipts
    NEEDS_ACTION = "needs_action"  # rejected or failed: correct (appType=2) or cancel (CEB605)
    ACCEPTED = "accepted"  # 120 入库 / 300 人工审核 / 399 审结
    INSPECTION = "inspection"  # 500 查验, 501–599 扣留
    RELEASED = "released"  # 800 放行
    CLOSED = "closed"  # 899 结关 (departed)
    CANCEL_REQUESTED = "cancel_requested"  # CEB605 sent
    CANCELLED = "cancelled"  # CEB606 accepted
    SUMMARISED = "summarised"  # in a CEB701 summary application
    DECLARED = "declared"  # CEB792 gave the export declaration number (entryId)


class DocumentKind(enum.StrEnum):
    ORDER = "order"  # CEB303 (E / B / W 订仓单)
    PAYMENT = "payment"  # CEB403 收款单
    WAYBILL = "waybill"  # CEB505 运单
    LIST = "list"  # CEB603 出口申报清单
    BILL = "bill"  # CEB607 清单总分单
    CANCEL = "cancel"  # CEB605 撤销申请单
    REFUND = "refund"  # CEB213 退货申请单
    SUMMARY = "summary"  # CEB701 汇总申请单


class Declaration(Base):
    __tablename__ = "customs_declarations"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "cop_no"),
        UniqueConstraint("enterprise_id", "order_no"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_customs_declarations_status", "enterprise_id", "status"),
        Index("ix_customs_declarations_invt_no", "invt_no"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    mode: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(20), default=DeclarationStatus.DRAFT)
    #: What the user must do, when status is needs_action (the rejecting receipt's text).
    action_reason: Mapped[str | None] = mapped_column(Text)
    #: 企业内部编号 of the list (CEB603 copNo), generated, unique per enterprise.
    cop_no: Mapped[str] = mapped_column(String(30))
    #: Order number; for 9810 the 订仓单编号.
    order_no: Mapped[str] = mapped_column(String(60))
    order_type: Mapped[str] = mapped_column(String(1))  # E / B / W
    ebp_code: Mapped[str] = mapped_column(String(18))
    ebp_name: Mapped[str] = mapped_column(String(100))
    ebc_code: Mapped[str] = mapped_column(String(18))
    ebc_name: Mapped[str] = mapped_column(String(100))
    owner_code: Mapped[str] = mapped_column(String(18))
    owner_name: Mapped[str] = mapped_column(String(100))
    agent_code: Mapped[str] = mapped_column(String(18))
    agent_name: Mapped[str] = mapped_column(String(100))
    logistics_code: Mapped[str] = mapped_column(String(18))
    logistics_name: Mapped[str] = mapped_column(String(100))
    logistics_no: Mapped[str] = mapped_column(String(32))
    warehouse_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    customs_code: Mapped[str] = mapped_column(String(4))  # 申报地海关
    port_code: Mapped[str] = mapped_column(String(4))  # 出口口岸
    ie_date: Mapped[date] = mapped_column(Date)
    #: 3-digit customs country code (运抵国) and 指运港 code.
    country: Mapped[str] = mapped_column(String(3))
    pod: Mapped[str] = mapped_column(String(4))
    traf_mode: Mapped[str] = mapped_column(String(1))
    traf_name: Mapped[str | None] = mapped_column(String(100))
    voyage_no: Mapped[str | None] = mapped_column(String(32))
    bill_no: Mapped[str | None] = mapped_column(String(37))
    trade_terms: Mapped[str] = mapped_column(String(3), default="FOB")
    #: ISO 4217; written as the customs 3-digit code. Amounts below are minor units of it.
    currency: Mapped[str] = mapped_column(String(3))
    freight_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    insured_fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    goods_value_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    wrap_type: Mapped[str] = mapped_column(String(1))
    pack_no: Mapped[int] = mapped_column(Integer)
    gross_weight_kg: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    net_weight_kg: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    statistics_flag: Mapped[str] = mapped_column(String(1), default="B")
    license_no: Mapped[str | None] = mapped_column(String(19))
    #: Special-area (1210) fields.
    iac_code: Mapped[str | None] = mapped_column(String(18))
    iac_name: Mapped[str | None] = mapped_column(String(100))
    ems_no: Mapped[str | None] = mapped_column(String(30))
    #: Payment (CEB403), required for 9610.
    pay_code: Mapped[str | None] = mapped_column(String(18))
    pay_name: Mapped[str | None] = mapped_column(String(100))
    pay_no: Mapped[str | None] = mapped_column(String(60))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    #: Assigned by E-Port / customs through receipts.
    pre_no: Mapped[str | None] = mapped_column(String(18))
    invt_no: Mapped[str | None] = mapped_column(String(20))
    entry_id: Mapped[str | None] = mapped_column(String(18))
    summary_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: 1 before the first correction; every resubmission (appType=2) increments it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class DeclarationLine(Base):
    __tablename__ = "customs_declaration_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "declaration_id", "gnum"),
        ForeignKeyConstraint(["enterprise_id", "declaration_id"],
                             ["customs_declarations.enterprise_id", "customs_declarations.id"], ondelete="CASCADE"),
        Index("ix_customs_lines_entry_id", "entry_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    declaration_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    gnum: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    item_no: Mapped[str] = mapped_column(String(20))  # SKU
    item_record_no: Mapped[str | None] = mapped_column(String(30))
    item_name: Mapped[str | None] = mapped_column(String(250))
    gcode: Mapped[str] = mapped_column(String(10))
    gname: Mapped[str] = mapped_column(String(250))
    gmodel: Mapped[str] = mapped_column(String(250))
    bar_code: Mapped[str] = mapped_column(String(50))
    country: Mapped[str] = mapped_column(String(3))  # 最终目的国
    qty: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    unit: Mapped[str] = mapped_column(String(3))
    qty1: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    unit1: Mapped[str] = mapped_column(String(3))
    qty2: Mapped[Decimal | None] = mapped_column(Numeric(19, 5, asdecimal=True))
    unit2: Mapped[str | None] = mapped_column(String(3))
    #: FOB unit price (N19,5) and the line total in minor units of the declaration currency.
    price: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    gross_weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(19, 5, asdecimal=True))
    net_weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(19, 5, asdecimal=True))
    #: From the summary result (CEB792): the export declaration and its item order.
    decl_seq_no: Mapped[str | None] = mapped_column(String(18))
    entry_id: Mapped[str | None] = mapped_column(String(18))
    gseqno: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class Document(Base):
    """One CEB business document of a declaration (or of a summary) and the state of its receipts."""

    __tablename__ = "customs_documents"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "owner_id", "kind"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_customs_documents_match", "kind", "match_key"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: The declaration (or summary application) the document belongs to.
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(10))
    message_type: Mapped[str] = mapped_column(String(6))
    #: What receipts carry to find this document: orderNo, logisticsNo or copNo (see customs.matching).
    match_key: Mapped[str] = mapped_column(String(80))
    app_type: Mapped[str] = mapped_column(String(1), default="1")
    #: Receipts whose returnTime is at or before this were for an earlier, superseded submission.
    superseded_through: Mapped[str | None] = mapped_column(String(17))
    status_code: Mapped[str | None] = mapped_column(String(10))
    status_info: Mapped[str | None] = mapped_column(Text)
    status_time: Mapped[str | None] = mapped_column(String(17))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class MessageDirection(enum.StrEnum):
    OUT = "out"
    IN = "in"


class Message(Base):
    """A CEB message written to the outbox or read from the inbox, kept verbatim."""

    __tablename__ = "customs_messages"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "direction", "owner_id", "sha256"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_customs_messages_owner", "enterprise_id", "owner_id"),
        Index("ix_customs_messages_dispatch", "direction", "dispatched_at"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    direction: Mapped[str] = mapped_column(String(3))
    message_type: Mapped[str] = mapped_column(String(6))
    guid: Mapped[str] = mapped_column(String(36))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    #: Outbound: when the file reached the outbox folder (None = queued).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Inbound: receipts read from it and how many changed something.
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class Receipt(Base):
    """One receipt entity applied to a document. Unique on what customs sent, so replays change nothing."""

    __tablename__ = "customs_receipts"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "document_id", "status_code", "return_time"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    message_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    message_type: Mapped[str] = mapped_column(String(6))
    status_code: Mapped[str] = mapped_column(String(10))
    return_time: Mapped[str] = mapped_column(String(17))
    info: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class Quarantined(Base):
    """An inbound file that could not be read or matched. ``enterprise_id`` is None when no tenant is known
    (then only platform admins see it)."""

    __tablename__ = "customs_quarantine"
    __table_args__ = (Index("ix_customs_quarantine_enterprise", "enterprise_id", "resolved_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    #: malformed / unsafe / unknown_root / too_large / unmatched / not_applicable
    reason_kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str | None] = mapped_column(String(6))
    received_at: Mapped[datetime] = created_column()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)


class SummaryStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # CEB701 sent
    NEEDS_ACTION = "needs_action"  # 702 rejected
    ACCEPTED = "accepted"  # 702 399 with sumNo
    DECLARED = "declared"  # 792 with entryId
    WITHDRAWN = "withdrawn"  # rejected, lists given back for a new summary


class Summary(Base):
    """A monthly summary application (汇总申请, CEB701) of closed lists sharing the merge key."""

    __tablename__ = "customs_summaries"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "cop_no"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    cop_no: Mapped[str] = mapped_column(String(30))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of the lists' closing
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=SummaryStatus.DRAFT)
    customs_code: Mapped[str] = mapped_column(String(4))
    #: The merge key (domain.md §1.4): consignor, producer, transport mode, destination, exit port.
    ebc_code: Mapped[str] = mapped_column(String(18))
    owner_code: Mapped[str] = mapped_column(String(18))
    traf_mode: Mapped[str] = mapped_column(String(1))
    country: Mapped[str] = mapped_column(String(3))
    port_code: Mapped[str] = mapped_column(String(4))
    ebc_name: Mapped[str] = mapped_column(String(100))
    agent_code: Mapped[str] = mapped_column(String(18))
    agent_name: Mapped[str] = mapped_column(String(100))
    decl_agent_code: Mapped[str] = mapped_column(String(18))
    decl_agent_name: Mapped[str] = mapped_column(String(100))
    summary_flag: Mapped[str] = mapped_column(String(1), default="2")
    pre_no: Mapped[str | None] = mapped_column(String(18))
    sum_no: Mapped[str | None] = mapped_column(String(18))
    decl_seq_no: Mapped[str | None] = mapped_column(String(18))
    entry_id: Mapped[str | None] = mapped_column(String(18))
    dec_state: Mapped[str | None] = mapped_column(String(3))
    action_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
