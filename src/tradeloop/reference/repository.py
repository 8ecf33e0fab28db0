"""Reads of the reference code tables (not tenant data: every user may read them)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradeloop.catalog.models import HsCode
from tradeloop.kit.sql import contains_any
from tradeloop.reference.models import (
    Country,
    Currency,
    CustomsOffice,
    ReferenceDataset,
    TransportMode,
    Unit,
    UnLocode,
)

DATASET_MODELS = {
    "countries": Country,
    "currencies": Currency,
    "units": Unit,
    "transport_modes": TransportMode,
    "customs_offices": CustomsOffice,
    "unlocodes": UnLocode,
    # Shipped by the catalog module (catalog/data), loaded by the same mechanism.
    "hs_codes": HsCode,
}


class ReferenceRepository:
    def __init__(self, session: Session):
        self.session = session

    def country_by_alpha2(self, alpha2: str) -> Country | None:
        return self.session.scalars(select(Country).where(Country.iso_alpha2 == alpha2.upper()).limit(1)).first()

    def unit_exists(self, code: str) -> bool:
        return self.session.get(Unit, code) is not None

    def customs_country(self, code: str) -> Country | None:
        return self.session.get(Country, code)

    def customs_code_of_alpha2(self, alpha2: str) -> str | None:
        return self.session.scalar(select(Country.customs_code).where(Country.iso_alpha2 == alpha2.upper())
                                   .order_by(Country.customs_code).limit(1))

    def minor_units(self, iso: str) -> int | None:
        """ISO 4217 decimal places of a currency (current code rows first)."""
        return self.session.scalar(select(Currency.minor_units).where(
            Currency.iso_4217 == iso, Currency.minor_units.is_not(None)).order_by(Currency.status).limit(1))

    def customs_currency_of_iso(self, iso: str) -> str | None:
        return self.session.scalar(select(Currency.customs_code).where(Currency.iso_4217 == iso.upper())
                                   .order_by(Currency.status, Currency.customs_code).limit(1))

    def transport_mode_exists(self, code: str) -> bool:
        return self.session.get(TransportMode, code) is not None

    def unlocode(self, code: str) -> UnLocode | None:
        return self.session.get(UnLocode, code.upper())

    def customs_office(self, code: str) -> CustomsOffice | None:
        return self.session.get(CustomsOffice, code)

    def rows(self, dataset: str, *, q: str | None = None):
        model = DATASET_MODELS[dataset]
        stmt = select(model)
        if q:
            stmt = stmt.where(contains_any([c for c in model.__table__.columns if c.type.python_type is str], q))
        pk = list(model.__table__.primary_key.columns)[0]
        return list(self.session.scalars(stmt.order_by(pk)))

    def countries_with_iso(self) -> list[Country]:
        return list(self.session.scalars(
            select(Country).where(Country.iso_alpha2.is_not(None)).order_by(Country.iso_alpha2)))

    def datasets(self) -> list[ReferenceDataset]:
        return list(self.session.scalars(select(ReferenceDataset).order_by(ReferenceDataset.name)))

    def dataset(self, name: str) -> ReferenceDataset | None:
        return self.session.get(ReferenceDataset, name)

    def count(self, dataset: str) -> int:
        return self.session.scalar(select(func.count()).select_from(DATASET_MODELS[dataset]))

    # Loading replaces a whole table in the loader's transaction.
    def replace(self, dataset: str, rows: list[dict]) -> None:
        model = DATASET_MODELS[dataset]
        self.session.execute(model.__table__.delete())
        if rows:
            self.session.execute(model.__table__.insert(), rows)

    def set_dataset(self, *, name: str, version: str, sha256: str, rows: int) -> None:
        row = self.session.get(ReferenceDataset, name) or ReferenceDataset(name=name)
        row.version, row.sha256, row.rows = version, sha256, rows
        from tradeloop.kit.models import utcnow

        row.loaded_at = utcnow()
        self.session.add(row)
