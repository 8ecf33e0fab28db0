"""Audit rows: who changed what, before and after, in the transaction that made the change."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import created_column


class AuditLog(Base):
    """Append-only. ``enterprise_id`` is NULL for platform-level changes (enterprises, users)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_enterprise_entity", "enterprise_id", "entity_type", "entity_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    at: Mapped[datetime] = created_column()
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
