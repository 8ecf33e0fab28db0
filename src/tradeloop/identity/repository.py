"""Queries on users, memberships, API keys and login failures."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from tradeloop.enterprises.models import Enterprise
from tradeloop.identity.models import ApiKey, LoginFailure, Membership, RegulatorScope, User
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.tenancy import Action, Principal


def normalise_username(username: str) -> str:
    """User names are kept lower-case, so the database's unique constraint is case-insensitive too."""
    return username.strip().lower()


class IdentityRepository:
    """Authentication look-ups; they run before a principal exists, so they are not tenant-scoped."""

    def __init__(self, session: Session):
        self.session = session

    def user_by_username(self, username: str) -> User | None:
        return self.session.scalar(select(User).where(User.username == normalise_username(username)))

    def user(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
        stmt = select(User).where(User.id == user_id)
        return self.session.scalar(stmt.with_for_update() if for_update else stmt)

    def memberships_of(self, user_id: uuid.UUID) -> list[tuple[Membership, Enterprise]]:
        rows = self.session.execute(
            select(Membership, Enterprise)
            .join(Enterprise, Enterprise.id == Membership.enterprise_id)
            .where(Membership.user_id == user_id)
            .order_by(Enterprise.name_zh)
        )
        return list(rows.tuples())

    def regulator_scope(self, user_id: uuid.UUID) -> RegulatorScope | None:
        return self.session.scalar(select(RegulatorScope).where(RegulatorScope.user_id == user_id))

    def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def lock_throttle_keys(self, keys: list[str]) -> None:
        """Serialise login attempts per throttle key until the transaction ends, so parallel guesses
        cannot all read a count below the limit. SQLite needs nothing: its write transactions
        (BEGIN IMMEDIATE) already run one at a time."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for key in sorted(keys):  # one order everywhere: no deadlock between two keys
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})

    def count_failures(self, key: str, since: datetime) -> int:
        return self.session.scalar(
            select(func.count()).select_from(LoginFailure)
            .where(LoginFailure.throttle_key == key, LoginFailure.at >= since)
        )

    def clear_failures(self, key: str) -> None:
        self.session.execute(delete(LoginFailure).where(LoginFailure.throttle_key == key))

    def prune_failures(self, before: datetime) -> None:
        self.session.execute(delete(LoginFailure).where(LoginFailure.at < before))


class MemberRepository:
    """Memberships and API keys of the principal's enterprise."""

    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    def members_statement(self):
        return (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.enterprise_id == self.principal.tenant(Action.READ))
        )

    def members_page(self, *, cursor: str | None, limit: int | None):
        return paginate(self.session, self.members_statement(), Membership.id, cursor=cursor, limit=limit,
                        tuples=True)

    def members(self) -> list[tuple[Membership, User]]:
        return list(self.session.execute(self.members_statement().order_by(User.username)).tuples())

    def member(self, membership_id: uuid.UUID, *, for_update: bool = False) -> tuple[Membership, User]:
        stmt = self.members_statement().where(Membership.id == membership_id)
        if for_update:
            stmt = stmt.with_for_update(of=Membership)
        row = self.session.execute(stmt).tuples().first()
        if row is None:
            raise NotFound("Member not found.")
        return row

    def admin_count(self) -> int:
        return self.session.scalar(
            select(func.count()).select_from(Membership).where(
                Membership.enterprise_id == self.principal.tenant(Action.READ), Membership.role == "admin"
            )
        )

    def api_keys_statement(self):
        return select(ApiKey).where(ApiKey.enterprise_id == self.principal.tenant(Action.READ))

    def api_keys_page(self, *, cursor: str | None, limit: int | None):
        return paginate(self.session, self.api_keys_statement(), ApiKey.id, cursor=cursor, limit=limit)

    def api_key(self, api_key_id: uuid.UUID) -> ApiKey:
        row = self.session.scalar(self.api_keys_statement().where(ApiKey.id == api_key_id))
        if row is None:
            raise NotFound("API key not found.")
        return row
