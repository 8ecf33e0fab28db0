"""Look-ups of reference rows, cached for the length of one action (an import or a declaration checks
many rows against the same few codes)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from tradeloop.catalog.repository import HsRepository
from tradeloop.reference.repository import ReferenceRepository


class ReferenceLookup:
    def __init__(self, session: Session):
        self.session = session
        self.refs = ReferenceRepository(session)
        self._cache: dict[tuple, object] = {}

    def _get(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def unit(self, code: str) -> bool:
        return self._get(("unit", code), lambda: self.refs.unit_exists(code))

    def country(self, code: str) -> str | None:
        """A 3-digit customs code, or an ISO alpha-2 code converted to it; None when unknown."""
        def find():
            if re.fullmatch(r"\d{3}", code):
                return code if self.refs.customs_country(code) is not None else None
            if re.fullmatch(r"[A-Z]{2}", code):
                return self.refs.customs_code_of_alpha2(code)
            return None
        return self._get(("country", code), find)

    def minor_units(self, iso: str) -> int | None:
        return self._get(("currency", iso), lambda: self.refs.minor_units(iso))

    def customs_currency(self, iso: str) -> str | None:
        """The 3-digit customs currency code (CEB ``currency``) of an ISO 4217 code, or None."""
        return self._get(("customs_currency", iso), lambda: self.refs.customs_currency_of_iso(iso))

    def transport_mode(self, code: str) -> bool:
        return self._get(("traf", code), lambda: self.refs.transport_mode_exists(code))

    def hs(self, code: str) -> bool:
        return self._get(("hs", code), lambda: HsRepository(self.session).exists(code))
