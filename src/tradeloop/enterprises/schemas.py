from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tradeloop.enterprises.models import EnterpriseKind, RebateMethod


class EnterpriseFields(BaseModel):
    name_zh: str | None = Field(None, description="Legal name in Chinese (企业名称)")
    name_en: str | None = None
    customs_code: str | None = Field(None, description="10-character customs registration code (海关编码)")
    rebate_method: RebateMethod | None = Field(
        None, description="exempt_credit_refund = 免抵退 (manufacturers); exempt_refund = 免退税 (traders)"
    )
    province: str | None = None
    city: str | None = None
    district: str | None = None
    pilot_zone: str | None = Field(None, description="综试区, e.g. 中国（苏州）跨境电子商务综合试验区")
    industry_belts: list[str] | None = Field(None, description="产业带 tags")


class EnterpriseCreate(EnterpriseFields):
    uscc: str = Field(description="统一社会信用代码 (GB 32100-2015), 18 characters")
    name_zh: str
    kind: EnterpriseKind


class EnterpriseUpdate(EnterpriseFields):
    pass


class EnterpriseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    uscc: str
    customs_code: str | None
    name_zh: str
    name_en: str | None
    kind: str
    rebate_method: str | None
    province: str | None
    city: str | None
    district: str | None
    pilot_zone: str | None
    industry_belts: list[str]
    created_at: datetime
    updated_at: datetime
