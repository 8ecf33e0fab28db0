"""Reference data: which datasets are loaded, and their codes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tradeloop.kit.errors import NotFound
from tradeloop.kit.templating import render
from tradeloop.kit.web import DB, PagePrincipal
from tradeloop.reference.repository import DATASET_MODELS, ReferenceRepository

router = APIRouter()


@router.get("/reference")
def reference_page(request: Request, principal: PagePrincipal, db: DB, dataset: str = "countries",
                   q: str | None = None):
    if dataset not in DATASET_MODELS:
        raise NotFound("No such dataset.")
    repo = ReferenceRepository(db)
    model = DATASET_MODELS[dataset]
    columns = [c.name for c in model.__table__.columns]
    rows = repo.rows(dataset, q=q)
    return render(request, "reference.html", {"active": "reference", "datasets": repo.datasets(),
                                              "dataset": dataset, "columns": columns, "rows": rows, "q": q or ""})
