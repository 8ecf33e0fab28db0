"""Reference code tables (read by every authenticated caller)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.reference.repository import ReferenceRepository

router = APIRouter(prefix="/reference", tags=["reference"])

Dataset = Literal["countries", "currencies", "units", "transport_modes", "customs_offices", "unlocodes"]


@router.get("/datasets")
def list_datasets(principal: CurrentPrincipal, db: DB) -> Page[dict]:
    """Loaded datasets with their version and file hash."""
    rows = ReferenceRepository(db).datasets()
    return Page(items=[{"id": r.name, "name": r.name, "version": r.version, "sha256": r.sha256, "rows": r.rows,
                        "loaded_at": r.loaded_at.isoformat()} for r in rows])


@router.get("/{dataset}")
def list_codes(dataset: Dataset, principal: CurrentPrincipal, db: DB, q: str | None = None) -> Page[dict]:
    """All codes of a dataset (small tables; one page). Each item's ``id`` is its code."""
    repo = ReferenceRepository(db)
    items = []
    for row in repo.rows(dataset, q=q):
        data = {c.name: getattr(row, c.name) for c in row.__table__.columns}
        pk = next(iter(row.__table__.primary_key.columns)).name
        items.append({"id": data[pk], **data})
    return Page(items=items)
