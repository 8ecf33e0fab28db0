"""What an overseas warehouse needs of an SKU beyond the catalogue: the declared value for import at the
destination and the carton-free unit dimensions.

The catalogue (``catalog.models.Product``) holds the export-side customs fields (申报品名, HS code, units,
weights). Providers' SKU registration also asks for a declared value with its currency (出口易
``DeclareValue``, 谷仓/万邑通 declared value) and length/width/height in cm; these are not the purchase cost
the catalogue keeps (``cost_minor`` feeds valuation and the rebate), so they live here, one row per product.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKeyConstraint, Numeric, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.models import created_column, updated_column


class WmsSkuProfile(Base):
    __tablename__ = "wms_sku_profiles"
    __table_args__ = (
        ForeignKeyConstraint(["enterprise_id", "product_id"], ["products.enterprise_id", "products.id"],
                             ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    #: Integer minor units of ``declared_currency`` (ISO 4217), per unit of the SKU.
    declared_value_minor: Mapped[int | None] = mapped_column(BigInteger)
    declared_currency: Mapped[str | None] = mapped_column(String(3))
    length_cm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2, asdecimal=True))
    width_cm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2, asdecimal=True))
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2, asdecimal=True))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
