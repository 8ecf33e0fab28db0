"""Stored responses of POST requests that carried an ``Idempotency-Key`` header."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.models import created_column


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    #: Hash of the credential that sent the request, so two clients never share keys.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_column()
