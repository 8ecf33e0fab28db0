"""Enveloped RSA-SHA1 test signatures: valid against the schema, verifiable, and broken by any change."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.customs import ceb_examples as ex
from tradeloop.customs.ceb import schema, signing
from tradeloop.customs.ceb.reader import read
from tradeloop.customs.ceb.schema import CEB, DS
from tradeloop.customs.ceb.signing import RsaSha1TestSigner, verify
from tradeloop.customs.ceb.writer import CebInvalid


@pytest.fixture(scope="module")
def signer() -> RsaSha1TestSigner:
    return RsaSha1TestSigner()


@pytest.fixture(scope="module")
def signed(signer) -> bytes:
    return ex.built("CEB603", signer=signer)


def _local_names(root) -> list[str]:
    return [etree.QName(child).localname for child in root]


def test_signed_message_validates_and_verifies(signed):
    assert schema.validate(signed) == []
    assert verify(signed) is True
    message = read(signed)
    assert message.signed is True
    assert message.deviations == []


def test_signature_has_the_spec_shape(signer, signed):
    root = etree.fromstring(signed)
    assert _local_names(root) == ["Inventory", "BaseTransfer", "Signature"]
    signature = root.find(f"{{{DS}}}Signature")
    algorithms = [element.get("Algorithm") for element in signature.iter() if element.get("Algorithm")]
    assert algorithms == [signing.C14N, signing.RSA_SHA1, signing.ENVELOPED, signing.SHA1]
    assert signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference").get("URI") == ""
    assert signature.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}KeyName") == signer.key_name
    assert signature.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert signer.method_uri == signing.RSA_SHA1


@pytest.mark.parametrize(
    ("original", "changed"),
    [(ex.ORDER_NO.encode(), b"AMZ-113-4567890-7654321"), (b"<ceb:qty>2</ceb:qty>", b"<ceb:qty>3</ceb:qty>"),
     ("苏州丝绸服饰有限公司".encode(), "苏州丝绸服装有限公司".encode())],
    ids=["orderNo", "qty", "company name"],
)  # fmt: skip
def test_tampering_one_field_breaks_the_signature(signed, original, changed):
    assert original in signed
    assert verify(signed.replace(original, changed, 1)) is False


def test_tampering_the_signature_breaks_it(signed):
    root = etree.fromstring(signed)
    value = root.find(f"{{{DS}}}Signature/{{{DS}}}SignatureValue")
    value.text = value.text[:10] + ("A" if value.text[10] != "A" else "B") + value.text[11:]
    assert verify(etree.tostring(root)) is False


def test_another_certificate_does_not_verify(signed):
    other = etree.fromstring(ex.built("CEB603", signer=RsaSha1TestSigner()))
    root = etree.fromstring(signed)
    certificate = f"{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    root.find(certificate).text = other.find(certificate).text
    assert verify(etree.tostring(root)) is False


def test_unsigned_and_sm2_messages_do_not_verify():
    assert verify(ex.built("CEB603")) is False
    official = (ex.SAMPLES / "CEB303Message.xml").read_bytes()  # SM2-SM3, made with an E-Port card
    assert signing.SM2_SM3.encode() in official
    assert verify(official) is False


def test_signature_goes_before_extend_message(signer):
    root = etree.fromstring(ex.built("CEB505"))
    extend = etree.SubElement(root, f"{{{CEB}}}ExtendMessage")
    etree.SubElement(extend, f"{{{CEB}}}name").text = "tradeloop"
    etree.SubElement(extend, f"{{{CEB}}}version").text = "1"
    etree.SubElement(extend, f"{{{CEB}}}Message")
    signer.sign(root)
    data = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    assert _local_names(root) == ["Logistics", "BaseTransfer", "Signature", "ExtendMessage"]
    assert schema.validate(data) == []
    assert verify(data) is True


def test_receipts_cannot_be_signed(signer):
    with pytest.raises(CebInvalid, match="Signature"):
        ex.built("CEB604", signer=signer)
