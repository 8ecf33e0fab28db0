"""Reference code tables, shipped as versioned data files (``reference/data``) and loaded by command."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.models import created_column


class Country(Base):
    __tablename__ = "ref_countries"

    customs_code: Mapped[str] = mapped_column(String(3), primary_key=True)
    iso_alpha2: Mapped[str | None] = mapped_column(String(2), index=True)
    iso_alpha3: Mapped[str | None] = mapped_column(String(3))
    iso_numeric: Mapped[str | None] = mapped_column(String(3))
    customs_alpha3_2018: Mapped[str | None] = mapped_column(String(3))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))


class Currency(Base):
    __tablename__ = "ref_currencies"

    customs_code: Mapped[str] = mapped_column(String(3), primary_key=True)
    iso_4217: Mapped[str | None] = mapped_column(String(3), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    minor_units: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40))


class Unit(Base):
    __tablename__ = "ref_units"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))


class TransportMode(Base):
    __tablename__ = "ref_transport_modes"

    code: Mapped[str] = mapped_column(String(1), primary_key=True)
    #: Empty for the legacy code A, which only the older lists name (legacy_name_zh 全部运输).
    name_zh: Mapped[str | None] = mapped_column(String(50))
    name_en: Mapped[str | None] = mapped_column(String(100))
    legacy_name_zh: Mapped[str | None] = mapped_column(String(50))


class CustomsOffice(Base):
    __tablename__ = "ref_customs_offices"

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(50))
    partial: Mapped[bool] = mapped_column(Boolean, default=True)


class UnLocode(Base):
    __tablename__ = "ref_unlocodes"

    unlocode: Mapped[str] = mapped_column(String(5), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(100))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    function: Mapped[str | None] = mapped_column(String(10))
    coordinates: Mapped[str | None] = mapped_column(String(20))
    iata: Mapped[str | None] = mapped_column(String(3))


class ReferenceDataset(Base):
    """Which version of each dataset is loaded, from which file (by SHA-256), and when."""

    __tablename__ = "ref_datasets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = created_column()
