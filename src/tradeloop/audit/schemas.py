from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor_type: str
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    before: dict | None
    after: dict | None
    request_id: str | None
