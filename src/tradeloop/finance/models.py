"""Exchange rates: public reference data (not per tenant), each row with its source.

``rate`` is CNY per ONE unit of ``currency`` (full precision); ``quoted`` and ``quote`` keep what the source
published (e.g. ``100JPY/CNY`` 4.6123, ``CNY/MYR`` 0.5929, ECB ``EUR/USD`` 1.1172 with ``EUR/CNY`` 7.4326),
so every conversion can be traced back to the published figure.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.models import DecimalText, created_column


class RateSource(enum.StrEnum):
    #: 人民币汇率中间价: the CNY central parity CFETS publishes at 09:15 Beijing time (authorised by the PBoC).
    CFETS = "cfets"
    #: ECB euro foreign exchange reference rates, crossed through EUR (EUR/CNY ÷ EUR/XXX).
    ECB = "ecb"
    #: The customs conversion rate of a month (海关月度汇率折算), one row per currency and month (day = the 1st).
    CUSTOMS = "customs"
    #: Rates entered from another source (a bank's settlement rate …), named in ``note``.
    MANUAL = "manual"


class ExchangeRate(Base):
    __tablename__ = "fx_rates"
    __table_args__ = (Index("ix_fx_rates_currency_day", "currency", "day"),)

    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    #: CNY per one unit of ``currency``.
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    #: The published pair and figure, e.g. "USD/CNY" 7.1234, "100JPY/CNY" 4.6123, "CNY/MYR" 0.5929.
    quote: Mapped[str] = mapped_column(String(20))
    quoted: Mapped[Decimal] = mapped_column(DecimalText)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
