"""Loading the reference datasets from their versioned CSV files.

The package ships ``reference/data/manifest.json`` and one CSV per dataset; the catalog module ships the
HS reference the same way in ``catalog/data``. ``tradeloop reference load``
loads them (or a directory with newer files laid out the same way). A dataset whose file hash matches
what is loaded is skipped, so loading is idempotent; a changed file replaces its table whole, in one
transaction with the other datasets, so a bad file applies nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from sqlalchemy import Date, Numeric
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.reference.repository import DATASET_MODELS, ReferenceRepository

INT_COLUMNS = {"minor_units"}
BOOL_COLUMNS = {"partial"}


@dataclass
class LoadResult:
    name: str
    version: str
    rows: int
    changed: bool


def packaged_data_dir() -> Path:
    return Path(str(resources.files("tradeloop.reference") / "data"))


def packaged_data_dirs() -> list[Path]:
    """Every directory of packaged datasets: the code tables, then the HS reference of the catalog."""
    return [packaged_data_dir(), Path(str(resources.files("tradeloop.catalog") / "data"))]


def _row_error(path: Path, lineno: int, name: str, message: str, en: str, zh: str) -> ValidationFailed:
    """A refused cell, naming file, row and column; ``message`` follows "<file> row <n>: "."""
    where = f"{path.name} row {lineno}"
    return ValidationFailed(f"{where}: {message}",
                            errors=[FieldError(name, f"{where}: {en}", f"{path.name} 第{lineno}行：{zh}")])


def _typed(path: Path, lineno: int, name: str, col, value: str):
    """A CSV cell as its column's type: int, bool, exact decimals for Numeric, ISO dates for Date."""
    if name in BOOL_COLUMNS:
        return value in ("1", "true", "yes")
    if not value:
        return None
    if name in INT_COLUMNS:
        try:
            return int(value)
        except ValueError:
            raise _row_error(path, lineno, name, f"{name} is not a whole number ({value!r})", "not a whole number",
                             "不是整数") from None
    if isinstance(col.type, Numeric):
        try:
            number = Decimal(value)
            if not number.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise _row_error(path, lineno, name, f"{name} is not a number ({value!r})", "not a number",
                             "不是数字") from None
        return number
    if isinstance(col.type, Date):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _row_error(path, lineno, name, f"{name} is not a date YYYY-MM-DD ({value!r})",
                             "not a date (YYYY-MM-DD)", "日期格式应为 YYYY-MM-DD") from None
    return value


def _parse(dataset: str, path: Path, raw: bytes) -> list[dict]:
    model = DATASET_MODELS[dataset]
    columns = {c.name: c for c in model.__table__.columns}
    text = raw.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c, col in columns.items() if not col.nullable and c not in (reader.fieldnames or [])
               and col.default is None]
    if missing:
        raise ValidationFailed(f"{path.name}: missing columns {', '.join(missing)}",
                               errors=[FieldError(m, f"{path.name}: column missing", f"{path.name}：缺少列")
                                       for m in missing])
    rows: list[dict] = []
    seen: set[str] = set()
    pk = next(iter(model.__table__.primary_key.columns)).name
    for lineno, record in enumerate(reader, start=2):
        row: dict = {}
        for name, col in columns.items():
            row[name] = _typed(path, lineno, name, col, (record.get(name) or "").strip())
            if row[name] is None and not col.nullable and col.default is None:
                raise _row_error(path, lineno, name, f"{name} is empty", "empty", "为空")
            length = getattr(col.type, "length", None)
            if isinstance(row[name], str) and length and len(row[name]) > length:
                raise _row_error(path, lineno, name, f"{name} longer than {length}", "too long", "过长")
        if row[pk] in seen:
            raise _row_error(path, lineno, pk, f"duplicate {pk} {row[pk]}", "duplicate", "重复")
        seen.add(row[pk])
        rows.append(row)
    return rows


def load_reference_data(session: Session, *, principal: Principal, data_dir: Path | None = None,
                        force: bool = False) -> list[LoadResult]:
    """Load the datasets of ``data_dir`` (default: every packaged directory) whose file changed."""
    principal.require(Action.PLATFORM)
    dirs = [Path(data_dir)] if data_dir else packaged_data_dirs()
    repo = ReferenceRepository(session)
    results = []
    for directory in dirs:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        results += _load_manifest(session, principal, repo, directory, manifest, force)
    return results


def _load_manifest(session, principal, repo, data_dir: Path, manifest: dict, force: bool) -> list[LoadResult]:
    results = []
    for entry in manifest["datasets"]:
        name = entry["name"]
        if name not in DATASET_MODELS:
            raise ValidationFailed(f"manifest.json: unknown dataset {name}")
        path = data_dir / entry["file"]
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        loaded = repo.dataset(name)
        if loaded is not None and loaded.sha256 == digest and not force:
            results.append(LoadResult(name, loaded.version, loaded.rows, False))
            continue
        before = {"version": loaded.version, "sha256": loaded.sha256, "rows": loaded.rows} if loaded else None
        rows = _parse(name, path, raw)
        repo.replace(name, rows)
        repo.set_dataset(name=name, version=entry["version"], sha256=digest, rows=len(rows))
        audit.record(session, principal=principal, action="reference.load", entity_type="reference_dataset",
                     entity_id=name, before=before,
                     after={"version": entry["version"], "sha256": digest, "rows": len(rows)}, enterprise_id=None)
        results.append(LoadResult(name, entry["version"], len(rows), True))
    return results
