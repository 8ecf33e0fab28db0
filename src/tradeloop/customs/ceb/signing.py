"""Enveloped XML signatures of customs messages (domain.md §2.3, spec §6).

A signer inserts one ``ds:Signature`` as a child of the message root, where the schema puts it (after
BaseTransfer/BaseSubscribe, before ExtendMessage): W3C XML-DSig, canonicalization C14N 20010315,
``Reference URI=""`` with the enveloped-signature transform, and ``KeyInfo`` holding the certificate
number (``KeyName``) and the X.509 certificate.

Production signing is SM2/SM3 (SignatureMethod ``http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3``,
DigestMethod ``http://www.chinaport.gov.cn/2022/04/xmldsig#sm3``) with the key on the enterprise's
E-Port card (IC卡/UKey), driven through the E-Port client; it is a plug-in of the same :class:`Signer`
protocol and is not implemented here. :class:`RsaSha1TestSigner` uses the alternative the spec allows
(RSA-SHA1) with a throw-away key and self-signed certificate made at construction: it makes signed
messages for tests and the customs simulator, never for the real gateway.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from tradeloop.customs.ceb.safe import parse
from tradeloop.customs.ceb.schema import CEB, DS

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"


class Signer(Protocol):
    method_uri: str

    def sign(self, root: etree._Element) -> None:
        """Insert an enveloped ``ds:Signature`` into the message ``root``."""


def _ds(path: str) -> str:
    return "/".join(f"{{{DS}}}{step}" for step in path.split("/"))


class RsaSha1TestSigner:
    """Real XML-DSig with RSA-SHA1 and a throw-away self-signed certificate; for tests only."""

    method_uri = RSA_SHA1
    digest_uri = SHA1

    def __init__(self, common_name: str = "tradeloop test signer (not for customs)"):
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate = _self_signed(self._key, common_name)
        self.key_name = format(self.certificate.serial_number, "x")

    def sign(self, root: etree._Element) -> None:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        signature = _skeleton(self.method_uri, self.digest_uri, self.key_name, _b64(der))
        _insert(root, signature)
        signature.find(_ds("SignedInfo/Reference/DigestValue")).text = _b64(_digest(root))
        signed_info = etree.tostring(signature.find(_ds("SignedInfo")), method="c14n", with_comments=False)
        value = self._key.sign(signed_info, padding.PKCS1v15(), hashes.SHA1())
        signature.find(_ds("SignatureValue")).text = _b64(value)


def verify(data: bytes) -> bool:
    """True when the message's RSA-SHA1 signature matches its content and its embedded certificate.

    Only integrity is checked: the certificate is not checked against any trust chain. A message with
    no signature, another algorithm (e.g. SM2) or a broken signature gives False; an unsafe or
    malformed document raises :class:`~tradeloop.customs.ceb.safe.CebRefused`.
    """
    root = parse(data)
    signature = root.find(f"{{{DS}}}Signature")
    if signature is None:
        return False
    try:
        return _expected_algorithms(signature) and _digest_matches(root, signature) and _value_matches(signature)
    except ValueError:
        return False


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


def _skeleton(method_uri: str, digest_uri: str, key_name: str, certificate_b64: str) -> etree._Element:
    signature = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=method_uri)
    reference = etree.SubElement(signed_info, _ds("Reference"), URI="")
    transforms = etree.SubElement(reference, _ds("Transforms"))
    etree.SubElement(transforms, _ds("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(reference, _ds("DigestMethod"), Algorithm=digest_uri)
    etree.SubElement(reference, _ds("DigestValue"))
    etree.SubElement(signature, _ds("SignatureValue"))
    key_info = etree.SubElement(signature, _ds("KeyInfo"))
    etree.SubElement(key_info, _ds("KeyName")).text = key_name
    x509_data = etree.SubElement(key_info, _ds("X509Data"))
    etree.SubElement(x509_data, _ds("X509Certificate")).text = certificate_b64
    return signature


def _insert(root: etree._Element, signature: etree._Element) -> None:
    """Put the signature before ExtendMessage (or last), formatted like the document around it."""
    anchor = root.find(f"{{{CEB}}}ExtendMessage")
    index = root.index(anchor) if anchor is not None else len(root)
    root.insert(index, signature)
    unit = (root.text or "").lstrip("\r\n")
    if unit and unit.isspace():
        etree.indent(signature, space=unit, level=1)
    previous = signature.getprevious()
    if previous is not None:
        signature.tail, previous.tail = previous.tail, root.text


def _digest(root: etree._Element) -> bytes:
    """SHA-1 of the document with the signature taken out (enveloped transform), canonicalized."""
    document = copy.deepcopy(root.getroottree())
    _remove_keeping_tail(document.getroot().find(f"{{{DS}}}Signature"))
    return hashlib.sha1(etree.tostring(document, method="c14n", with_comments=False)).digest()


def _remove_keeping_tail(element: etree._Element) -> None:
    """Remove ``element``; the text after it stays, as the XPath transform keeps that text node."""
    parent, previous, tail = element.getparent(), element.getprevious(), element.tail or ""
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


def _expected_algorithms(signature: etree._Element) -> bool:
    references = signature.findall(_ds("SignedInfo/Reference"))
    transforms = [t.get("Algorithm") for t in signature.iterfind(_ds("SignedInfo/Reference/Transforms/Transform"))]
    return (
        _algorithm(signature, "SignedInfo/CanonicalizationMethod") == C14N
        and _algorithm(signature, "SignedInfo/SignatureMethod") == RSA_SHA1
        and len(references) == 1
        and references[0].get("URI") == ""
        and ENVELOPED in transforms
        and set(transforms) <= {ENVELOPED, C14N}
        and _algorithm(signature, "SignedInfo/Reference/DigestMethod") == SHA1
    )


def _digest_matches(root: etree._Element, signature: etree._Element) -> bool:
    return _decoded(signature, "SignedInfo/Reference/DigestValue") == _digest(root)


def _value_matches(signature: etree._Element) -> bool:
    certificate = x509.load_der_x509_certificate(_decoded(signature, "KeyInfo/X509Data/X509Certificate"))
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    signed_info = etree.tostring(signature.find(_ds("SignedInfo")), method="c14n", with_comments=False)
    try:
        public_key.verify(_decoded(signature, "SignatureValue"), signed_info, padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        return False
    return True


def _algorithm(signature: etree._Element, path: str) -> str | None:
    element = signature.find(_ds(path))
    return None if element is None else element.get("Algorithm")


def _decoded(signature: etree._Element, path: str) -> bytes:
    """Base64 content of a signature element; ValueError when missing or not Base64."""
    element = signature.find(_ds(path))
    if element is None or not element.text:
        raise ValueError(f"signature has no {path}")
    return base64.b64decode("".join(element.text.split()), validate=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
