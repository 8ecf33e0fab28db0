from __future__ import annotations

from pydantic import BaseModel, Field


class Bucket(BaseModel):
    key: str | None = Field(description="null: the buckets too small to show, taken together")
    count: int


class Overview(BaseModel):
    region: dict | None
    min_cell: int = Field(description="smallest count shown; smaller buckets are folded or left out")
    suppressed: bool = Field(description="true when the region has fewer enterprises than min_cell")
    enterprises_total: int
    enterprises_by_kind: list[Bucket]
    enterprises_by_city: list[Bucket]
    enterprises_by_district: list[Bucket]
    enterprises_by_pilot_zone: list[Bucket]
    industry_belts: list[Bucket]
    enterprises_by_warehouse_country: list[Bucket]
