"""Inbound customs messages: receipts and the summary result, applied idempotently; the rest quarantined.

One file is one transaction: it is read (safely: no DTD, no entities, size-limited), matched to the
documents it answers, recorded, and the states recomputed — or, when it cannot be read or matched, kept
in the quarantine with the reason. The same file twice changes nothing (its SHA-256 was seen); the same
receipt in another file changes nothing (receipts are unique per document, status and return time).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.customs import service
from tradeloop.customs.ceb import reader
from tradeloop.customs.ceb.safe import CebRefused
from tradeloop.customs.models import (
    Declaration,
    DocumentKind,
    Message,
    MessageDirection,
    Quarantined,
    Receipt,
    Summary,
)
from tradeloop.customs.repository import DeclarationRepository, ExchangeRepository
from tradeloop.customs.status import is_failure
from tradeloop.kit.errors import Conflict
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.tenancy import Action, Principal, system_principal

#: Receipt type → the document kind it answers and the key it carries back (domain.md §2.5 keys).
RECEIPT_TARGETS = {
    "CEB304": (DocumentKind.ORDER, lambda k: k.get("orderNo")),
    "CEB404": (DocumentKind.PAYMENT, lambda k: k.get("orderNo")),
    "CEB506": (DocumentKind.WAYBILL, lambda k: f"{k.get('logisticsCode')}:{k.get('logisticsNo')}"),
    "CEB604": (DocumentKind.LIST, lambda k: k.get("copNo")),
    "CEB606": (DocumentKind.CANCEL, lambda k: k.get("copNo")),
    "CEB608": (DocumentKind.BILL, lambda k: k.get("copNo")),
    "CEB702": (DocumentKind.SUMMARY, lambda k: k.get("copNo")),
}
#: Arrival and departure receipts go to the site operator and the carrier; when they reach this exchange
#: they are kept on the timeline of the declarations with the same bill of lading, changing no state.
INFORMATIONAL = {"CEB508", "CEB510"}
SUMMARY_RESULT = "CEB792"
PARTY_KEYS = ("ebcCode", "agentCode", "logisticsCode")


@dataclass
class IngestResult:
    outcome: str  # applied / duplicate / quarantined
    message_type: str | None = None
    records: int = 0
    changed: int = 0
    reason: str | None = None
    quarantine_id: uuid.UUID | None = None


@dataclass
class _Match:
    enterprise_id: uuid.UUID
    owner_id: uuid.UUID
    apply: object  # callable(session, message) -> bool (changed)


#: Identifiers a receipt hands out and their longest allowed length (domain.md §2.5): a longer one is not
#: customs' and is refused, instead of failing (or being cut) in the database.
KEY_LENGTHS = {"preNo": 18, "invtNo": 20, "sumNo": 18, "declSeqNo": 18, "entryId": 18, "copNo": 30,
               "orderNo": 60, "logisticsNo": 32, "billNo": 37}


def ingest(session: Session, *, filename: str, data: bytes, only_enterprise: uuid.UUID | None = None,
           max_bytes: int = 20 * 1024 * 1024, source: str = "exchange", again: bool = False) -> IngestResult:
    """Read one inbound file and apply it. ``only_enterprise`` restricts matching to one tenant (a file a
    user uploads may only answer that user's own declarations). ``again`` reprocesses a quarantined file
    (its quarantine row is updated or resolved instead of a second one being added)."""
    sha = hashlib.sha256(data).hexdigest()
    exch = ExchangeRepository(session)
    seen = exch.inbound_seen(sha)
    if seen is not None and (only_enterprise is None or seen.enterprise_id == only_enterprise):
        return IngestResult("duplicate", seen.message_type)
    held = exch.quarantined_sha(sha)
    if held is not None and not again:
        if only_enterprise is not None and held.enterprise_id != only_enterprise:
            return IngestResult("duplicate", held.message_type)  # another tenant's (or nobody's) file
        return IngestResult("duplicate", held.message_type, reason=held.reason, quarantine_id=held.id)
    hold = _Holder(session, filename, data, sha, held, only_enterprise)
    if len(data) > max_bytes:
        return hold("too_large", f"file is larger than {max_bytes} bytes", None, None)
    try:
        msg = reader.read(data, source=filename)
    except CebRefused as exc:
        return hold(exc.kind, str(exc), None, None)
    records = msg.records()
    kind = msg.message_type
    guess = _tenant_guess(exch, records, only_enterprise)
    if kind not in RECEIPT_TARGETS and kind not in INFORMATIONAL and kind != SUMMARY_RESULT:
        return hold("not_applicable", f"{kind} is not a receipt or result this platform receives", kind, guess)
    too_long = [f"{k}={v[:40]}" for r in records for k, v in r.keys.items() if len(v) > KEY_LENGTHS.get(k, 10 ** 6)]
    if too_long:
        return hold("invalid", f"{kind}: identifiers longer than the message standard allows: "
                    f"{', '.join(too_long[:3])}", kind, guess)
    matches, unmatched = [], []
    for record in records:
        found = _match(session, exch, kind, record, only_enterprise)
        (matches.extend(found) if found else unmatched.append(record))
    if not matches:
        keys = "; ".join(", ".join(f"{k}={v}" for k, v in r.keys.items() if k != "guid") for r in unmatched[:3])
        return hold("unmatched", f"{kind}: no declaration of this platform carries these keys ({keys})", kind,
                    guess)
    changed = _record(session, filename, data, sha, msg, matches, unmatched, source)
    if held is not None:
        held.resolved_at, held.resolution = utcnow(), f"reprocessed: applied ({changed} change(s))"
    return IngestResult("applied", kind, records=len(records), changed=changed)


@dataclass
class _Holder:
    """Quarantines the file: a new row, or (when reprocessing) the existing row with the new reason."""

    session: Session
    filename: str
    data: bytes
    sha: str
    held: Quarantined | None
    only_enterprise: uuid.UUID | None

    def __call__(self, kind: str, reason: str, message_type: str | None, enterprise_id) -> IngestResult:
        item = self.held
        if item is None:
            item = Quarantined(id=uuid7(), filename=self.filename[:255], sha256=self.sha, size_bytes=len(self.data),
                               content=self.data)
            self.session.add(item)
        item.reason_kind, item.reason, item.message_type = kind, reason[:4000], message_type
        item.enterprise_id = item.enterprise_id or enterprise_id or self.only_enterprise
        self.session.flush()
        return IngestResult("quarantined", message_type, reason=reason, quarantine_id=item.id)


def _record(session: Session, filename: str, data: bytes, sha: str, msg, matches: list[_Match],
            unmatched: list, source: str) -> int:
    by_owner: dict[tuple, list[_Match]] = defaultdict(list)
    for m in matches:
        by_owner[(m.enterprise_id, m.owner_id)].append(m)
    changed = 0
    for (enterprise_id, owner_id), group in by_owner.items():
        stored = Message(enterprise_id=enterprise_id, id=uuid7(), direction=MessageDirection.IN,
                         message_type=msg.message_type, guid=(msg.guid or "")[:36], owner_id=owner_id,
                         filename=filename[:255], sha256=sha, content=data)
        session.add(stored)
        session.flush()
        n = sum(1 for m in group if m.apply(session, stored))
        changed += n
        note = f"{len(group)} record(s), {n} changed" + ("; uploaded by hand, not from the exchange"
                                                          if source == "upload" else "")
        if unmatched:
            note += f"; {len(unmatched)} record(s) matched nothing"
        if msg.deviations:
            note += f"; deviates from the schema: {msg.deviations[0]}"
        stored.summary = note
    session.flush()
    return changed


def _tenant_guess(exch: ExchangeRepository, records, only_enterprise: uuid.UUID | None) -> uuid.UUID | None:
    if only_enterprise is not None:
        return only_enterprise
    ids = {eid for r in records for key in PARTY_KEYS if r.keys.get(key)
           for eid in exch.enterprise_ids_by_code(r.keys[key])}
    return ids.pop() if len(ids) == 1 else None


def _principal(enterprise_id: uuid.UUID):
    return system_principal(enterprise_id, label="customs exchange")


def _restrict(rows, only_enterprise):
    return [r for r in rows if only_enterprise is None or r.enterprise_id == only_enterprise]


def _match(session: Session, exch: ExchangeRepository, kind: str, record, only_enterprise) -> list[_Match]:
    if kind in RECEIPT_TARGETS:
        doc_kind, key_of = RECEIPT_TARGETS[kind]
        key = key_of(record.keys)
        docs = _restrict(exch.documents_by_key([doc_kind], key), only_enterprise) if key else []
        if len(docs) > 1:  # the same number at two tenants: the receipt's party codes decide
            codes = {record.keys.get(k) for k in PARTY_KEYS} - {None}
            owners = {eid for c in codes for eid in exch.enterprise_ids_by_code(c)}
            docs = [d for d in docs if d.enterprise_id in owners]
        if len(docs) != 1:
            return []
        doc = docs[0]
        return [_Match(doc.enterprise_id, doc.owner_id,
                       lambda s, m, doc=doc: _apply_receipt(s, doc, kind, record, m))]
    if kind in INFORMATIONAL:
        bill = record.keys.get("billNo")
        decls = _restrict(exch.declarations_by_bill(bill), only_enterprise) if bill else []
        return [_Match(d.enterprise_id, d.id, lambda s, m: False) for d in decls]
    return _match_result(exch, record, only_enterprise)


def _apply_receipt(session: Session, doc, kind: str, record, message: Message) -> bool:
    principal = _principal(doc.enterprise_id)
    repo = DeclarationRepository(session, principal)
    code = (record.status or "").strip()
    time = (record.time or "").strip()[:17]
    if repo.receipt_exists(doc.id, code, time):
        return False
    session.add(Receipt(enterprise_id=doc.enterprise_id, id=uuid7(), document_id=doc.id, message_id=message.id,
                        message_type=kind, status_code=code[:10], return_time=time,
                        info=(record.note or "")[:4000] or None))
    session.flush()
    if doc.kind == DocumentKind.SUMMARY:
        summary = repo.summary(doc.owner_id, for_update=True)
        if not is_failure(code):
            summary.pre_no = summary.pre_no or record.keys.get("preNo")
            summary.sum_no = summary.sum_no or record.keys.get("sumNo")
        service.refresh_summary(session, principal=principal, summary=summary)
        return True
    decl = repo.get(doc.owner_id, for_update=True)
    if doc.kind == DocumentKind.LIST and not is_failure(code):
        decl.pre_no = decl.pre_no or record.keys.get("preNo")
        decl.invt_no = decl.invt_no or record.keys.get("invtNo")
    service.refresh_declaration(session, principal=principal, decl=decl)
    return True


def _match_result(exch: ExchangeRepository, record, only_enterprise) -> list[_Match]:
    """A CEB792 names its summary by sumNo; when it overtakes the 702 that gave the sumNo, its lists'
    invtNo find the summary instead."""
    summaries = _restrict(exch.summaries_by_sum_no(record.keys.get("sumNo") or ""), only_enterprise)
    if not summaries:
        invt_nos = {line.get("invtNo") for line in record.lines} - {None}
        found: dict[uuid.UUID, Declaration] = {}
        for invt in invt_nos:
            for decl in _restrict(exch.declarations_by_cop_no(invt), only_enterprise):
                if decl.summary_id:
                    found[decl.summary_id] = decl
        summaries = [exch.summary_of(d.enterprise_id, sid) for sid, d in found.items()]
    ebc = record.keys.get("ebcCode")
    summaries = [s for s in summaries if s is not None and (not ebc or s.ebc_code == ebc)]
    if len(summaries) != 1:
        return []
    summary = summaries[0]
    return [_Match(summary.enterprise_id, summary.id, lambda s, m: _apply_result(s, summary, record))]


def _apply_result(session: Session, summary: Summary, record) -> bool:
    """The summary result: 汇总统一编号, later the export declaration number (entryId) — onto the summary,
    its declarations and each declaration line customs listed (invtNo + gnum → gseqno)."""
    principal = _principal(summary.enterprise_id)
    repo = DeclarationRepository(session, principal)
    keys = record.keys
    before = (summary.sum_no, summary.decl_seq_no, summary.entry_id, summary.dec_state)
    summary.sum_no = summary.sum_no or keys.get("sumNo")
    summary.decl_seq_no = keys.get("declSeqNo") or summary.decl_seq_no
    summary.entry_id = keys.get("entryId") or summary.entry_id
    summary.dec_state = (record.status or summary.dec_state or "")[:3] or None
    changed = before != (summary.sum_no, summary.decl_seq_no, summary.entry_id, summary.dec_state)
    decls: dict[str, Declaration] = {d.invt_no: d for d in repo.of_summary(summary.id) if d.invt_no}
    lines = {(invt, li.gnum): li for invt, li in repo.lines_of_summary(summary.id)}
    for row in record.lines:
        line = lines.get((row.get("invtNo"), _int(row.get("gnum"))))
        if line is None:
            continue
        new = (summary.decl_seq_no, summary.entry_id, _int(row.get("gseqno")))
        if (line.decl_seq_no, line.entry_id, line.gseqno) != new:
            line.decl_seq_no, line.entry_id, line.gseqno = new
            changed = True
    if summary.entry_id:
        for decl in decls.values():
            if decl.entry_id != summary.entry_id:
                decl.entry_id = summary.entry_id
                changed = True
    session.flush()
    service.refresh_summary(session, principal=principal, summary=summary)
    return changed


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def quarantine_failed(session: Session, *, filename: str, data: bytes, reason: str) -> IngestResult:
    sha = hashlib.sha256(data).hexdigest()
    exch = ExchangeRepository(session)
    return _Holder(session, filename, data, sha, exch.quarantined_sha(sha), None)("failed", reason, None, None)


def upload_receipt(session: Session, *, principal: Principal, filename: str, data: bytes, max_bytes: int):
    """A receipt a user brings in by hand (e.g. downloaded from the single window): applied to the user's
    own declarations only, marked as uploaded on the timeline; unreadable or unmatched files are
    quarantined under the user's enterprise. Enterprise admins only: a receipt moves customs states."""
    enterprise_id = principal.tenant(Action.MANAGE)
    result = ingest(session, filename=filename, data=data, only_enterprise=enterprise_id, max_bytes=max_bytes,
                    source="upload")
    _audit_file(session, principal, "customs.inbox.upload", filename, data, result)
    return result


def reprocess_quarantined(session: Session, *, principal: Principal, item_id: uuid.UUID,
                          all_tenants: bool = False) -> IngestResult:
    """Read a quarantined file again — e.g. a receipt that came before its declaration was known. Applied,
    it is marked resolved; refused again, its reason is updated."""
    if not all_tenants:
        principal.tenant(Action.WRITE)
    item = DeclarationRepository(session, principal).quarantined(item_id, all_tenants=all_tenants, for_update=True)
    if item.resolved_at is not None:
        raise Conflict("This file was already resolved.", message_zh="该文件已处理")
    result = ingest(session, filename=item.filename, data=item.content, again=True,
                    only_enterprise=None if all_tenants else principal.enterprise_id)
    _audit_file(session, principal, "customs.quarantine.reprocess", item.filename, item.content, result,
                enterprise_id=item.enterprise_id)
    return result


def _audit_file(session: Session, principal: Principal, action: str, filename: str, data: bytes,
                result: IngestResult, enterprise_id: uuid.UUID | None = None) -> None:
    audit.record(session, principal=principal, action=action, entity_type="customs_file",
                 entity_id=hashlib.sha256(data).hexdigest(), enterprise_id=enterprise_id,
                 after={"filename": filename, "outcome": result.outcome, "message_type": result.message_type,
                        "changed": result.changed, "reason": result.reason})
