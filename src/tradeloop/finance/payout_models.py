"""Saved CSV profiles of payment firms' payout files (Payoneer, PingPong, LianLian 连连, WorldFirst 万里汇 …).

No payment firm publishes its file layout (``standards.md`` §3.2), so a profile says where each field is:
for each field of a payout row, the header of its column in the enterprise's files, plus how dates, signs and
decimals are written and which file ``type`` values mean which item kind. The built-in starter layouts live in
``finance/parsers/profiles.py``; a profile saved here with the same name replaces the starter for its
enterprise.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import created_column, updated_column


class PayoutProfile(Base):
    __tablename__ = "payout_profiles"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "name", name="uq_payout_profiles_name"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: The ``--channel`` value and the payouts' ``source`` (lower case, 2–40 characters).
    name: Mapped[str] = mapped_column(String(40))
    #: field -> header in the file; fields: payout_id, date, gross, fees, net, currency, order_id, sku,
    #: reference, type.
    columns: Mapped[dict] = mapped_column(JSON)
    #: strptime pattern such as ``%d/%m/%Y %H:%M``; empty means ISO 8601.
    date_format: Mapped[str | None] = mapped_column(String(40))
    #: IANA zone of dates written without an offset.
    timezone: Mapped[str] = mapped_column(String(40), default="UTC")
    #: ``signed`` (amounts carry their sign; net = gross + fees) or ``fees_positive`` (fees written as a
    #: positive charge; net = gross − fees).
    sign_convention: Mapped[str] = mapped_column(String(20), default="signed")
    #: Amounts written with a decimal comma (1.234,56).
    decimal_comma: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Currency of files without a currency column.
    default_currency: Mapped[str | None] = mapped_column(String(3))
    #: value of the ``type`` column (case-insensitive) -> item kind of the gross amount (default principal).
    type_map: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
