"""Overseas warehouses (海外仓) as master data, their clients, evidence files and customs filings."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
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


class Tenure(enum.StrEnum):
    OWNED = "owned"  # 自有
    LEASED = "leased"  # 租赁


class EvidenceKind(enum.StrEnum):
    LEASE = "lease"  # 租赁合同
    OWNERSHIP = "ownership"  # 产权证明
    OTHER = "other"


class FilingStatus(enum.StrEnum):
    FILED = "filed"  # 已备案
    CHANGED = "changed"  # 变更
    CANCELLED = "cancelled"  # 注销
    LAPSED = "lapsed"  # 因2024年第167号公告取消备案而失效


class Warehouse(Base):
    """Registered by the enterprise that keeps it (``enterprise_id``): its operator or an exporter."""

    __tablename__ = "warehouses"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "code"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(30))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    operator_enterprise_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("enterprises.id"), index=True
    )
    operator_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    address: Mapped[str] = mapped_column(Text)
    unlocode: Mapped[str | None] = mapped_column(String(5))
    area_m2: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=True))
    tenure: Mapped[str] = mapped_column(String(10))
    lease_start: Mapped[date | None] = mapped_column(Date)
    lease_end: Mapped[date | None] = mapped_column(Date)
    contact: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class WarehouseClient(Base):
    """An exporter that stores goods in the warehouse; it may read the warehouse's master data."""

    __tablename__ = "warehouse_clients"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "warehouse_id", "client_enterprise_id"),
        ForeignKeyConstraint(
            ["enterprise_id", "warehouse_id"], ["warehouses.enterprise_id", "warehouses.id"],
            ondelete="CASCADE",
        ),
        Index("ix_warehouse_clients_client", "client_enterprise_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    client_enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("enterprises.id"))
    since: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_column()


class WarehouseEvidence(Base):
    """A lease or ownership proof; the bytes live content-addressed on disk under their SHA-256."""

    __tablename__ = "warehouse_evidence"
    __table_args__ = (
        ForeignKeyConstraint(
            ["enterprise_id", "warehouse_id"], ["warehouses.enterprise_id", "warehouses.id"],
            ondelete="CASCADE",
        ),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_column()


class WarehouseFiling(Base):
    """The customs 海外仓备案 record (required 2020-07 … 2024-12-14; abolished by GACC 2024 No. 167)."""

    __tablename__ = "warehouse_filings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["enterprise_id", "warehouse_id"], ["warehouses.enterprise_id", "warehouses.id"],
            ondelete="CASCADE",
        ),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    customs_office: Mapped[str] = mapped_column(String(4))
    filing_no: Mapped[str | None] = mapped_column(String(50))
    modes: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    filed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class WarehouseFilingEvent(Base):
    """History of a filing: each status change with its date; never updated."""

    __tablename__ = "warehouse_filing_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["enterprise_id", "filing_id"], ["warehouse_filings.enterprise_id", "warehouse_filings.id"],
            ondelete="CASCADE",
        ),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    filing_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
