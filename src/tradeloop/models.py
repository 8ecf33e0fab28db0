"""Imports every module's models so ``Base.metadata`` is complete (Alembic, tests)."""

from tradeloop.audit import models as _audit  # noqa: F401
from tradeloop.catalog import models as _catalog  # noqa: F401
from tradeloop.customs import models as _customs  # noqa: F401
from tradeloop.enterprises import models as _enterprises  # noqa: F401
from tradeloop.finance import models as _finance  # noqa: F401
from tradeloop.finance import money_models as _money  # noqa: F401
from tradeloop.finance import payout_models as _payouts  # noqa: F401
from tradeloop.identity import models as _identity  # noqa: F401
from tradeloop.kit import idempotency_models as _idempotency  # noqa: F401
from tradeloop.kit import jobs as _jobs  # noqa: F401
from tradeloop.kit import numbering as _numbering  # noqa: F401
from tradeloop.kit.db import Base
from tradeloop.logistics import models as _logistics  # noqa: F401
from tradeloop.reference import models as _reference  # noqa: F401
from tradeloop.sales import models as _sales  # noqa: F401
from tradeloop.tax import claim_models as _claims  # noqa: F401
from tradeloop.tax import models as _tax  # noqa: F401
from tradeloop.warehouse import models as _warehouse  # noqa: F401
from tradeloop.warehouse import stock_models as _stock  # noqa: F401
from tradeloop.warehouse import webhook_models as _webhooks  # noqa: F401
from tradeloop.warehouse import wms_models as _wms  # noqa: F401

metadata = Base.metadata
