"""Small helpers for thin API endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Limit = Annotated[int | None, Query(ge=1, le=500, description="page size (default 50)")]


def read_upload(request, file) -> bytes:
    """An uploaded file's bytes, refused (422, field ``file``) beyond the configured upload limit; reads at
    most one byte more than the limit."""
    from tradeloop.kit.errors import FieldError, ValidationFailed

    limit = request.app.state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed("The file is too large.", errors=[
            FieldError("file", "is larger than the upload limit", "文件超过上传大小上限")])
    return data
