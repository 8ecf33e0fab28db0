"""The common part of the domain modules' repositories: the session, the principal whose tenant every query
is scoped to, and the writes every repository needs the same way.

A repository subclasses ``TenantRepository`` and adds its own queries; ``me`` is the tenant the principal may
read (``Action.READ``), ``writer`` the one it may change (``Action.WRITE``, refused for read-only roles).
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.kit.tenancy import Action, Principal


class TenantRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    @property
    def writer(self) -> uuid.UUID:
        return self.principal.tenant(Action.WRITE)

    def add(self, row) -> bool:
        """Insert ``row`` inside a savepoint; False, and nothing written, when a unique key already holds it
        (a concurrent twin: another request inserted the same row first). The caller decides what that means."""
        self.session.add(row)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError:
            return False
        return True

    def add_all(self, rows) -> None:
        self.session.add_all(rows)
        self.session.flush()

    def delete(self, row) -> None:
        self.session.delete(row)
        self.session.flush()
