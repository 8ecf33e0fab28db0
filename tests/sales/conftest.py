"""Sales tests: an exporter with a small catalogue, and helpers to import the fixture files."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import make_enterprise
from tradeloop.catalog import service as catalog
from tradeloop.catalog.schemas import ProductCreate
from tradeloop.kit.tenancy import Principal, system_principal
from tradeloop.sales import service
from tradeloop.sales.models import SalesOrderLine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sales"
#: SKUs of the fixture files that are in the catalogue; MYSTERY-SKU-9 is not.
CATALOGUE = ("SILK-SCARF-01", "SILK-TIE-02", "SILK-PJ-03", "BAMBOO-BOARD-01", "BAMBOO-SPOON-02", "BAMBOO-BOWL-03",
             "BAMBOO-STRAW-04")


@dataclass
class Seller:
    enterprise: object
    principal: Principal
    products: dict


def add_products(db, principal, skus) -> dict:
    out = {}
    with db.transaction() as s:
        for sku in skus:
            product = catalog.create_product(s, principal=principal, data=ProductCreate(
                sku=sku, name_zh=f"商品{sku}", declared_name="围巾", hs_code="6214100090", customs_unit="011"))
            out[sku] = product.id
    return out


def make_seller(db, name="苏州丝绸") -> Seller:
    with db.transaction() as s:
        ent = make_enterprise(s, name=name)
    principal = replace(system_principal(), enterprise_id=ent.id)
    return Seller(ent, principal, add_products(db, principal, CATALOGUE))


@pytest.fixture
def seller(db) -> Seller:
    return make_seller(db)


def do_import(db, seller: Seller, name: str | Path, channel: str, **kw) -> service.ImportResult:
    path = name if isinstance(name, Path) else FIXTURES / name
    with db.transaction() as s:
        return service.import_orders(s, principal=seller.principal, path=path, channel=channel, **kw)


def stored(db, seller: Seller) -> dict[tuple[str, str], SalesOrderLine]:
    """(external order id, line id) -> line, read back through the ORM."""
    with db.transaction(write=False) as s:
        rows = s.scalars(select(SalesOrderLine).where(SalesOrderLine.enterprise_id == seller.enterprise.id))
        return {(r.external_order_id, r.line_id): r for r in rows}
