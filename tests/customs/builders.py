"""Declarations built through the real services, and the exchange round trip against the simulator."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

from tradeloop.catalog import service as catalog
from tradeloop.catalog.schemas import ProductCreate
from tradeloop.customs import gateway, service
from tradeloop.customs.ceb.signing import RsaSha1TestSigner
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.customs.simulator import CustomsSimulator
from tradeloop.kit.tenancy import system_principal

CONFIG = service.ExchangeConfig(dxp_id="DXPENT0000012345", signer=None)
_signer = None


def signed_config() -> service.ExchangeConfig:
    global _signer
    _signer = _signer or RsaSha1TestSigner()
    return replace(CONFIG, signer=_signer)


def principal_of(tenant):
    return replace(system_principal(), enterprise_id=tenant.enterprise.id)


def add_products(db, tenant) -> None:
    with db.transaction() as s:
        p = principal_of(tenant)
        catalog.create_product(s, principal=p, data=ProductCreate(
            sku="SILK-SCARF-01", name_zh="真丝围巾", name_en="Silk scarf", declared_name="围巾",
            declared_elements="0|0|桑蚕丝100%|机织|无品牌", hs_code="6214100090", customs_unit="011",
            unit1="011", unit1_factor=1, gross_weight_kg="0.12", net_weight_kg="0.1", gtin="4006381333931"))
        catalog.create_product(s, principal=p, data=ProductCreate(
            sku="SILK-BLOUSE-02", name_zh="真丝女式衬衫", name_en="Silk blouse", declared_name="女式衬衫",
            declared_elements="0|0|桑蚕丝100%|机织|无品牌", hs_code="6206100011", customs_unit="011",
            unit1="011", unit1_factor=1, unit2="035", unit2_factor="0.2", gross_weight_kg="0.3",
            net_weight_kg="0.2"))


def body_9810(world, **extra) -> dict:
    body = {"mode": "9810", "warehouse_id": str(world.operator.warehouse.id), "logistics_code": "3205980001",
            "logistics_name": "苏州国际货运代理有限公司", "logistics_no": "SZX2026110001",
            "customs_code": "2305", "port_code": "2201", "ie_date": date(2026, 11, 2).isoformat(), "country": "US",
            "pod": "USLA", "traf_mode": "2", "traf_name": "COSCO SHIPPING ARIES", "voyage_no": "045E",
            "bill_no": "COSU6312345670", "currency": "USD", "freight": "0", "insured_fee": "0", "wrap_type": "2",
            "pack_no": 12,
            "lines": [{"sku": "SILK-SCARF-01", "qty": "500", "price": "8.5"},
                      {"sku": "SILK-BLOUSE-02", "qty": "120", "price": "32.40"}]}
    body.update(extra)
    return body


def create(db, tenant, body: dict):
    with db.transaction() as s:
        return service.create_declaration(s, principal=principal_of(tenant), data=body)


def submit(db, tenant, declaration_id, config=CONFIG):
    with db.transaction() as s:
        return service.submit_declaration(s, principal=principal_of(tenant), declaration_id=declaration_id,
                                          config=config)


def load(db, tenant, declaration_id):
    with db.transaction(write=False) as s:
        repo = DeclarationRepository(s, principal_of(tenant))
        decl = repo.get(declaration_id)
        return decl, repo.lines(declaration_id), {d.kind: d for d in repo.documents(declaration_id)}


def exchange_round(db, folders: ExchangeFolders, simulator: CustomsSimulator | None):
    """dispatch → simulator → poll, as the exchange worker does."""
    gateway.dispatch(db, folders)
    if simulator is not None:
        simulator.run_once()
    return gateway.poll(db, folders)


def receipt(message_type: str, entity: str, fields: dict, code: str, info: str, time: str | None = None) -> bytes:
    """A receipt as customs would send it (schema-valid), for the cases the simulator does not play."""
    from datetime import datetime

    from tradeloop.customs.ceb import writer
    from tradeloop.customs.messages import BEIJING, return_time

    when = time or return_time(datetime.now(BEIJING))
    return writer.build(message_type, [{entity: {"guid": str(uuid.uuid4()).upper(), **fields, "returnStatus": code,
                                                 "returnTime": when, "returnInfo": info}}], transfer=None)


def reject_summary(db, summary, info="汇总申请退单：报关单位未备案") -> None:
    """Customs rejects a summary application (CEB702 with 100)."""
    from tradeloop.customs import inbound

    data = receipt("CEB702", "SummaryReturn", {"agentCode": summary.agent_code, "ebcCode": summary.ebc_code,
                                               "copNo": summary.cop_no, "preNo": "B20261127000000001",
                                               "msgSeqNo": 1}, "100", info)
    with db.transaction() as s:
        assert inbound.ingest(s, filename="reject-702.xml", data=data).outcome == "applied"
