"""The overseas-warehouse stock ledger: lots, append-only movements, inbound (ASN), outbound and returns.

Stock belongs to the exporter (``enterprise_id``) and lies in a warehouse that may belong to another
enterprise (``warehouse_owner_id``, the operator). A *lot* is the stock of one SKU in one warehouse that
came from one customs declaration line (the lineage: every unit sold abroad can be traced to the export
that carried it). ``stock_movements`` is append-only; the lot's ``on_hand``/``allocated`` columns are a
projection of it, changed only together with a movement by ``warehouse.ledger`` (the one module that
locks), and never negative, with ``allocated <= on_hand``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import UTCDateTime, created_column, updated_column


class MovementKind(enum.StrEnum):
    """Each kind's effect on (on_hand, allocated), for quantity q > 0."""

    RECEIPT = "receipt"  # (+q, 0) inbound receiving
    ALLOCATE = "allocate"  # (0, +q) reserved for an outbound order
    RELEASE = "release"  # (0, -q) reservation given back (cancel)
    OUTBOUND = "outbound"  # (-q, -q) shipped to the buyer (sold)
    RETURN_RESTOCK = "return_restock"  # (+q, 0) a returned unit back into sellable stock
    RETURN_DISPOSE = "return_dispose"  # (0, 0) a returned unit disposed at the warehouse
    RETURN_TO_ORIGIN_FROM_RETURN = "return_origin_ret"  # (0, 0) a returned unit sent back to China (退运)
    DISPOSE = "dispose"  # (-q, 0) stock disposed (damaged, expired)
    RETURN_TO_ORIGIN = "return_to_origin"  # (-q, 0) unsold stock sent back to China (退运)
    ADJUST_IN = "adjust_in"  # (+q, 0)
    ADJUST_OUT = "adjust_out"  # (-q, 0)
    TRANSFER_OUT = "transfer_out"  # (-q, 0) to another warehouse
    TRANSFER_IN = "transfer_in"  # (+q, 0) from another warehouse (same declaration line)
    COUNT_GAIN = "count_gain"  # (+q, 0) stock count found more
    COUNT_LOSS = "count_loss"  # (-q, 0) stock count found less


#: (sign of on_hand, sign of allocated) per kind.
EFFECT: dict[str, tuple[int, int]] = {
    MovementKind.RECEIPT: (1, 0), MovementKind.ALLOCATE: (0, 1), MovementKind.RELEASE: (0, -1),
    MovementKind.OUTBOUND: (-1, -1), MovementKind.RETURN_RESTOCK: (1, 0), MovementKind.RETURN_DISPOSE: (0, 0),
    MovementKind.RETURN_TO_ORIGIN_FROM_RETURN: (0, 0), MovementKind.DISPOSE: (-1, 0),
    MovementKind.RETURN_TO_ORIGIN: (-1, 0), MovementKind.ADJUST_IN: (1, 0), MovementKind.ADJUST_OUT: (-1, 0),
    MovementKind.TRANSFER_OUT: (-1, 0), MovementKind.TRANSFER_IN: (1, 0), MovementKind.COUNT_GAIN: (1, 0),
    MovementKind.COUNT_LOSS: (-1, 0),
}


class StockLot(Base):
    __tablename__ = "stock_lots"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "warehouse_id", "sku", "lot_key"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("allocated >= 0 AND allocated <= on_hand", name="allocated_within_on_hand"),
        Index("ix_stock_lots_fifo", "enterprise_id", "warehouse_id", "sku", "received_at"),
        Index("ix_stock_lots_owner", "warehouse_owner_id", "warehouse_id"),
        Index("ix_stock_lots_declaration", "enterprise_id", "declaration_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    warehouse_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sku: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The declaration line the goods were exported under ("" key for stock without one, e.g. opening stock).
    declaration_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    declaration_line_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lot_key: Mapped[str] = mapped_column(String(80))
    #: Display name: the list number and item (清单编号/项号) or the inbound number.
    lot_code: Mapped[str] = mapped_column(String(80))
    #: First receipt into this warehouse: the FIFO order and the start of the inventory age (库龄).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class StockMovement(Base):
    """Append-only. ``d_on_hand``/``d_allocated`` are the signed effects; ``qty`` the magnitude. The id
    (UUIDv7, monotonic) orders movements: a movement's transaction saw every movement it depends on
    committed, so running balances in id order never dip below zero."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_stock_movements_lot", "enterprise_id", "lot_id", "id"),
        Index("ix_stock_movements_sku", "enterprise_id", "warehouse_id", "sku", "id"),
        Index("ix_stock_movements_owner", "warehouse_owner_id", "warehouse_id", "id"),
        Index("ix_stock_movements_document", "enterprise_id", "document_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    lot_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    warehouse_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sku: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    qty: Mapped[int] = mapped_column(BigInteger)
    d_on_hand: Mapped[int] = mapped_column(BigInteger)
    d_allocated: Mapped[int] = mapped_column(BigInteger)
    document_type: Mapped[str] = mapped_column(String(20))
    document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    document_no: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()


class InboundStatus(enum.StrEnum):
    EXPECTED = "expected"  # 待收货
    RECEIVING = "receiving"  # 收货中
    RECEIVED = "received"  # 已收货 (closed; discrepancies final)
    CANCELLED = "cancelled"


class InboundOrder(Base):
    """An advance shipping notice (ASN, 入库单): what is expected in a warehouse, per SKU and lot."""

    __tablename__ = "inbound_orders"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "number"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_inbound_orders_owner", "warehouse_owner_id", "warehouse_id", "status"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(40))
    warehouse_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    shipment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=InboundStatus.EXPECTED)
    expected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class InboundLine(Base):
    __tablename__ = "inbound_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "inbound_id", "line_no"),
        ForeignKeyConstraint(["enterprise_id", "inbound_id"], ["inbound_orders.enterprise_id", "inbound_orders.id"],
                             ondelete="CASCADE"),
        Index("ix_inbound_lines_declaration", "enterprise_id", "declaration_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    inbound_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    declaration_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    declaration_line_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lot_code: Mapped[str | None] = mapped_column(String(80))
    expected_qty: Mapped[int] = mapped_column(BigInteger)
    #: Counted good units (into stock), damaged units (not into stock), and the reason of any difference.
    received_qty: Mapped[int] = mapped_column(BigInteger, default=0)
    damaged_qty: Mapped[int] = mapped_column(BigInteger, default=0)
    discrepancy_reason: Mapped[str | None] = mapped_column(Text)
    lot_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    @property
    def short_qty(self) -> int:
        return max(0, self.expected_qty - self.received_qty - self.damaged_qty)

    @property
    def over_qty(self) -> int:
        return max(0, self.received_qty + self.damaged_qty - self.expected_qty)


class OutboundStatus(enum.StrEnum):
    CREATED = "created"  # 已创建
    ALLOCATED = "allocated"  # 已分配库存
    PICKED = "picked"  # 已拣货
    SHIPPED = "shipped"  # 已发货
    DELIVERED = "delivered"  # 已签收
    CANCELLED = "cancelled"  # 已取消


class OutboundOrder(Base):
    __tablename__ = "outbound_orders"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "number"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_outbound_orders_owner", "warehouse_owner_id", "warehouse_id", "status"),
        UniqueConstraint("enterprise_id", "reference"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(40))
    warehouse_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(20), default=OutboundStatus.CREATED)
    #: The sales channel's order reference (marketplace order id) when there is one.
    reference: Mapped[str | None] = mapped_column(String(100))
    ship_to_name: Mapped[str] = mapped_column(String(200))
    ship_to_country: Mapped[str] = mapped_column(String(2))
    ship_to_address: Mapped[str] = mapped_column(Text)
    ship_to_postcode: Mapped[str | None] = mapped_column(String(20))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_no: Mapped[str | None] = mapped_column(String(100))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class OutboundLine(Base):
    __tablename__ = "outbound_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "outbound_id", "line_no"),
        ForeignKeyConstraint(["enterprise_id", "outbound_id"],
                             ["outbound_orders.enterprise_id", "outbound_orders.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    outbound_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(BigInteger)


class Allocation(Base):
    """Which lot serves which outbound line, and how much (FIFO by lot receipt time): the lineage."""

    __tablename__ = "stock_allocations"
    __table_args__ = (
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        # with "id": an order's allocations come back in id order straight from the index (SQLite without
        # statistics otherwise scans the primary key over all of the enterprise's allocations)
        Index("ix_stock_allocations_outbound", "enterprise_id", "outbound_id", "id"),
        Index("ix_stock_allocations_lot", "enterprise_id", "lot_id"),
        Index("ix_stock_allocations_line", "enterprise_id", "line_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    outbound_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    lot_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    qty: Mapped[int] = mapped_column(BigInteger)
    #: allocated → shipped, or released on cancel.
    state: Mapped[str] = mapped_column(String(10), default="allocated")


class ReturnStatus(enum.StrEnum):
    EXPECTED = "expected"  # 待退货
    RECEIVED = "received"  # 已收到，待检验
    CLOSED = "closed"  # 已检验并处理


class Disposition(enum.StrEnum):
    RESTOCK = "restock"  # 重新上架
    DISPOSE = "dispose"  # 销毁
    RETURN_TO_ORIGIN = "return_to_origin"  # 退运回国


class ReturnOrder(Base):
    __tablename__ = "return_orders"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "number"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_return_orders_owner", "warehouse_owner_id", "warehouse_id", "status"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(40))
    warehouse_owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    outbound_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(20), default=ReturnStatus.EXPECTED)
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "return_id", "line_no"),
        ForeignKeyConstraint(["enterprise_id", "return_id"], ["return_orders.enterprise_id", "return_orders.id"],
                             ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    return_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    #: The lot the unit left from (through the outbound allocation): the returned unit keeps its lineage.
    lot_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    qty: Mapped[int] = mapped_column(BigInteger)
    condition: Mapped[str | None] = mapped_column(String(100))
    disposition: Mapped[str | None] = mapped_column(String(20))

