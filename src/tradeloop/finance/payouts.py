"""Importing platform settlements (Amazon V2 flat file, PayPal STL, payment firms' CSV through a profile) as
payouts with typed items, and the payment-firm profiles.

``import_settlement`` parses the whole file first (``finance/parsers``); any problem refuses the file with a
row-level report and nothing is written. Then each payout is matched by its key (source, settlement id):

* new -> inserted with its items;
* known, and the file says exactly what is stored -> unchanged (the same file twice changes nothing);
* known, and the file differs (a re-issued settlement) -> its header is updated and its items replaced;
  what the matching service recorded (``received_minor``) is kept and the status recomputed against the new
  total.

Items are linked to the imported sales lines by order id and SKU (Amazon: channel ``amazon``; other sources:
any channel, and an item without SKU only when its order has one line). An unchanged payout still gains the
links of sales lines imported since. One audit row per import; the service never commits.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.finance.money_models import ItemKind, Payout, PayoutItem, PayoutStatus
from tradeloop.finance.parsers import amazon_settlement, paypal, profiles
from tradeloop.finance.parsers.payout_common import ParsedFile, ParsedItem, ParsedPayout
from tradeloop.finance.parsers.profiles import BUILTIN_PROFILES, ProfileSpec, check_spec
from tradeloop.finance.payout_models import PayoutProfile
from tradeloop.finance.payout_repository import PayoutProfileRepository, PayoutRepository
from tradeloop.kit import profiles as column_profiles
from tradeloop.kit.errors import Conflict
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tables import ImportRejected, RowError
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean

FORMATS = ("amazon", "paypal")


@dataclass
class SettlementImport:
    source: str
    filename: str
    file_sha256: str
    encoding: str | None = None
    payouts: int = 0
    items: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    linked_items: int = 0
    #: currency -> {"credit": minor units, "debit": minor units} over the file's items, transfers excluded.
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    #: one entry per payout: id, settlement_id, currency, total_minor, items, outcome.
    details: list[dict] = field(default_factory=list)

    def as_cli(self) -> dict:
        """The ``tradeloop import settlement --json`` document (exactly these keys)."""
        return {"source": self.source, "payouts": self.payouts, "items": self.items, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged, "linked_items": self.linked_items,
                "totals": self.totals}

    def as_dict(self) -> dict:
        return {**self.as_cli(), "filename": self.filename, "file_sha256": self.file_sha256,
                "encoding": self.encoding, "payout_list": self.details}


def resolve_spec(session: Session, principal: Principal, channel: str) -> ProfileSpec | None:
    """The enterprise's profile of that name, else the built-in starter layout, else None."""
    name = channel.strip().lower()
    row = PayoutProfileRepository(session, principal).by_name(name)
    if row is not None:
        return spec_of(row)
    return BUILTIN_PROFILES.get(name)


def spec_of(row: PayoutProfile) -> ProfileSpec:
    return ProfileSpec(name=row.name, columns=dict(row.columns or {}), date_format=row.date_format,
                       timezone=row.timezone or "UTC", sign_convention=row.sign_convention,
                       decimal_comma=bool(row.decimal_comma), default_currency=row.default_currency,
                       type_map=dict(row.type_map or {}))


def parse_file(session: Session, principal: Principal, *, filename: str, data: bytes, channel: str) -> ParsedFile:
    name = (channel or "").strip().lower()
    if name == "amazon":
        return amazon_settlement.parse(filename, data)
    if name == "paypal":
        return paypal.parse(filename, data)
    spec = resolve_spec(session, principal, name) if name else None
    if spec is None:
        raise ImportRejected([RowError(1, "channel", channel or "", "must be amazon, paypal or the name of a payout "
                                       f"profile ({', '.join(sorted(BUILTIN_PROFILES))} or one saved by the "
                                       "enterprise)", "须为 amazon、paypal 或结算文件方案的名称")])
    return profiles.parse(filename, data, spec)


def import_settlement(session: Session, *, principal: Principal, filename: str, data: bytes,
                      channel: str) -> SettlementImport:
    """Import one settlement file (see the module text); all or nothing, idempotent, audited once."""
    tenant = principal.tenant(Action.WRITE)
    parsed = parse_file(session, principal, filename=filename, data=data, channel=channel)
    sha = hashlib.sha256(data).hexdigest()
    result = SettlementImport(parsed.source, filename, sha, parsed.encoding, payouts=len(parsed.payouts))
    repo = PayoutRepository(session, principal)
    existing = repo.by_keys(parsed.source, [p.settlement_id for p in parsed.payouts])
    links = _links(repo, parsed)
    for p in parsed.payouts:
        result.items += len(p.items)
        for item in p.items:
            if item.kind == ItemKind.TRANSFER:
                continue
            side = result.totals.setdefault(item.currency, {"credit": 0, "debit": 0})
            side["credit" if item.amount_minor >= 0 else "debit"] += abs(item.amount_minor)
        old = existing.get(p.settlement_id)
        if old is None:
            payout = Payout(enterprise_id=tenant, id=uuid7(), source=parsed.source, received_minor=0,
                            status=PayoutStatus.OPEN.value, **_header(p, filename, sha))
            session.add(payout)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict("Another import saved this settlement at the same time; try again.",
                               message_zh="另一导入同时保存了该结算，请重试") from None
            repo.replace_items(payout.id, _rows(tenant, payout.id, p, links))
            result.inserted += 1
            outcome = "inserted"
            linked = sum(1 for i in p.items if links.get(_ref(i)))
        elif _same(old, repo.items(old.id), p):
            payout, outcome = old, "unchanged"
            result.unchanged += 1
            stored = repo.items(old.id)
            new_links = [(i.id, links[(i.order_id, i.sku)]) for i in stored
                         if i.sales_line_id is None and links.get((i.order_id, i.sku))]
            repo.link_items(new_links)
            linked = sum(1 for i in stored if i.sales_line_id is not None) + len(new_links)
        else:
            payout, outcome = old, "updated"
            for key, value in _header(p, filename, sha).items():
                setattr(old, key, value)
            if old.received_minor:
                old.status = (PayoutStatus.RECEIVED if old.received_minor >= old.total_minor
                              else PayoutStatus.PARTIAL).value
            session.flush()
            repo.replace_items(old.id, _rows(tenant, old.id, p, links))
            result.updated += 1
            linked = sum(1 for i in p.items if links.get(_ref(i)))
        result.linked_items += linked
        result.details.append({"id": str(payout.id), "settlement_id": p.settlement_id, "currency": p.currency,
                               "total_minor": p.total_minor, "items": len(p.items), "linked_items": linked,
                               "outcome": outcome})
    audit.record(session, principal=principal, action="finance.settlement.import", entity_type="payouts",
                 entity_id=sha, after=result.as_dict())
    return result


def _header(p: ParsedPayout, filename: str, sha: str) -> dict:
    return {"settlement_id": p.settlement_id, "marketplace": p.marketplace, "period_start": p.period_start,
            "period_end": p.period_end, "deposit_date": p.deposit_date, "currency": p.currency,
            "total_minor": p.total_minor, "filename": filename[:255], "file_sha256": sha}


def _ref(item: ParsedItem) -> tuple[str | None, str | None]:
    return (item.order_id, item.sku)


def _rows(tenant: uuid.UUID, payout_id: uuid.UUID, p: ParsedPayout, links: dict) -> list[dict]:
    return [{"enterprise_id": tenant, "id": uuid7(), "payout_id": payout_id, "line_no": i.line_no, "kind": i.kind,
             "transaction_type": i.transaction_type, "amount_type": i.amount_type,
             "amount_description": i.amount_description, "order_id": i.order_id, "sku": i.sku,
             "quantity": i.quantity, "posted_at": i.posted_at, "amount_minor": i.amount_minor,
             "currency": i.currency, "sales_line_id": links.get(_ref(i))} for i in p.items]


def _stored_key(i: PayoutItem) -> tuple:
    return (i.line_no, i.kind, i.amount_minor, i.currency, i.transaction_type, i.amount_type, i.amount_description,
            i.order_id, i.sku, i.quantity, i.posted_at.astimezone(UTC).isoformat() if i.posted_at else None)


def _same(old: Payout, items: list[PayoutItem], p: ParsedPayout) -> bool:
    header = _header(p, old.filename or "", old.file_sha256 or "")
    for key in ("marketplace", "period_start", "period_end", "deposit_date", "currency", "total_minor"):
        if getattr(old, key) != header[key]:
            return False
    return sorted(_stored_key(i) for i in items) == sorted(i.key() for i in p.items)


def _links(repo: PayoutRepository, parsed: ParsedFile) -> dict[tuple[str | None, str | None], uuid.UUID]:
    """(order id, SKU) -> sales line id for the file's items that have a sales line."""
    orders = sorted({i.order_id for p in parsed.payouts for i in p.items if i.order_id})
    if not orders:
        return {}
    lines = repo.sales_lines(orders, "amazon" if parsed.source == "amazon" else None)
    by_sku: dict[tuple[str, str], uuid.UUID] = {}
    by_order: dict[str, list[uuid.UUID]] = defaultdict(list)
    for line_id, order, sku, _line in lines:
        by_sku.setdefault((order, sku), line_id)
        by_order[order].append(line_id)
    out = {}
    for p in parsed.payouts:
        for i in p.items:
            if not i.order_id:
                continue
            if i.sku:
                found = by_sku.get((i.order_id, i.sku))
            else:
                found = by_order[i.order_id][0] if len(by_order.get(i.order_id, [])) == 1 else None
            if found:
                out[_ref(i)] = found
    return out


# --- profiles -------------------------------------------------------------------------------------------


PROFILE_FIELDS = ("name", "columns", "date_format", "timezone", "sign_convention", "decimal_comma",
                  "default_currency", "type_map")


def _profile_values(errors: Errors, given: dict, current: PayoutProfile | None) -> dict:
    def pick(key, default=None):
        if key in given and given[key] is not None:
            return given[key]
        return getattr(current, key) if current is not None else default

    columns = pick("columns", {}) or {}
    type_map = pick("type_map", {}) or {}
    if not isinstance(columns, dict):
        errors.add("columns", "must map field names to column headers", "应为字段到列标题的映射")
        columns = {}
    if not isinstance(type_map, dict):
        errors.add("type_map", "must map type values to item kinds", "应为类型值到款项类别的映射")
        type_map = {}
    values = {
        "name": (clean(pick("name")) or "").lower(),
        "columns": {str(k): clean(str(v)) for k, v in columns.items() if v is not None and clean(str(v))},
        "date_format": clean(pick("date_format")),
        "timezone": clean(pick("timezone")) or "UTC",
        "sign_convention": clean(pick("sign_convention")) or "signed",
        "decimal_comma": bool(pick("decimal_comma", False)),
        "default_currency": (clean(pick("default_currency")) or "").upper() or None,
        "type_map": {str(k).strip(): str(v).strip().lower() for k, v in type_map.items() if str(k).strip()},
    }
    for key, limit in (("date_format", 40), ("timezone", 40)):
        errors.max_len(key, values[key], limit)
    for key, header in values["columns"].items():
        errors.max_len(f"columns.{key}", header, 200)
    spec = ProfileSpec(**values)
    for fld, en, zh in check_spec(spec):
        errors.add(fld, en, zh)
    return values


def create_profile(session: Session, *, principal: Principal, data) -> PayoutProfile:
    return column_profiles.create(session, principal=principal, repo=PayoutProfileRepository(session, principal),
                                  values_of=_profile_values, data=data, action="finance.payout_profile.create",
                                  entity_type="payout_profile")


def update_profile(session: Session, *, principal: Principal, profile_id: uuid.UUID, data) -> PayoutProfile:
    return column_profiles.update(session, principal=principal, repo=PayoutProfileRepository(session, principal),
                                  values_of=_profile_values, profile_id=profile_id, data=data,
                                  action="finance.payout_profile.update", entity_type="payout_profile")


def delete_profile(session: Session, *, principal: Principal, profile_id: uuid.UUID) -> None:
    column_profiles.delete(session, principal=principal, repo=PayoutProfileRepository(session, principal),
                           profile_id=profile_id, action="finance.payout_profile.delete", entity_type="payout_profile")
