"""Imports every module's models so ``Base.metadata`` is complete (Alembic, tests)."""

from tradeloop.audit import models as _audit  # noqa: F401
from tradeloop.catalog import models as _catalog  # noqa: F401
from tradeloop.customs import models as _customs  # noqa: F401
from tradeloop.enterprises import models as _enterprises  # noqa: F401
from tradeloop.identity import models as _identity  # noqa: F401
from tradeloop.kit import idempotency_models as _idempotency  # noqa: F401
from tradeloop.kit.db import Base
from tradeloop.reference import models as _reference  # noqa: F401
from tradeloop.warehouse import models as _warehouse  # noqa: F401

metadata = Base.metadata
