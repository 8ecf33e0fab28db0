"""Sales: importing order files (streamed, in batches, one transaction per file), the import job behind the
upload page and API, column profiles of the generic importer, and linking lines to the catalogue.

``import_orders`` reads the file once, record by record; every ``batch_size`` lines it looks up the batch's
SKUs in the catalogue (one query) and writes the batch (``bulk.py``: COPY + one merge on PostgreSQL, one
``executemany`` on SQLite). Rows with errors are reported (row, column, value, reason) and left out; the
rest is applied. A fatal problem — the file cannot be decoded, a required column is missing, it is another
channel's layout, or (when asked) too large a share of its rows is bad — raises :class:`ImportFatal`, and the
caller's transaction rolls back: nothing is applied. The service never commits: the CLI command or the job
does, once, at the end of the file, so an import killed midway leaves nothing behind, and running it again
leaves exactly one copy of each line.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.kit import jobs, profiles
from tradeloop.kit.context import request_id_var
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.money import from_minor
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.sales.bulk import Writer, writer_for
from tradeloop.sales.importers import (
    DEFAULT_TIMEZONES,
    FIELDS,
    IMPORTERS,
    Codes,
    Context,
    FatalFile,
    GenericImporter,
    Issue,
    ProfileSpec,
    open_source,
)
from tradeloop.sales.importers.base import hashed_rows
from tradeloop.sales.importers.generic import FIELD_KEYS
from tradeloop.sales.importers.values import LINE_FIELDS, Row, load_currencies, valid_zone, zone
from tradeloop.sales.models import Channel, ImportProfile, SalesOrderLine
from tradeloop.sales.repository import ProfileRepository, SalesRepository

log = logging.getLogger(__name__)

#: Lines per batch: one catalogue look-up and one bulk write each; bounds the memory of an import.
BATCH_SIZE = 5000
#: Row issues (and unknown-SKU warnings) kept in a result; the counts go on beyond.
MAX_REPORTED = 10_000
#: Largest order file accepted by the upload (order reports of a big seller run to hundreds of MB).
MAX_IMPORT_BYTES = 1 << 30
JOB_KIND = "sales.import"
#: ``--channel`` values: the three marketplace layouts and the generic importer (with a profile).
IMPORT_CHANNELS = ("amazon", "shopify", "ebay", "generic")
_SKU_CACHE_LIMIT = 100_000


@dataclass
class ImportProgress:
    done: int
    total: int
    unit: str
    read: int


@dataclass
class ImportResult:
    import_id: uuid.UUID
    channel: str
    filename: str
    encoding: str | None = None
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[Issue] = field(default_factory=list)
    errors_total: int = 0
    #: One warning per SKU not in the catalogue (its first row); those lines are imported and flagged.
    warnings: list[Issue] = field(default_factory=list)
    unknown_sku_lines: int = 0
    #: Lines of earlier imports linked to the catalogue because their SKU is there now.
    linked: int = 0
    fatal: bool = False

    def add_errors(self, issues: list[Issue]) -> None:
        self.errors_total += len(issues)
        room = MAX_REPORTED - len(self.errors)
        if room > 0:
            self.errors.extend(issues[:room])

    @property
    def message(self) -> str:
        if self.fatal:
            first = self.errors[0].reason if self.errors else "the file cannot be imported"
            return f"Nothing was imported: {first}."
        return (f"{self.read} lines read: {self.inserted} inserted, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.rejected} rejected.")

    def as_cli(self) -> dict:
        """The ``tradeloop import orders --json`` document (exactly these keys)."""
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": self.rejected, "errors": [e.as_cli() for e in self.errors]}

    def as_dict(self) -> dict:
        return {**self.as_cli(), "errors": [e.as_dict() for e in self.errors], "import_id": str(self.import_id),
                "channel": self.channel, "filename": self.filename, "encoding": self.encoding,
                "errors_total": self.errors_total, "warnings": [w.as_dict() for w in self.warnings],
                "unknown_sku_lines": self.unknown_sku_lines, "linked": self.linked, "fatal": self.fatal,
                "message": self.message}


class ImportFatal(ValidationFailed):
    """Nothing was imported; ``result`` holds the reasons (lines read and rejected; nothing inserted)."""

    def __init__(self, result: ImportResult):
        result.fatal = True
        # Batches written before the failure are rolled back with the transaction: nothing was applied.
        result.inserted = result.updated = result.unchanged = result.linked = 0
        super().__init__(result.message, errors=[FieldError(f"row {e.row}: {e.column}", e.reason, e.reason_zh)
                                                 for e in result.errors[:50]],
                         message_zh="文件存在致命错误，未导入任何数据", row_errors=[e.as_dict() for e in result.errors])
        self.result = result


def _file_issue(filename: str, en: str, zh: str, column: str = "") -> Issue:
    return Issue(1, column, filename, en, zh)


# --- profiles -----------------------------------------------------------------------------------------------

def spec_of(profile: ImportProfile) -> ProfileSpec:
    return ProfileSpec(name=profile.name, channel=profile.channel, columns=dict(profile.columns or {}),
                       marketplace=profile.marketplace, date_format=profile.date_format, timezone=profile.timezone,
                       default_currency=profile.default_currency, decimal_comma=bool(profile.decimal_comma))


def _check_profile(errors: Errors, session: Session, given: dict, current: ImportProfile | None) -> dict:
    def pick(key, default=None):
        if key in given:
            return given[key]
        return getattr(current, key) if current is not None else default

    out: dict[str, Any] = {}
    name = clean(pick("name"))
    if errors.required("name", name, "名称"):
        errors.max_len("name", name, 80)
    out["name"] = name
    channel = clean(pick("channel")) or Channel.OWN_SITE.value
    if channel not in {c.value for c in Channel}:
        errors.add("channel", f"must be one of {', '.join(c.value for c in Channel)}",
                   f"应为以下之一：{', '.join(c.value for c in Channel)}")
    out["channel"] = channel
    marketplace = clean(pick("marketplace"))
    errors.max_len("marketplace", marketplace, 64)
    out["marketplace"] = marketplace
    columns = pick("columns", {}) or {}
    if not isinstance(columns, dict):
        errors.add("columns", "must map field names to column headers", "应为字段到列标题的映射")
        columns = {}
    mapped: dict[str, str] = {}
    for key, header in columns.items():
        header = clean(str(header)) if header is not None else None
        if key not in FIELD_KEYS:
            errors.add(f"columns.{key}", "is not a field of the generic importer", "不是通用导入的字段")
        elif header:
            if len(header) > 200:
                errors.add(f"columns.{key}", "is longer than 200 characters", "超过200个字符")
            mapped[key] = header
    labels = {k: (en, zh) for k, en, zh, _r in FIELDS}
    for key, _en, _zh, required in FIELDS:
        if required and key not in mapped:
            errors.add(f"columns.{key}", f"the column of {labels[key][0]} is required",
                       f"必须填写{labels[key][1]}所在的列")
    if "unit_price" not in mapped and "item_price" not in mapped:
        errors.add("columns.item_price", "map the line amount or the unit price", "须填写商品金额或单价所在的列")
    out["columns"] = mapped
    date_format = clean(pick("date_format"))
    if date_format:
        if "%" not in date_format or len(date_format) > 40:
            errors.add("date_format", "must be a strptime pattern such as %d/%m/%Y %H:%M",
                       "应为日期格式，如 %d/%m/%Y %H:%M")
        else:
            sample = datetime(2026, 1, 15, 9, 12, 33)
            try:
                datetime.strptime(sample.strftime(date_format), date_format)
            except ValueError:
                errors.add("date_format", "is not a date format Python can read back",
                           "不是可解析的日期格式")
    out["date_format"] = date_format
    tz = clean(pick("timezone")) or "UTC"
    if not valid_zone(tz):
        errors.add("timezone", "is not an IANA time zone (e.g. Asia/Shanghai, UTC)",
                   "不是IANA时区（如Asia/Shanghai、UTC）")
    out["timezone"] = tz
    currency = (clean(pick("default_currency")) or "").upper() or None
    if currency and (not re.fullmatch(r"[A-Z]{3}", currency) or currency not in load_currencies(session)):
        errors.add("default_currency", "is not an ISO 4217 currency code", "不是ISO 4217币种代码")
    out["default_currency"] = currency
    if "currency" not in mapped and not currency:
        errors.add("columns.currency", "map the currency column or set a default currency",
                   "须填写币种所在的列或设置默认币种")
    decimal_comma = pick("decimal_comma", False)
    if isinstance(decimal_comma, str):
        decimal_comma = decimal_comma.strip().lower() in ("1", "true", "yes", "on")
    out["decimal_comma"] = bool(decimal_comma)
    return out


def _checker(session: Session):
    return lambda errors, given, current: _check_profile(errors, session, given, current)


def create_profile(session: Session, *, principal: Principal, data) -> ImportProfile:
    return profiles.create(session, principal=principal, repo=ProfileRepository(session, principal),
                           values_of=_checker(session), data=data, action="sales.profile.create",
                           entity_type="sales_import_profile")


def update_profile(session: Session, *, principal: Principal, profile_id: uuid.UUID, data) -> ImportProfile:
    return profiles.update(session, principal=principal, repo=ProfileRepository(session, principal),
                           values_of=_checker(session), profile_id=profile_id, data=data,
                           action="sales.profile.update", entity_type="sales_import_profile")


def delete_profile(session: Session, *, principal: Principal, profile_id: uuid.UUID) -> None:
    profiles.delete(session, principal=principal, repo=ProfileRepository(session, principal), profile_id=profile_id,
                    action="sales.profile.delete", entity_type="sales_import_profile")


def _resolve_profile(session: Session, principal: Principal, profile, filename: str) -> ProfileSpec:
    if isinstance(profile, ProfileSpec):
        return profile
    if isinstance(profile, ImportProfile):
        return spec_of(profile)
    if not profile:
        raise FatalFile(_file_issue(filename, "the generic importer needs a column profile (--profile NAME)",
                                    "通用导入需要指定列映射方案（--profile 名称）", "profile"))
    row = ProfileRepository(session, principal).by_name(str(profile))
    if row is None:
        raise FatalFile(_file_issue(filename, f"there is no import profile named {profile!r}",
                                    f"没有名为“{profile}”的导入方案", "profile"))
    return spec_of(row)


# --- the import ---------------------------------------------------------------------------------------------

class _BatchWriter:
    """The database side of an import: for each batch, the SKUs looked up in the catalogue (one query),
    unknown SKUs warned once, the batch written (``bulk.py``), the counts added to the result.

    On PostgreSQL it runs in its own thread, so that parsing (Python, holding the GIL) and the server's COPY
    and merge overlap; at most ``depth`` batch waits in the queue (one more is being written, one being read),
    so memory stays bounded. The session is used by that thread only while it runs; ``close``/``abort`` join
    it before the caller touches the session again (commit or rollback). On SQLite batches are written in the
    caller's thread: sqlite3 gives the GIL back around every row of an ``executemany``, and a parsing thread
    would make each row wait for it (measured: slower than no thread at all)."""

    def __init__(self, repo: SalesRepository, writer: Writer, result: ImportResult, sku_column: str,
                 depth: int = 1):
        self.repo = repo
        self.writer = writer
        self.result = result
        self.sku_column = sku_column
        self.products: dict[str, uuid.UUID | None] = {}
        self.unknown: set[str] = set()
        self.error: BaseException | None = None
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.thread: threading.Thread | None = None
        if writer.threaded:
            self.thread = threading.Thread(target=self._run, name="sales-import-writer", daemon=True)
            self.thread.start()

    def put(self, lines: list[tuple], numbers: list[int]) -> None:
        if self.thread is None:
            self._write(lines, numbers)
            return
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put((lines, numbers), timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait until every batch is written; re-raise the writer's error."""
        self._stop()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop after the batch being written (the caller rolls the transaction back)."""
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self._stop()

    def _stop(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            while True:
                try:
                    self.queue.put(None, timeout=0.5)
                    break
                except queue.Full:
                    if not self.thread.is_alive():
                        break
            self.thread.join()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue  # drain after a failure; the parser stops at its next put
            try:
                self._write(*item)
            except BaseException as exc:  # noqa: BLE001 - handed to the parsing thread
                self.error = exc

    def _write(self, lines: list[tuple], numbers: list[int]) -> None:
        sku_at = LINE_FIELDS.index("sku")
        missing = list({line[sku_at] for line in lines} - self.products.keys())
        if missing:
            if len(self.products) > _SKU_CACHE_LIMIT:
                self.products.clear()
            found = self.repo.product_ids(missing)
            for sku in missing:
                self.products[sku] = found.get(sku)
        result = self.result
        for number, line in zip(numbers, lines, strict=True):
            sku = line[sku_at]
            if self.products[sku] is None:
                result.unknown_sku_lines += 1
                if sku not in self.unknown and len(result.warnings) < MAX_REPORTED:
                    self.unknown.add(sku)
                    result.warnings.append(Issue(
                        number, self.sku_column, sku, "the SKU is not in the catalogue: the line was imported and "
                        "flagged sku_unknown", "SKU不在商品目录中：该行已导入并标记为未知SKU"))
        inserted, updated, unchanged = self.writer.write(lines, self.products)
        result.inserted += inserted
        result.updated += updated
        result.unchanged += unchanged


def import_orders(session: Session, *, principal: Principal, path: Path | str, channel: str,
                  filename: str | None = None, profile: str | ImportProfile | ProfileSpec | None = None,
                  import_id: uuid.UUID | None = None, timezone: str | None = None, batch_size: int = BATCH_SIZE,
                  max_error_share: float | None = None,
                  progress: Callable[[ImportProgress], None] | None = None) -> ImportResult:
    """Import the order lines of the file at ``path`` for the principal's enterprise.

    ``channel`` is amazon, shopify, ebay or generic (generic needs ``profile``: a profile name, row or spec).
    ``timezone`` is the zone of times written without an offset (default: UTC; eBay: America/Los_Angeles;
    generic: the profile's). ``max_error_share`` (0–1) makes a file with a larger share of bad rows fatal.
    ``progress`` is called after every batch. Raises :class:`ImportFatal` when nothing may be applied (the
    caller rolls back); otherwise returns the counts, the row issues and the unknown-SKU warnings.
    """
    enterprise_id = principal.tenant(Action.WRITE)
    path = Path(path)
    filename = filename or path.name
    result = ImportResult(import_id=import_id or uuid7(), channel=channel, filename=filename)
    repo = SalesRepository(session, principal)
    pipe: _BatchWriter | None = None
    try:
        if channel not in IMPORTERS:
            raise FatalFile(_file_issue(filename, f"the channel must be one of {', '.join(IMPORT_CHANNELS)}",
                                        f"渠道应为以下之一：{', '.join(IMPORT_CHANNELS)}", "channel"))
        spec = _resolve_profile(session, principal, profile, filename) if channel == "generic" else None
        tz_name = timezone or (spec.timezone if spec else DEFAULT_TIMEZONES[channel])
        if not valid_zone(tz_name):
            raise FatalFile(_file_issue(filename, f"{tz_name!r} is not an IANA time zone",
                                        f"{tz_name}不是IANA时区", "timezone"))
        ctx = Context(Codes.load(session), zone(tz_name))
        importer = GenericImporter(ctx, spec) if spec else IMPORTERS[channel](ctx)
        source = open_source(path, delimiter=importer.delimiter)
        result.encoding = source.encoding

        def report():
            if progress is not None:
                progress(ImportProgress(source.done, source.total, source.unit, result.read))

        report()
        lines: list[tuple] = []
        numbers: list[int] = []
        keys: dict[tuple[str, str], int] = {}
        for number, out in hashed_rows(source, importer):  # out: the line's values and its hash, or a Row
            result.read += 1
            if isinstance(out, Row):
                result.rejected += 1
                result.add_errors(out.issues)
                continue
            key = (out[2], out[3])
            first = keys.get(key)
            if first is not None:  # one statement may not change a row twice: the repeat is an error
                result.rejected += 1
                result.add_errors([Issue(number, "", f"{out[2]} / {out[3]}", f"repeats the order line of row {first}",
                                         f"与第{first}行的订单行重复")])
                continue
            keys[key] = number
            lines.append(out)
            numbers.append(number)
            if len(lines) >= batch_size:
                if pipe is None:
                    pipe = _BatchWriter(repo, writer_for(session, enterprise_id, result.import_id), result,
                                        importer.column("sku"))
                pipe.put(lines, numbers)
                lines, numbers, keys = [], [], {}
                report()
        if lines:
            if pipe is None:
                pipe = _BatchWriter(repo, writer_for(session, enterprise_id, result.import_id), result,
                                    importer.column("sku"))
            pipe.put(lines, numbers)
        if pipe is not None:
            pipe.close()
        report()
    except FatalFile as exc:
        if pipe is not None:
            pipe.abort()
        result.add_errors(exc.issues)
        raise ImportFatal(result) from None
    except BaseException:
        if pipe is not None:
            pipe.abort()
        raise
    if max_error_share is not None and result.read and result.rejected / result.read > max_error_share:
        result.errors.insert(0, _file_issue(filename, f"{result.rejected} of {result.read} rows are bad, more than "
                                            f"the {max_error_share:.0%} allowed", f"{result.read}行中有"
                                            f"{result.rejected}行错误，超过允许的{max_error_share:.0%}"))
        raise ImportFatal(result)
    seen_known = [sku for sku, pid in (pipe.products.items() if pipe is not None else ()) if pid is not None]
    if seen_known:
        result.linked = repo.link_known_skus(seen_known)
    if result.inserted or result.updated or result.linked:
        audit.record(session, principal=principal, action="sales.orders.import", entity_type="sales_import",
                     entity_id=result.import_id, after={
                         "filename": filename, "channel": channel, "profile": spec.name if spec else None,
                         "read": result.read, "inserted": result.inserted, "updated": result.updated,
                         "unchanged": result.unchanged, "rejected": result.rejected, "linked": result.linked})
    return result


AMOUNTS = ("item_price", "item_tax", "shipping", "shipping_tax", "other", "discount", "fees", "refunded")


def amounts_reader(session: Session) -> Callable[[SalesOrderLine], dict[str, Decimal | None]]:
    """A function giving a line's amounts as decimals of its currency; the currencies' minor units are read
    once per reader, not once per line."""
    units = load_currencies(session)

    def read(line: SalesOrderLine) -> dict[str, Decimal | None]:
        n = units.get(line.currency or "", 2)
        return {name: None if getattr(line, f"{name}_minor") is None else from_minor(getattr(line, f"{name}_minor"), n)
                for name in AMOUNTS}

    return read


def link_known_skus(session: Session, *, principal: Principal) -> int:
    """Link every line flagged ``sku_unknown`` whose SKU the catalogue has now."""
    principal.tenant(Action.WRITE)
    linked = SalesRepository(session, principal).link_known_skus()
    if linked:
        audit.record(session, principal=principal, action="sales.orders.link_skus", entity_type="sales_order_lines",
                     entity_id=principal.enterprise_id, after={"linked": linked})
    return linked


# --- the import job (upload page and API) -------------------------------------------------------------------

def uploads_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "imports"


def start_import(session: Session, *, principal: Principal, data_dir: Path, upload, filename: str, channel: str,
                 profile: str | None = None, timezone: str | None = None) -> jobs.Job:
    """Check the request, keep the uploaded file under the data directory and create the job; the caller
    starts it (``launch``) after its transaction committed."""
    principal.tenant(Action.WRITE)
    errors = Errors()
    channel = (channel or "").strip()
    profile = (profile or "").strip() or None
    if channel not in IMPORT_CHANNELS:
        errors.add("channel", f"must be one of {', '.join(IMPORT_CHANNELS)}",
                   f"应为以下之一：{', '.join(IMPORT_CHANNELS)}")
    if channel == "generic":
        if not profile:
            errors.add("profile", "is required with the generic importer", "通用导入须选择列映射方案")
        elif ProfileRepository(session, principal).by_name(profile) is None:
            errors.add("profile", "is not a profile of your enterprise", "不是本企业的导入方案")
    if timezone and not valid_zone(timezone):
        errors.add("timezone", "is not an IANA time zone", "不是IANA时区")
    errors.raise_if_any()
    folder = uploads_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid7()}.upload"
    size = 0
    with target.open("wb") as out:
        while chunk := upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_IMPORT_BYTES:
                out.close()
                target.unlink(missing_ok=True)
                raise ValidationFailed("The file is too large.", errors=[FieldError(
                    "file", f"is larger than {MAX_IMPORT_BYTES >> 20} MiB", f"文件超过{MAX_IMPORT_BYTES >> 20} MiB")])
            out.write(chunk)
    if size == 0:
        target.unlink(missing_ok=True)
        raise ValidationFailed("The file is empty.", errors=[FieldError("file", "is empty", "文件为空")])
    actor = {"kind": principal.kind, "label": principal.label, "role": principal.role,
             "api_scope": principal.api_scope,
             "user_id": str(principal.user_id) if principal.user_id else None,
             "api_key_id": str(principal.api_key_id) if principal.api_key_id else None}
    return jobs.create_job(session, principal=principal, kind=JOB_KIND, label=(filename or target.name)[:200],
                           params={"path": str(target), "filename": filename, "channel": channel, "profile": profile,
                                   "timezone": timezone, "size": size, "actor": actor,
                                   "request_id": request_id_var.get()})


def _job_principal(ctx: jobs.JobContext) -> Principal:
    actor = ctx.params.get("actor") or {}
    return Principal(kind=actor.get("kind") or "system", label=actor.get("label") or "import",
                     user_id=uuid.UUID(actor["user_id"]) if actor.get("user_id") else None,
                     api_key_id=uuid.UUID(actor["api_key_id"]) if actor.get("api_key_id") else None,
                     enterprise_id=ctx.enterprise_id, role=actor.get("role"), api_scope=actor.get("api_scope"))


def run_import_job(ctx: jobs.JobContext) -> None:
    """The job's work: one transaction for the whole file; the job completes in it."""
    params = ctx.params
    path = Path(params["path"])
    token = request_id_var.set(params.get("request_id"))
    try:
        with ctx.db.transaction() as session:
            result = import_orders(
                session, principal=_job_principal(ctx), path=path, channel=params["channel"],
                filename=params.get("filename"), profile=params.get("profile"), import_id=ctx.job_id,
                timezone=params.get("timezone"),
                progress=lambda p: ctx.progress(p.done, p.total, p.unit, read=p.read))
            ctx.complete(session, result.as_dict())
    except ImportFatal as exc:
        raise jobs.JobFailed(exc.result.message, exc.result.as_dict()) from None
    finally:
        request_id_var.reset(token)
        path.unlink(missing_ok=True)


def launch(db, job: jobs.Job):
    """Start the import job in a thread (call after the transaction that created it committed)."""
    return jobs.start(db, job, run_import_job)


def discard_upload(job: jobs.Job) -> None:
    """Remove the kept upload of a job that will not run (its request failed after saving the file)."""
    path = (job.params or {}).get("path")
    if path:
        Path(path).unlink(missing_ok=True)


__all__ = ["BATCH_SIZE", "IMPORT_CHANNELS", "ImportFatal", "ImportProgress", "ImportResult", "create_profile",
           "delete_profile", "import_orders", "launch", "link_known_skus", "run_import_job", "start_import",
           "update_profile"]
