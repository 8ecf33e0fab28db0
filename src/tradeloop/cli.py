"""Command line: ``tradeloop serve | db upgrade | enterprise … | user create | apikey create | reference load
| demo``. Every command takes ``--data-dir``; ``TRADELOOP_DATABASE_URL`` overrides the SQLite file there."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from tradeloop.config import Settings, load_settings
from tradeloop.customs.cli import customs_app
from tradeloop.finance.cli import rates_app
from tradeloop.finance.payout_cli import settlement_command
from tradeloop.finance.statement_cli import statement_command
from tradeloop.sales.cli import fulfil_command, import_app
from tradeloop.tax.cli import invoices_command, tax_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="tradeloop — 跨境电商海外仓综合服务平台")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
enterprise_app = typer.Typer(no_args_is_help=True, help="Enterprises (tenants), for platform admins.")
user_app = typer.Typer(no_args_is_help=True, help="Users.")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys of an enterprise.")
reference_app = typer.Typer(no_args_is_help=True, help="Reference code tables.")
app.add_typer(db_app, name="db")
app.add_typer(enterprise_app, name="enterprise")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(reference_app, name="reference")
app.add_typer(customs_app, name="customs")
app.add_typer(import_app, name="import")
app.command("fulfil")(fulfil_command)
import_app.command("invoices")(invoices_command)
import_app.command("settlement")(settlement_command)
import_app.command("statement")(statement_command)
app.add_typer(tax_app, name="tax")
app.add_typer(rates_app, name="rates")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: per-user data dir)")]


def _settings(data_dir: Path | None) -> Settings:
    return load_settings(data_dir)


def _database(settings: Settings):
    from tradeloop.kit.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database.from_url(settings.resolved_database_url)


def _fail(message: str, code: int = 1):
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(settings: Settings, fn):
    """Run ``fn(session, principal)`` in one write transaction as the system principal."""
    from tradeloop.kit.errors import DomainError
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.migrate import NotMigrated, assert_migrated

    db = _database(settings)
    try:
        assert_migrated(db.engine)
        with db.transaction() as session:
            return fn(session, system_principal(label="cli"))
    except NotMigrated as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"Cannot reach the database {_redacted(settings)}: {exc.orig}")
    except DomainError as exc:
        lines = [exc.detail] + [f"  {e.field}: {e.message_en} / {e.message_zh}" for e in exc.errors]
        _fail("\n".join(lines))
    finally:
        db.dispose()


def upgrade_database(settings: Settings, *, echo=print) -> None:
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.migrate import upgrade
    from tradeloop.reference.service import load_reference_data

    db = _database(settings)
    try:
        upgrade(settings.resolved_database_url)
        with db.transaction() as session:
            results = load_reference_data(session, principal=system_principal(label="db upgrade"))
        for r in results:
            if r.changed:
                echo(f"reference {r.name}: loaded {r.rows} rows (version {r.version})")
    finally:
        db.dispose()


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None):
    """Apply migrations (and load the packaged reference data when it changed)."""
    settings = _settings(data_dir)
    upgrade_database(settings, echo=typer.echo)
    typer.echo(f"database at head: {_redacted(settings)}")


def _redacted(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


@app.command()
def serve(data_dir: DataDir = None, host: Annotated[str, typer.Option()] = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 8000):
    """Serve the web UI and the API."""
    _serve(_settings(data_dir), host, port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from tradeloop.app import create_app
    from tradeloop.migrate import NotMigrated

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        application = create_app(settings)
    except NotMigrated as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"Cannot reach the database {_redacted(settings)}: {exc.orig}")
    typer.echo(f"tradeloop serving on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    uvicorn.run(application, host=host, port=port, log_level="info")


@enterprise_app.command("create")
def enterprise_create(
    uscc: Annotated[str, typer.Option(help="统一社会信用代码")],
    name: Annotated[str, typer.Option(help="Legal name in Chinese")],
    kind: Annotated[str, typer.Option(help="manufacturer|trader|warehouse|logistics|platform")],
    name_en: Annotated[str | None, typer.Option()] = None,
    customs_code: Annotated[str | None, typer.Option()] = None,
    province: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    district: Annotated[str | None, typer.Option()] = None,
    pilot_zone: Annotated[str | None, typer.Option()] = None,
    industry_belt: Annotated[list[str] | None, typer.Option()] = None,
    data_dir: DataDir = None,
):
    """Register an enterprise (tenant)."""
    from tradeloop.enterprises import service
    from tradeloop.enterprises.models import EnterpriseKind
    from tradeloop.enterprises.schemas import EnterpriseCreate

    if kind not in [k.value for k in EnterpriseKind]:
        _fail(f"--kind must be one of {', '.join(k.value for k in EnterpriseKind)}")
    data = EnterpriseCreate(uscc=uscc, name_zh=name, kind=kind, name_en=name_en, customs_code=customs_code,
                            province=province, city=city, district=district, pilot_zone=pilot_zone,
                            industry_belts=industry_belt or [])
    ent = _run(_settings(data_dir), lambda s, p: service.create_enterprise(s, principal=p, data=data))
    typer.echo(f"created enterprise {ent.id} {ent.uscc} {ent.name_zh} ({ent.kind})")


@enterprise_app.command("list")
def enterprise_list(as_json: Annotated[bool, typer.Option("--json")] = False, data_dir: DataDir = None):
    """List enterprises: id, USCC, name, kind."""
    from tradeloop.enterprises.repository import EnterpriseRepository

    def fetch(session, principal):
        rows = []
        cursor = None
        while True:
            page, cursor = EnterpriseRepository(session, principal).page(cursor=cursor, limit=500)
            rows += page
            if not cursor:
                return rows

    rows = _run(_settings(data_dir), fetch)
    if as_json:
        typer.echo(json.dumps([{"id": str(e.id), "uscc": e.uscc, "name": e.name_zh, "kind": e.kind} for e in rows],
                              ensure_ascii=False, indent=2))
        return
    for e in rows:
        typer.echo(f"{e.id}\t{e.uscc}\t{e.name_zh}\t{e.kind}")


def _enterprise_by_uscc(session, principal, uscc: str):
    from tradeloop.enterprises.repository import EnterpriseRepository
    from tradeloop.kit.errors import NotFound

    ent = EnterpriseRepository(session, principal).by_uscc(uscc.strip().upper())
    if ent is None:
        raise NotFound(f"No enterprise with USCC {uscc}.")
    return ent


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: Annotated[str | None, typer.Option()] = None,
    enterprise: Annotated[str | None, typer.Option(help="USCC of the enterprise to join")] = None,
    role: Annotated[str, typer.Option(help="admin|operator|viewer|warehouse_operator")] = "admin",
    platform_admin: Annotated[bool, typer.Option("--platform-admin")] = False,
    regulator_authority: Annotated[
        str | None, typer.Option(help="Makes the user a regulator, e.g. 苏州市商务局")] = None,
    province: Annotated[str | None, typer.Option()] = None,
    city: Annotated[str | None, typer.Option()] = None,
    district: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
):
    """Create a user: a platform admin, a member of an enterprise, or a regulator of a region."""
    from tradeloop.identity import service
    from tradeloop.identity.models import Role

    if role not in [r.value for r in Role]:
        _fail(f"--role must be one of {', '.join(r.value for r in Role)}")

    def go(session, principal):
        user = service.create_user(session, principal=principal, username=username,
                                   display_name=display_name or username, password=password,
                                   is_platform_admin=platform_admin)
        if enterprise:
            ent = _enterprise_by_uscc(session, principal, enterprise)
            service.grant_membership(session, principal=principal, user=user, enterprise_id=ent.id, role=Role(role))
        if regulator_authority:
            service.set_regulator_scope(session, principal=principal, user=user, authority=regulator_authority,
                                        province=province or "", city=city, district=district)
        return user

    user = _run(_settings(data_dir), go)
    typer.echo(f"created user {user.username} ({user.id})")


@apikey_app.command("create")
def apikey_create(
    enterprise: Annotated[str, typer.Option(help="USCC of the enterprise")],
    scope: Annotated[str, typer.Option(help="read|write")],
    name: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
):
    """Create an API key; the key is printed alone on the last line (store it: it is not kept)."""
    from dataclasses import replace

    from tradeloop.identity import service
    from tradeloop.identity.models import ApiScope

    if scope not in [s.value for s in ApiScope]:
        _fail("--scope must be read or write")

    def go(session, principal):
        ent = _enterprise_by_uscc(session, principal, enterprise)
        return service.create_api_key(session, principal=replace(principal, enterprise_id=ent.id),
                                      name=name or f"cli-{scope}", scope=ApiScope(scope))

    row, key = _run(_settings(data_dir), go)
    typer.echo(f"created API key {row.prefix}… ({row.scope}) for enterprise {enterprise}")
    typer.echo(key)


@reference_app.command("load")
def reference_load(
    directory: Annotated[Path | None, typer.Option("--dir", help="Directory with manifest.json and CSV files")] = None,
    force: Annotated[bool, typer.Option(help="Reload even when the file hashes match")] = False,
    data_dir: DataDir = None,
):
    """Load reference datasets (countries, currencies, units, transport modes, customs offices, UN/LOCODEs,
    and the HS codes with VAT and export-rebate rates of the catalog)."""
    from tradeloop.reference.service import load_reference_data

    results = _run(_settings(data_dir),
                   lambda s, p: load_reference_data(s, principal=p, data_dir=directory, force=force))
    for r in results:
        typer.echo(f"{r.name}\t{r.version}\t{r.rows} rows\t{'loaded' if r.changed else 'unchanged'}")


@app.command("check")
def check(data_dir: DataDir = None):
    """Verify quantity conservation for every exported declaration line of every enterprise:
    exported = in transit + on hand + sold + disposed + returned to China + recorded losses.
    Exit 0 when all balance; exit 1 printing each violation with its declaration and line."""
    from dataclasses import replace

    from tradeloop.enterprises.repository import EnterpriseRepository
    from tradeloop.loop import service as loop

    def run(session, principal):
        lines, violations = 0, []
        for ent in EnterpriseRepository(session, principal).all():
            tenant = replace(principal, enterprise_id=ent.id)
            found = loop.declaration_loop(session, principal=tenant, values=False)
            lines += len(found)
            violations += [f"{ent.name_zh} ({ent.uscc}): {v}" for v in (x.violation() for x in found) if v]
        return lines, violations

    lines, violations = _run(_settings(data_dir), run)
    for v in violations:
        typer.echo(v)
    if violations:
        typer.secho(f"{len(violations)} of {lines} exported declaration lines do not conserve quantity", err=True,
                    fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"quantity conserved on all {lines} exported declaration lines")


@customs_app.command("exchange")
def customs_exchange(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit")] = False,
    simulate: Annotated[bool, typer.Option("--simulate", help="Let the customs simulator answer (tests, demos)")]
    = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds")] = 5.0,
    data_dir: DataDir = None,
):
    """The exchange with customs' data-exchange client: queued messages to the outbox, inbox files read.

    Folders: DATA_DIR/exchange/{outbox,inbox,processed,failed} (or TRADELOOP_EXCHANGE_DIR)."""
    import time

    from tradeloop.customs.gateway import ExchangeFolders, dispatch, poll
    from tradeloop.customs.simulator import CustomsSimulator
    from tradeloop.migrate import NotMigrated, assert_migrated

    settings = _settings(data_dir)
    db = _database(settings)
    try:
        assert_migrated(db.engine)
    except NotMigrated as exc:
        _fail(str(exc))
    folders = ExchangeFolders.from_settings(settings).ensure()
    simulator = CustomsSimulator(folders) if simulate else None
    try:
        while True:
            written = dispatch(db, folders)
            answered = simulator.run_once() if simulator else 0
            results = poll(db, folders)
            outcomes = {k: sum(1 for r in results if r.result.outcome == k)
                        for k in ("applied", "duplicate", "quarantined")}
            typer.echo(f"exchange: {written} to outbox, {answered} simulated receipts, {len(results)} inbox files "
                       f"({outcomes['applied']} applied, {outcomes['duplicate']} duplicate, "
                       f"{outcomes['quarantined']} quarantined)")
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:  # pragma: no cover
        return
    finally:
        db.dispose()


@customs_app.command("summarize")
def customs_summarize(
    enterprise: Annotated[str, typer.Option(help="USCC of the consignor enterprise")],
    month: Annotated[str, typer.Option(help="YYYY-MM: the month the lists closed in (Beijing time)")],
    data_dir: DataDir = None,
):
    """Queue the month's summary applications (CEB701), one per merge group; due by the 15th of the next month."""
    from dataclasses import replace

    from tradeloop.customs import service
    from tradeloop.customs.gateway import exchange_config

    settings = _settings(data_dir)

    def make(session, principal):
        ent = _enterprise_by_uscc(session, principal, enterprise)
        return service.create_summaries(session, principal=replace(principal, enterprise_id=ent.id), month=month,
                                        config=exchange_config(settings))

    for summary in _run(settings, make):
        typer.echo(f"summary {summary.cop_no}\tdue {summary.due_date.isoformat()}\tcustoms {summary.customs_code}"
                   f"\tcountry {summary.country}")


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build the demo database and exit")] = False,
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
):
    """Build a fresh demo database (SQLite) through the real services, then serve it."""
    from tradeloop.demo import DemoError, build_demo

    settings = _settings(data_dir or load_settings().data_dir / "demo")
    settings.database_url = None  # the demo always runs on the embedded SQLite file of its data dir
    # Customs answers through the simulator (never real customs), messages signed with a throw-away key.
    settings.customs_simulator, settings.customs_signer = True, "test"
    settings.exchange_interval_seconds = settings.exchange_interval_seconds or 2
    settings.webhook_dispatch_seconds = settings.webhook_dispatch_seconds or 10
    try:
        logins = build_demo(settings, echo=typer.echo)
    except DemoError as exc:
        _fail(str(exc))
    typer.echo(f"demo database: {settings.resolved_database_url}")
    typer.echo("demo logins (user / password / what they see):")
    for login in logins:
        typer.echo(f"  {login.username:<16} {login.password:<18} {login.description}")
    if no_serve:
        return
    _serve(settings, host, port)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
