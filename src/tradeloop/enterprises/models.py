"""The enterprise is the tenant: every tenant table leads its keys with ``enterprise_id``."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import created_column, updated_column


class EnterpriseKind(enum.StrEnum):
    MANUFACTURER = "manufacturer"  # 生产企业
    TRADER = "trader"  # 外贸企业
    WAREHOUSE = "warehouse"  # 海外仓企业
    LOGISTICS = "logistics"  # 物流企业
    PLATFORM = "platform"  # 电商平台


class RebateMethod(enum.StrEnum):
    EXEMPT_CREDIT_REFUND = "exempt_credit_refund"  # 免抵退 (manufacturers)
    EXEMPT_REFUND = "exempt_refund"  # 免退税 (traders)


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    customs_code: Mapped[str | None] = mapped_column(String(10), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    rebate_method: Mapped[str | None] = mapped_column(String(30))
    province: Mapped[str | None] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(50))
    district: Mapped[str | None] = mapped_column(String(50))
    pilot_zone: Mapped[str | None] = mapped_column(String(100))
    industry_belts: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
