from __future__ import annotations

from pydantic import BaseModel


class Bucket(BaseModel):
    key: str | None
    count: int


class Overview(BaseModel):
    region: dict | None
    enterprises_total: int
    enterprises_by_kind: list[Bucket]
    enterprises_by_city: list[Bucket]
    enterprises_by_district: list[Bucket]
    enterprises_by_pilot_zone: list[Bucket]
    industry_belts: list[Bucket]
    warehouses_by_country: list[Bucket]
