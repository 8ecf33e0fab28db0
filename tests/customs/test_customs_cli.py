"""``tradeloop customs read | validate`` on official samples, built messages and hostile files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.customs import ceb_examples as ex
from tests.customs.test_ceb_safety import BILLION_LAUGHS
from tradeloop.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def customs(runner: CliRunner, *args: str):
    return runner.invoke(app, ["customs", *map(str, args)])


class TestRead:
    def test_prints_type_keys_status_and_note(self, runner):
        result = customs(runner, "read", ex.SAMPLES / "CEB604Message.xml")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("CEB604 出口申报清单回执 (export list receipt)")
        assert result.stdout.count("InventoryReturn") == 10
        for text in ["copNo: Cop20180507001", "invtNo: Invt20180507000001", "status: 2 电子口岸申报中 / being declared",
                     "note: 新增申报成功[4CDE1CFD-EDED-46B1-946C-B8022E42FC94]"]:
            assert text in result.stdout

    def test_prints_lines_and_deviations(self, runner):
        result = customs(runner, "read", ex.SAMPLES / "CEB792Message.xml")
        assert result.exit_code == 0, result.output
        row = "line 1: invtNo=Invt20180507000001, logisticsNo=L2018050700001, gnum=1, gcode=8541401000"
        assert row in result.stdout
        assert "deviations from the schema:" in result.stdout
        assert "line 26: Element 'ceb:gnum'" in result.stdout

    def test_json(self, runner, tmp_path):
        path = tmp_path / "CEB604.xml"
        path.write_bytes(ex.built("CEB604"))
        result = customs(runner, "read", path, "--json")
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert set(document) == {"message_type", "guid", "records", "deviations", "signed"}
        assert document["message_type"] == "CEB604"
        assert document["deviations"] == [] and document["signed"] is False
        (record,) = document["records"]
        assert record["keys"]["copNo"] == ex.COP_NO
        assert (record["status"], record["status_label"], record["note"]) == ("800", "放行 / released", "放行")
        assert record["time"] == ex.RETURN_TIME
        assert record["lines"] == []

    def test_bomb_is_refused_with_exit_2(self, runner, tmp_path):
        path = tmp_path / "bomb.xml"
        path.write_bytes(BILLION_LAUGHS)
        result = customs(runner, "read", path)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert "refused (unsafe)" in result.stderr and "DOCTYPE" in result.stderr

    def test_unknown_root_and_missing_file_exit_2(self, runner, tmp_path):
        path = tmp_path / "foo.xml"
        path.write_bytes(b"<foo/>")
        result = customs(runner, "read", path)
        assert (result.exit_code, "refused (unknown_root)" in result.stderr) == (2, True)
        result = customs(runner, "read", tmp_path / "missing.xml")
        assert result.exit_code == 2
        assert "cannot read" in result.stderr


class TestValidate:
    def test_valid_sample(self, runner):
        result = customs(runner, "validate", ex.SAMPLES / "CEB604Message.xml")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == "valid: CEB604"

    def test_invalid_sample_lists_errors_by_line(self, runner):
        result = customs(runner, "validate", ex.SAMPLES / "CEB303Message.xml")
        assert result.exit_code == 1
        assert result.stdout.splitlines() == [
            "line 321: Element 'ceb:BaseTransfer': This element is not expected. "
            "Expected is one of ( ceb:BaseSubscribe, ds:Signature, ceb:ExtendMessage )."
        ]

    def test_unsafe_file_exits_1(self, runner, tmp_path):
        path = tmp_path / "bomb.xml"
        path.write_bytes(BILLION_LAUGHS)
        result = customs(runner, "validate", path)
        assert result.exit_code == 1
        assert "refused (unsafe)" in result.stderr
