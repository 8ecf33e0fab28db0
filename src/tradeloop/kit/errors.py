"""Domain errors and their RFC 9457 ``application/problem+json`` rendering.

Services raise these; the API turns them into problem documents and the pages into form messages.
Field errors carry a message in Chinese and in English so both the API and the pages can show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


@dataclass
class FieldError:
    field: str
    message_en: str
    message_zh: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message_en, "message_zh": self.message_zh}


class DomainError(Exception):
    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str = "", *, errors: list[FieldError] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra


class ValidationFailed(DomainError):
    status = 422
    type_slug = "validation"
    title = "Validation failed"


def from_pydantic(exc) -> ValidationFailed:
    """A pydantic ValidationError (a form value of the wrong type) as field errors."""
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "body"
        kind = err.get("type", "")
        if kind == "enum":
            errors.append(FieldError(field, "choose one of the options", "请从选项中选择"))
        elif kind == "missing":
            errors.append(FieldError(field, "is required", "为必填项"))
        else:
            errors.append(FieldError(field, err.get("msg", "invalid"), f"字段无效：{err.get('msg', '')}"))
    return ValidationFailed("The input has invalid fields.", errors=errors)


class NotFound(DomainError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class Conflict(DomainError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class TooManyRequests(DomainError):
    status = 429
    type_slug = "too-many-requests"
    title = "Too many requests"


@dataclass
class Problem:
    status: int
    title: str
    detail: str = ""
    type_slug: str = "about:blank"
    errors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self, request: Request, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {
            # A URN: a stable problem identifier that names no web site this project does not run.
            "type": f"urn:tradeloop:problem:{self.type_slug}"
            if self.type_slug != "about:blank"
            else "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
            "instance": request.url.path,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return Problem(
            exc.status, exc.title, exc.detail, exc.type_slug, [e.as_dict() for e in exc.errors], exc.extra
        ).response(request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            message = err.get("msg", "invalid")
            errors.append({"field": _loc_to_field(err.get("loc", ())), "message": message,
                           "message_zh": f"字段无效：{message}"})
        return Problem(422, "Validation failed", "The request has invalid fields.", "validation",
                       errors).response(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if exc.status_code in (301, 302, 303, 307, 308) and headers:
            from starlette.responses import Response

            return Response(status_code=exc.status_code, headers=headers)
        title = {404: "Not found", 405: "Method not allowed", 401: "Authentication required",
                 403: "Forbidden"}.get(exc.status_code, "Error")
        return Problem(exc.status_code, title, str(exc.detail or title)).response(request, headers)
