"""Hostile and broken input is refused with the right kind, and nothing in it is ever expanded."""

from __future__ import annotations

import base64
import time

import pytest

from tests.customs import ceb_examples as ex
from tradeloop.customs.ceb import safe
from tradeloop.customs.ceb.reader import read
from tradeloop.customs.ceb.safe import CebRefused, parse

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">
 <ceb:InventoryReturn><ceb:returnInfo>&lol9;</ceb:returnInfo></ceb:InventoryReturn>
</ceb:CEB604Message>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0">
 <ceb:InventoryReturn><ceb:returnInfo>&xxe;</ceb:returnInfo></ceb:InventoryReturn>
</ceb:CEB604Message>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!-- a comment and a processing instruction may come first -->
<?something else?>
<!DOCTYPE ceb:CEB604Message SYSTEM "http://127.0.0.1:9/ceb.dtd">
<ceb:CEB604Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0"/>"""
HOSTILE = {"billion laughs": BILLION_LAUGHS, "external entity": EXTERNAL_ENTITY, "external DTD": EXTERNAL_DTD}


def refused(data: bytes, **kwargs) -> CebRefused:
    with pytest.raises(CebRefused) as exc:
        read(data, **kwargs)
    return exc.value


def dxp(inner: bytes) -> bytes:
    return envelope(base64.encodebytes(inner).decode("ascii"))  # wrapped at 76 characters, as clients often do


def envelope(data: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<DxpMsg xmlns="http://www.chinaport.gov.cn/dxp" ver="1.0">
  <TransInfo>
    <CopMsgId>3F2A9C1E-7B4D-4E21-9A0C-5D6E7F8A9B01</CopMsgId>
    <SenderId>DXPEDCCEB0000003</SenderId>
    <ReceiverIds><ReceiverId>DXPENT0000012345</ReceiverId></ReceiverIds>
    <CreatTime>2025-03-10T09:35:12</CreatTime>
    <MsgType>CEB604Message</MsgType>
  </TransInfo>
  <Data>{data}</Data>
</DxpMsg>""".encode()


class TestHostile:
    @pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
    def test_documents_with_a_doctype_are_refused_before_parsing(self, data):
        started = time.monotonic()
        error = refused(data, source="inbox/hostile.xml")
        assert error.kind == "unsafe"
        assert error.message.startswith("inbox/hostile.xml: ")
        assert "DOCTYPE" in error.message
        assert time.monotonic() - started < 5  # generous: an expansion would take far longer, or never end

    def test_external_entity_contents_never_appear(self):
        error = refused(EXTERNAL_ENTITY)
        assert "root:" not in str(error)

    def test_doctype_in_utf16_is_caught_after_the_locked_down_parse(self):
        data = EXTERNAL_ENTITY.replace(b'version="1.0"?>', b'version="1.0" encoding="UTF-16"?>', 1)
        error = refused(data.decode().encode("utf-16"))
        assert error.kind == "unsafe"

    def test_bomb_inside_a_dxp_envelope_is_refused_too(self):
        assert refused(dxp(BILLION_LAUGHS)).kind == "unsafe"

    def test_the_safe_parser_itself_refuses(self):
        with pytest.raises(CebRefused) as exc:
            parse(EXTERNAL_ENTITY)
        assert exc.value.kind == "unsafe"


class TestBroken:
    @pytest.mark.parametrize(
        ("data", "where"),
        [(b"", "line 1"), (b"<ceb:CEB604Message", "line 1"), (b"<a>\n<b></a>", "line 2"), (b"not xml", "line 1")],
    )
    def test_malformed(self, data, where):
        error = refused(data)
        assert error.kind == "malformed"
        assert where in error.message

    @pytest.mark.parametrize(
        "data",
        [
            b"<foo/>",
            b'<ceb:CEB311Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x" version="1.0"/>',
            b'<CEB604Message xmlns="urn:not-customs" guid="x" version="1.0"/>',
            b'<ceb:CEB604Receipt xmlns:ceb="http://www.chinaport.gov.cn/ceb"/>',
        ],
        ids=["foo", "import order CEB311", "wrong namespace", "wrong name"],
    )
    def test_unknown_root(self, data):
        assert refused(data).kind == "unknown_root"

    def test_too_large(self, monkeypatch, tmp_path):
        data = ex.built("CEB604")
        monkeypatch.setattr(safe, "MAX_BYTES", len(data) - 1)
        assert refused(data).kind == "too_large"
        path = tmp_path / "big.xml"
        path.write_bytes(data)
        with pytest.raises(CebRefused) as exc:
            safe.load(path)
        assert exc.value.kind == "too_large"

    def test_the_real_limit_is_twenty_megabytes(self):
        assert safe.MAX_BYTES == 20 * 1024 * 1024
        assert refused(b" " * (safe.MAX_BYTES + 1)).kind == "too_large"


class TestTolerated:
    def test_utf8_bom(self):
        data = ex.built("CEB604")
        assert read(b"\xef\xbb\xbf" + data).records()[0].keys["copNo"] == ex.COP_NO
        assert (ex.SAMPLES / "CEB604Message.xml").read_bytes().startswith(b"\xef\xbb\xbf")

    def test_dxp_envelope_is_unwrapped(self):
        inner = ex.built("CEB604")
        message = read(dxp(inner))
        assert message.message_type == "CEB604"
        assert message.raw == inner
        assert message.records()[0].status == "800"

    def test_dxp_envelope_with_broken_data(self):
        assert "not Base64" in refused(envelope("@@not base64@@")).message
        assert "without Data" in refused(envelope("  ")).message
        assert refused(dxp(b"<foo/>")).kind == "unknown_root"
        assert refused(dxp(dxp(ex.built("CEB604")))).kind == "unknown_root"  # one envelope, not nested ones
        assert refused(b'<DxpRep xmlns="http://www.chinaport.gov.cn/dxp"/>').kind == "unknown_root"
