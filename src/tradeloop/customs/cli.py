"""``tradeloop customs read | validate``: look into a customs message file without a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradeloop.customs.ceb import schema
from tradeloop.customs.ceb.catalogue import MESSAGE_TYPES, status_label
from tradeloop.customs.ceb.reader import CebMessage, Record, message_type_of, parse_message, read
from tradeloop.customs.ceb.safe import CebRefused, load

customs_app = typer.Typer(no_args_is_help=True, help="Customs cross-border e-commerce messages (CEB, 202205).")

MessageFile = Annotated[Path, typer.Argument(help="A CEB message or receipt (XML), plain or in a DxpMsg envelope")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _load(path: Path, failure_code: int) -> bytes:
    try:
        return load(path)
    except CebRefused as exc:
        raise _fail(f"refused ({exc.kind}): {exc.message}", failure_code) from exc
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}", failure_code) from exc


@customs_app.command("read")
def read_command(
    file: MessageFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Print the type, key numbers, status and note of each document in a message. Exit 2 if refused."""
    data = _load(file, 2)
    try:
        message = read(data, source=str(file))
    except CebRefused as exc:
        raise _fail(f"refused ({exc.kind}): {exc.message}", 2) from exc
    typer.echo(json.dumps(as_dict(message), ensure_ascii=False, indent=2) if as_json else as_text(message))


@customs_app.command("validate")
def validate_command(file: MessageFile) -> None:
    """Check a message against the official schema: exit 0 when valid, 1 with each error otherwise."""
    data = _load(file, 1)
    try:
        root = parse_message(data, source=str(file))
    except CebRefused as exc:
        raise _fail(f"refused ({exc.kind}): {exc.message}", 1) from exc
    errors = schema.validate(root)
    for error in errors:
        typer.echo(f"line {error.line}: {error.message}")
    if errors:
        raise typer.Exit(1)
    typer.echo(f"valid: {message_type_of(root)}")


def as_dict(message: CebMessage) -> dict:
    return {
        "message_type": message.message_type,
        "guid": message.guid,
        "records": [_record_dict(record) for record in message.records()],
        "deviations": message.deviations,
        "signed": message.signed,
    }


def _record_dict(record: Record) -> dict:
    return {
        "keys": record.keys,
        "status": record.status,
        "status_label": status_label(record.status),
        "note": record.note,
        "time": record.time,
        "lines": record.lines,
    }


def as_text(message: CebMessage) -> str:
    info = MESSAGE_TYPES[message.message_type]
    lines = [f"{message.message_type} {info.name_zh} ({info.name_en})  guid {message.guid}"]
    if message.signed:
        lines.append("signed")
    for number, record in enumerate(message.records(), start=1):
        lines.append(f"\n[{number}] {record.name}")
        lines.extend(f"  {key}: {value}" for key, value in record.keys.items())
        if record.status is not None:
            label = status_label(record.status)
            lines.append(f"  status: {record.status}" + (f" {label}" if label else ""))
        if record.note:
            lines.append(f"  note: {record.note}")
        if record.time:
            lines.append(f"  time: {record.time}")
        lines.extend(
            f"  line {n}: " + ", ".join(f"{key}={value}" for key, value in row.items())
            for n, row in enumerate(record.lines, start=1)
        )
    if message.deviations:
        lines.append("\ndeviations from the schema:")
        lines.extend(f"  {deviation}" for deviation in message.deviations)
    return "\n".join(lines)
