"""Collecting field errors so a form or request reports all its problems at once, in zh and en."""

from __future__ import annotations

import re

from tradeloop.kit.errors import FieldError, ValidationFailed


class Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, en: str, zh: str) -> None:
        self.items.append(FieldError(field, en, zh))

    def required(self, field: str, value, label_zh: str) -> bool:
        if value is None or (isinstance(value, str) and not value.strip()):
            self.add(field, "is required", f"{label_zh}为必填项")
            return False
        return True

    def max_len(self, field: str, value: str | None, n: int) -> None:
        if value is not None and len(value) > n:
            self.add(field, f"must be at most {n} characters", f"不能超过{n}个字符")

    def pattern(self, field: str, value: str | None, regex: str, en: str, zh: str) -> None:
        if value and not re.fullmatch(regex, value):
            self.add(field, en, zh)

    def one_of(self, field: str, value, allowed, label_zh: str) -> None:
        allowed = [str(a) for a in allowed]
        if value is not None and str(value) not in allowed:
            self.add(field, f"must be one of {', '.join(allowed)}",
                     f"{label_zh}必须是以下之一：{'、'.join(allowed)}")

    def raise_if_any(self, detail: str = "The input has invalid fields.", zh: str = "输入有误，请检查各字段") -> None:
        if self.items:
            raise ValidationFailed(detail, errors=self.items, message_zh=zh)


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None
