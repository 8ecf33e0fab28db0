"""Declarations through the exchange folders and the customs simulator (SQLite and PostgreSQL).

The full 9810 path: 订仓单 → list → receipts → release → departure → summary → entryId on the lines;
the rejection path ending in a corrected resubmission (appType=2); receipts replayed twice and out of
order; cancellation; unreadable and hostile inbound files kept in the quarantine.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.customs.builders import (
    CONFIG,
    add_products,
    body_9810,
    create,
    exchange_round,
    load,
    principal_of,
    receipt,
    reject_summary,
    signed_config,
    submit,
)
from tests.customs.ceb_examples import SAMPLES
from tradeloop.audit.models import AuditLog
from tradeloop.customs import gateway, inbound, service
from tradeloop.customs.ceb import reader, schema, signing
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.models import DeclarationStatus, Message, Quarantined, Receipt, SummaryStatus
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.customs.simulator import CustomsSimulator


@pytest.fixture
def folders(tmp_path):
    return ExchangeFolders(tmp_path / "exchange").ensure()


@pytest.fixture
def sim(folders):
    return CustomsSimulator(folders)


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


def _closed_month(decl) -> str:
    return decl.closed_at.astimezone(service.build.BEIJING).strftime("%Y-%m")


def test_full_9810_path_to_entry_id(db, world, exporter, folders, sim):
    decl = create(db, exporter, body_9810(world))
    assert decl.status == DeclarationStatus.DRAFT
    assert decl.order_type == "W" and decl.ebp_name == "洛杉矶仓" and decl.ebp_code == "无"
    submit(db, exporter, decl.id, config=signed_config())

    written = gateway.dispatch(db, folders)
    assert written == 3  # 订仓单 CEB303, waybill CEB505, list CEB603 — no 收款单 for 9810
    names = sorted(p.name for p in folders.outbox.iterdir())
    assert [n[:6] for n in names] == ["CEB303", "CEB505", "CEB603"]
    assert not list(folders.outbox.glob(".*.tmp"))
    for path in folders.outbox.iterdir():
        data = path.read_bytes()
        assert schema.validate(data) == [], path.name
        assert signing.verify(data)
        if path.name.startswith("CEB303"):
            order = reader.read(data).records()[0]
            assert order.fields["orderType"] == "W" and order.fields["ebpName"] == "洛杉矶仓"
    assert gateway.dispatch(db, folders) == 0  # nothing queued twice

    sim.run_once()
    results = gateway.poll(db, folders)
    assert results and all(r.result.outcome == "applied" for r in results)
    assert not list(folders.inbox.iterdir())
    decl, lines, docs = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.CLOSED
    assert decl.invt_no and decl.pre_no and decl.released_at and decl.closed_at
    assert docs["list"].status_code == "899" and docs["order"].status_code == "120"

    with db.transaction() as s:
        summaries = service.create_summaries(s, principal=principal_of(exporter), month=_closed_month(decl),
                                             config=CONFIG)
    assert len(summaries) == 1 and summaries[0].due_date.day == 15
    exchange_round(db, folders, sim)
    decl, lines, docs = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.DECLARED
    assert decl.entry_id and len(decl.entry_id) == 18
    assert all(li.entry_id == decl.entry_id and li.gseqno for li in lines)
    with db.transaction(write=False) as s:
        summary = DeclarationRepository(s, principal_of(exporter)).summary(summaries[0].id)
        assert summary.status == SummaryStatus.DECLARED and summary.sum_no and summary.entry_id == decl.entry_id


def test_rejection_then_corrected_resubmission(db, world, exporter, folders, sim):
    decl = create(db, exporter, body_9810(world, note="SIM:REJECT first time"))
    submit(db, exporter, decl.id)
    exchange_round(db, folders, sim)
    decl, _lines, docs = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.NEEDS_ACTION
    assert "退单" in decl.action_reason and docs["list"].status_code == "100"

    with db.transaction() as s:  # the user corrects the declaration and resubmits it
        service.update_declaration(s, principal=principal_of(exporter), declaration_id=decl.id,
                                   data={"lines": [{"sku": "SILK-SCARF-01", "qty": "500", "price": "8.6"}]})
    submit(db, exporter, decl.id)
    exchange_round(db, folders, sim)
    decl, lines, docs = load(db, exporter, decl.id)
    assert decl.revision == 2 and decl.status == DeclarationStatus.CLOSED
    assert docs["list"].app_type == "2" and len(lines) == 1
    with db.transaction(write=False) as s:
        msgs = DeclarationRepository(s, principal_of(exporter)).messages(decl.id)
    lists = [reader.read(m.content) for m in msgs if m.direction == "out" and m.message_type == "CEB603"]
    assert [r.records()[0].fields["appType"] for r in lists] == ["1", "2"]


def _answers(db, exporter, world, folders, sim, **extra):
    decl = create(db, exporter, body_9810(world, **extra))
    submit(db, exporter, decl.id)
    gateway.dispatch(db, folders)
    sim.run_once()
    return decl, sorted(folders.inbox.iterdir())


def test_receipts_twice_and_out_of_order_leave_the_same_state(db, world, exporter, folders, sim, tmp_path):
    decl, files = _answers(db, exporter, world, folders, sim, note="SIM:INSPECT")
    keep = tmp_path / "copies"
    keep.mkdir()
    copies = [shutil.copy(p, keep / p.name) for p in files]
    order = list(files)
    random.Random(7).shuffle(order)
    for path in order:  # one file at a time, in a shuffled order
        with db.transaction() as s:
            inbound.ingest(s, filename=path.name, data=path.read_bytes())
    first, _l, docs = load(db, exporter, decl.id)
    assert first.status == DeclarationStatus.CLOSED and docs["list"].status_code == "899"
    with db.transaction(write=False) as s:
        receipts = s.scalar(select(func.count()).select_from(Receipt))
        audits = s.scalar(select(func.count()).select_from(AuditLog))
    for copy in reversed(copies):  # the same files again, backwards
        with db.transaction() as s:
            assert inbound.ingest(s, filename="again-" + copy.name, data=copy.read_bytes()).outcome == "duplicate"
    again, _l, _d = load(db, exporter, decl.id)
    assert (again.status, again.invt_no, again.closed_at) == (first.status, first.invt_no, first.closed_at)
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Receipt)) == receipts
        assert s.scalar(select(func.count()).select_from(AuditLog)) == audits


def test_a_late_earlier_receipt_does_not_move_the_state_back(db, world, exporter, folders, sim):
    decl, files = _answers(db, exporter, world, folders, sim)
    list_receipts = [p for p in files if p.name.startswith("CEB604")]
    rest = [p for p in files if p not in list_receipts]
    by_status = {reader.read(p.read_bytes()).records()[0].status: p for p in list_receipts}
    for path in [*rest, by_status["800"], by_status["2"], by_status["120"]]:
        with db.transaction() as s:
            inbound.ingest(s, filename=path.name, data=path.read_bytes())
    decl, _l, _d = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.RELEASED  # 2 and 120 came after 800 but are dated before it


def test_cancel_after_audit_sends_ceb605(db, world, exporter, folders, sim):
    decl, _files = _answers(db, exporter, world, folders, sim, note="SIM:HOLD")
    gateway.poll(db, folders)
    decl, _l, _d = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.ACCEPTED and decl.invt_no
    with db.transaction() as s:
        service.cancel_declaration(s, principal=principal_of(exporter), declaration_id=decl.id,
                                   reason="买家取消订单", config=CONFIG)
    decl, _l, _d = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.CANCEL_REQUESTED
    exchange_round(db, folders, sim)
    decl, _l, docs = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.CANCELLED and docs["cancel"].status_code == "399"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb">&lol4;</ceb:CEB604Message>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"><ceb:x>&x;</ceb:x></ceb:CEB604Message>"""


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("broken.xml", b"<ceb:CEB604Message xmlns:ceb='http://www.chinaport.gov.cn/ceb'><oops>", "malformed"),
    ("foreign.xml", b"<Invoice xmlns='urn:oasis:names:specification:ubl'/>", "unknown_root"),
    ("bomb.xml", BOMB, "unsafe"),
    ("xxe.xml", XXE, "unsafe"),
])
def test_hostile_or_unreadable_inbound_files_are_quarantined(db, folders, name, data, kind):
    (folders.inbox / name).write_bytes(data)
    [result] = gateway.poll(db, folders)
    assert result.result.outcome == "quarantined"
    assert (folders.failed / name).exists() and not (folders.inbox / name).exists()
    with db.transaction(write=False) as s:
        item = s.scalar(select(Quarantined).where(Quarantined.filename == name))
        assert item.reason_kind == kind and item.content == data and item.enterprise_id is None
        assert b"root:" not in (item.reason or "").encode()
    (folders.inbox / name).write_bytes(data)  # the same file again: recognised, not stored twice
    [again] = gateway.poll(db, folders)
    assert again.result.outcome == "duplicate"
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Quarantined)) == 1


def test_a_receipt_for_no_known_declaration_is_quarantined_not_dropped(db, folders):
    sample = SAMPLES / "CEB604Message.xml"
    shutil.copy(sample, folders.inbox / "CEB604Message.xml")
    [result] = gateway.poll(db, folders)
    assert result.result.outcome == "quarantined" and "Cop20180507001" in result.result.reason
    with db.transaction(write=False) as s:
        assert s.scalar(select(Quarantined.reason_kind)) == "unmatched"
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_outbox_write_is_atomic_and_dispatch_marks_messages(db, world, exporter, folders):
    decl = create(db, exporter, body_9810(world))
    submit(db, exporter, decl.id)
    assert gateway.dispatch(db, folders) == 3
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.dispatched_at.is_(None))) == 0
        sent = s.scalars(select(Message.dispatched_at)).all()
    assert all(t <= datetime.now(UTC) for t in sent)


def test_summary_groups_by_the_merge_rule_and_a_792_may_overtake_its_702(db, world, exporter, folders, sim):
    decls = [create(db, exporter, body_9810(world, logistics_no=f"SZX20261100{i}", country=c))
             for i, c in enumerate(["US", "US", "DE"])]
    for d in decls:
        submit(db, exporter, d.id)
    exchange_round(db, folders, sim)
    month = _closed_month(load(db, exporter, decls[0].id)[0])
    with db.transaction(write=False) as s:
        groups = service.plan_summaries(s, principal=principal_of(exporter), month=month)
    assert sorted(len(g.declarations) for g in groups) == [1, 2]
    with db.transaction() as s:
        summaries = service.create_summaries(s, principal=principal_of(exporter), month=month, config=CONFIG)
    assert len(summaries) == 2
    with pytest.raises(service.ValidationFailed), db.transaction() as s:  # nothing left to summarise
        service.create_summaries(s, principal=principal_of(exporter), month=month, config=CONFIG)
    gateway.dispatch(db, folders)
    sim.run_once()
    files = sorted(folders.inbox.iterdir(), key=lambda p: not p.name.startswith("CEB792"))  # results first
    for path in files:
        with db.transaction() as s:
            assert inbound.ingest(s, filename=path.name, data=path.read_bytes()).outcome == "applied"
    entry_ids = set()
    for d in decls:
        decl, lines, _docs = load(db, exporter, d.id)
        assert decl.status == DeclarationStatus.DECLARED and all(li.entry_id == decl.entry_id for li in lines)
        entry_ids.add(decl.entry_id)
    assert len(entry_ids) == 2  # one export declaration per summary


def _order_keys(decl) -> dict:
    return {"ebpCode": decl.ebp_code, "ebcCode": decl.ebc_code, "orderNo": decl.order_no}


def test_a_late_processing_error_does_not_reopen_a_departed_list(db, world, exporter, folders, sim):
    decl = create(db, exporter, body_9810(world))
    submit(db, exporter, decl.id)
    exchange_round(db, folders, sim)
    decl = load(db, exporter, decl.id)[0]
    assert decl.status == DeclarationStatus.CLOSED
    late = receipt("CEB304", "OrderReturn", _order_keys(decl), "-301010", "已存在相同编号的订单")
    with db.transaction() as s:
        assert inbound.ingest(s, filename="dup-304.xml", data=late).outcome == "applied"
    decl, _l, docs = load(db, exporter, decl.id)
    assert decl.status == DeclarationStatus.CLOSED and docs["order"].status_code == "120"


def test_receipts_of_a_superseded_submission_no_longer_count(db, world, exporter, folders, sim):
    decl = create(db, exporter, body_9810(world, note="SIM:REJECT"))
    submit(db, exporter, decl.id)
    exchange_round(db, folders, sim)
    rejected_at = load(db, exporter, decl.id)[2]["list"].status_time
    submit(db, exporter, decl.id)  # corrected (appType=2), nothing answered yet
    old = receipt("CEB604", "InventoryReturn", {
        "agentCode": decl.agent_code, "copNo": decl.cop_no, "preNo": "B20261127000000009", "invtNo": "",
        "ebcCode": decl.ebc_code, "ebpCode": decl.ebp_code, "orderNo": decl.order_no, "statisticsFlag": "B"},
        "100", "旧的退单回执", time=rejected_at[:-3] + "000")
    with db.transaction() as s:
        inbound.ingest(s, filename="late-604.xml", data=old)
    assert load(db, exporter, decl.id)[0].status == DeclarationStatus.SUBMITTED
    exchange_round(db, folders, sim)
    assert load(db, exporter, decl.id)[0].status == DeclarationStatus.CLOSED


def test_a_waybill_number_in_use_with_the_same_carrier_is_refused(db, world, exporter):
    first = create(db, exporter, body_9810(world, logistics_no="SAME-WAYBILL-1"))
    submit(db, exporter, first.id)
    add_products(db, world.b)
    body = body_9810(world, logistics_no="SAME-WAYBILL-1", mode="9710", warehouse_id=None, ebp_code="3205966666",
                     ebp_name="丝路跨境B2B平台")
    other = create(db, world.b, body)
    with pytest.raises(service.ValidationFailed) as info:
        submit(db, world.b, other.id)
    assert info.value.errors[0].field == "logistics_no"


def test_a_rejected_summary_gives_its_lists_back(db, world, exporter, folders, sim):
    decl = create(db, exporter, body_9810(world))
    submit(db, exporter, decl.id)
    exchange_round(db, folders, sim)
    month = _closed_month(load(db, exporter, decl.id)[0])
    with db.transaction() as s:
        [summary] = service.create_summaries(s, principal=principal_of(exporter), month=month, config=CONFIG)
    reject_summary(db, summary)
    with db.transaction() as s:
        withdrawn = service.withdraw_summary(s, principal=principal_of(exporter), summary_id=summary.id)
        assert withdrawn.status == SummaryStatus.WITHDRAWN
    assert load(db, exporter, decl.id)[0].summary_id is None
    with db.transaction() as s:
        assert len(service.create_summaries(s, principal=principal_of(exporter), month=month, config=CONFIG)) == 1


def test_an_over_long_identifier_is_quarantined_and_an_early_receipt_can_be_reprocessed(db, world, exporter,
                                                                                          folders):
    decl = create(db, exporter, body_9810(world))
    keys = {"ebpCode": decl.ebp_code, "ebcCode": decl.ebc_code, "orderNo": decl.order_no}
    early = receipt("CEB304", "OrderReturn", keys, "120", "海关入库")
    with db.transaction() as s:  # the declaration has not been submitted: no document carries the key yet
        held = inbound.ingest(s, filename="early-304.xml", data=early)
    assert held.outcome == "quarantined"
    submit(db, exporter, decl.id)
    with db.transaction() as s:
        again = inbound.reprocess_quarantined(s, principal=principal_of(exporter), item_id=held.quarantine_id)
    assert again.outcome == "applied"
    assert load(db, exporter, decl.id)[2]["order"].status_code == "120"
    long_invt = receipt("CEB604", "InventoryReturn", {
        "agentCode": decl.agent_code, "copNo": decl.cop_no, "preNo": "B20261127000000009", "invtNo": "X" * 20,
        "ebcCode": decl.ebc_code, "ebpCode": decl.ebp_code, "orderNo": decl.order_no, "statisticsFlag": "B"},
        "399", "审结")
    bad = long_invt.replace(b"X" * 20, b"X" * 27)  # longer than C..20: not something customs sends
    (folders.inbox / "long.xml").write_bytes(bad)
    [result] = gateway.poll(db, folders)
    assert result.result.outcome == "quarantined" and "invtNo" in result.result.reason
