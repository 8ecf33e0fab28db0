"""The application factory: every module's API and pages routers, static files, error handling."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware

from tradeloop import __version__
from tradeloop.config import Settings, load_settings
from tradeloop.kit.db import Database
from tradeloop.kit.errors import install_problem_handlers
from tradeloop.kit.files import FileStore
from tradeloop.kit.idempotency import IdempotencyMiddleware
from tradeloop.kit.templating import make_templates
from tradeloop.kit.web import LoginRequired, RequestContextMiddleware, login_redirect
from tradeloop.migrate import assert_migrated

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, database: Database | None = None,
               check_migrations: bool = True) -> FastAPI:
    settings = settings or load_settings()
    db = database or Database.from_url(settings.resolved_database_url)
    if check_migrations:
        assert_migrated(db.engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        workers = [w for w in (_exchange_worker(settings, db), _webhook_worker(settings, db)) if w is not None]
        yield
        for worker in workers:
            worker.stop()
        if database is None:
            db.dispose()

    app = FastAPI(
        title="tradeloop",
        version=__version__,
        summary="跨境电商海外仓综合服务平台 — one access point for customs, logistics, overseas warehouses, "
        "money and tax of cross-border e-commerce exports",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.files = FileStore(settings.files_dir)
    app.state.templates = make_templates()

    install_problem_handlers(app)

    from tradeloop.kit.errors import DomainError, Problem

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError):
        """Problem JSON for the API; a page for a browser on a page URL."""
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return Problem(exc.status, exc.title, exc.detail, exc.type_slug, [e.as_dict() for e in exc.errors],
                           exc.extra).response(request)
        from tradeloop.kit.i18n import gettext as _
        from tradeloop.kit.i18n import locale_var
        from tradeloop.kit.templating import render

        titles = {403: _("Not allowed"), 404: _("Not found"), 401: _("Please log in")}
        zh = exc.extra.get("message_zh")
        message = zh if locale_var.get() != "en" and zh else exc.detail
        return render(request, "error.html", {"title": titles.get(exc.status, _("Error")), "message": message},
                      status_code=exc.status)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired):
        return RedirectResponse(login_redirect(exc.next_url), status_code=303)

    # Outermost last: request context, then the signed session cookie, then idempotency (needs both).
    app.add_middleware(IdempotencyMiddleware, prefix=API_PREFIX + "/")
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key,
        session_cookie="tradeloop_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(RequestContextMiddleware, settings=settings)

    @app.get("/healthz", tags=["health"])
    def healthz():
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means not healthy
            return JSONResponse({"status": "unavailable", "detail": str(exc)[:200]}, status_code=503)
        return {"status": "ok", "version": __version__, "database": db.engine.dialect.name}

    from tradeloop.audit import api as audit_api
    from tradeloop.audit import pages as audit_pages
    from tradeloop.catalog import api as catalog_api
    from tradeloop.catalog import pages as catalog_pages
    from tradeloop.customs import api as customs_api
    from tradeloop.customs import pages as customs_pages
    from tradeloop.enterprises import api as enterprises_api
    from tradeloop.enterprises import pages as enterprises_pages
    from tradeloop.finance import api as finance_api
    from tradeloop.finance import match_api, payout_api, receivables_api, statement_api
    from tradeloop.identity import api as identity_api
    from tradeloop.identity import pages as identity_pages
    from tradeloop.insights import api as insights_api
    from tradeloop.insights import pages as insights_pages
    from tradeloop.logistics import api as logistics_api
    from tradeloop.logistics import pages as logistics_pages
    from tradeloop.loop import api as loop_api
    from tradeloop.loop import pages as loop_pages
    from tradeloop.reference import api as reference_api
    from tradeloop.reference import pages as reference_pages
    from tradeloop.sales import api as sales_api
    from tradeloop.sales import pages as sales_pages
    from tradeloop.shell import pages as shell_pages
    from tradeloop.tax import api as tax_api
    from tradeloop.tax import claim_api
    from tradeloop.warehouse import api as warehouse_api
    from tradeloop.warehouse import pages as warehouse_pages
    from tradeloop.warehouse import stock_api, stock_pages, wms_api

    for module in (identity_api, enterprises_api, catalog_api, customs_api, logistics_api, warehouse_api, stock_api,
                   wms_api, sales_api, loop_api, finance_api, match_api, payout_api, statement_api, receivables_api,
                   tax_api, claim_api, audit_api, reference_api, insights_api):
        app.include_router(module.router, prefix=API_PREFIX)
    from tradeloop.finance import pages as finance_pages
    from tradeloop.finance import profile_pages, receivables_pages
    from tradeloop.tax import claim_pages
    from tradeloop.tax import pages as tax_pages

    for module in (shell_pages, identity_pages, enterprises_pages, catalog_pages, customs_pages, logistics_pages,
                   warehouse_pages, stock_pages, sales_pages, loop_pages, finance_pages, profile_pages,
                   receivables_pages, tax_pages, claim_pages, audit_pages, reference_pages, insights_pages):
        app.include_router(module.router, include_in_schema=False)

    static_dir = resources.files("tradeloop") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    return app


def _exchange_worker(settings: Settings, db: Database):
    """The customs exchange round (outbox → [simulator] → inbox) in the background, when configured."""
    if settings.exchange_interval_seconds <= 0:
        return None
    from tradeloop.customs.gateway import ExchangeFolders, ExchangeWorker
    from tradeloop.customs.simulator import CustomsSimulator

    folders = ExchangeFolders.from_settings(settings).ensure()
    simulator = CustomsSimulator(folders) if settings.customs_simulator else None
    worker = ExchangeWorker(db, folders, interval=settings.exchange_interval_seconds, simulator=simulator)
    worker.start()
    return worker


def _webhook_worker(settings: Settings, db: Database):
    """Webhook deliveries sent in the background, when configured."""
    if settings.webhook_dispatch_seconds <= 0:
        return None
    from tradeloop.warehouse.webhooks import DispatchWorker

    worker = DispatchWorker(db, server_secret_key=settings.resolved_secret_key,
                            interval=settings.webhook_dispatch_seconds)
    worker.start()
    return worker
