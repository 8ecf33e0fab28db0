"""Saved column profiles: for an importer of files whose layout nobody publishes (a shop system's order
export, a payment firm's payout file), the enterprise's mapping of each field to the header of its column,
plus how dates, amounts and signs are written.

Two importers keep such profiles, each in its own table with its own fields: the generic sales importer
(``sales_import_profiles``, ``sales/models.ImportProfile``) and the payout importer (``payout_profiles``,
``finance/payout_models.PayoutProfile``). What they share is here: the tenant-scoped repository (by id, by
name, paged, name taken) and the three audited changes (create, update, delete). Each module supplies its model,
how a name is normalised, and the check of its own fields (``values_of``), and keeps its own audit action names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.kit.errors import Conflict, NotFound
from tradeloop.kit.ids import uuid7
from tradeloop.kit.pagination import paginate
from tradeloop.kit.repository import TenantRepository
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors


class ColumnProfileRepository(TenantRepository):
    """Queries of one kind of column profile. Subclasses set ``model`` (a table keyed by ``enterprise_id`` and
    ``id`` with a unique ``name`` per enterprise) and the not-found message."""

    model: Any
    not_found = ("Profile not found.", "未找到该方案")

    @staticmethod
    def normalise(name: str) -> str:
        return name.strip()

    def readable(self) -> Select:
        return select(self.model).where(self.model.enterprise_id == self.me)

    def get(self, profile_id: uuid.UUID, *, for_update: bool = False):
        stmt = self.readable().where(self.model.id == profile_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound(self.not_found[0], message_zh=self.not_found[1])
        return row

    def by_name(self, name: str):
        return self.session.scalar(self.readable().where(self.model.name == self.normalise(name)))

    def all(self) -> list:
        return list(self.session.scalars(self.readable().order_by(self.model.name)))

    def names(self) -> list[str]:
        return [p.name for p in self.all()]

    def page(self, *, cursor: str | None, limit: int | None):
        return paginate(self.session, self.readable(), self.model.id, cursor=cursor, limit=limit)

    def name_taken(self, name: str, *, except_id: uuid.UUID | None = None) -> bool:
        stmt = self.readable().where(self.model.name == name)
        if except_id is not None:
            stmt = stmt.where(self.model.id != except_id)
        return self.session.scalar(stmt.limit(1)) is not None


#: ``values_of(errors, given, current)``: the checked values of every field of the profile, from the fields
#: ``given`` (a partial update keeps ``current``'s other fields); problems are added to ``errors``.
ValuesOf = Callable[[Errors, dict, Any], dict]


def given_fields(data) -> dict:
    """The fields a request set: a dict as it is, a pydantic model without its unset fields."""
    if hasattr(data, "model_dump"):
        return data.model_dump(exclude_unset=True)
    return dict(data)


def _checked(repo: ColumnProfileRepository, values_of: ValuesOf, data, current) -> dict:
    errors = Errors()
    values = values_of(errors, given_fields(data), current)
    if values.get("name") and repo.name_taken(values["name"], except_id=current.id if current is not None else None):
        errors.add("name", "is already used by another profile", "名称已被其他方案使用")
    errors.raise_if_any()
    return values


def create(session: Session, *, principal: Principal, repo: ColumnProfileRepository, values_of: ValuesOf, data,
           action: str, entity_type: str):
    """Save a new profile; one audit row ``action`` (e.g. ``sales.profile.create``)."""
    tenant = principal.tenant(Action.WRITE)
    values = _checked(repo, values_of, data, None)
    row = repo.model(enterprise_id=tenant, id=uuid7(), **values)
    if not repo.add(row):
        raise Conflict("Another request saved a profile with the same name; try again.",
                       message_zh="另一请求同时保存了同名方案，请重试")
    audit.record(session, principal=principal, action=action, entity_type=entity_type, entity_id=row.id, after=row)
    return row


def update(session: Session, *, principal: Principal, repo: ColumnProfileRepository, values_of: ValuesOf,
           profile_id: uuid.UUID, data, action: str, entity_type: str):
    """Change the fields ``data`` sets; nothing (and no audit row) when they are already so."""
    principal.tenant(Action.WRITE)
    row = repo.get(profile_id, for_update=True)
    values = _checked(repo, values_of, data, row)
    if all(getattr(row, k) == v for k, v in values.items()):
        return row
    before = audit.snapshot(row)
    for k, v in values.items():
        setattr(row, k, v)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("Another request saved a profile with the same name; try again.",
                       message_zh="另一请求同时保存了同名方案，请重试") from None
    audit.record(session, principal=principal, action=action, entity_type=entity_type, entity_id=row.id,
                 before=before, after=row)
    return row


def delete(session: Session, *, principal: Principal, repo: ColumnProfileRepository, profile_id: uuid.UUID,
           action: str, entity_type: str) -> None:
    principal.tenant(Action.WRITE)
    row = repo.get(profile_id, for_update=True)
    before = audit.snapshot(row)
    repo.delete(row)
    audit.record(session, principal=principal, action=action, entity_type=entity_type, entity_id=profile_id,
                 before=before)
