"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-character set (digits and capitals without I, O, Z, S, V): registration
authority (1), organisation type (1), administrative division (6 digits), organisation code (9),
check character (1). Check: weights 3^(i-1) mod 31 for positions 1-17;
C18 = 31 - (sum of value x weight mod 31), where 31 becomes 0.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUES = {ch: i for i, ch in enumerate(CHARSET)}


def check_character(first17: str) -> str:
    total = sum(_VALUES[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> tuple[str, str] | None:
    """None when valid, else (English, Chinese) reasons."""
    if len(code) != 18:
        return ("must be 18 characters", "必须为18位")
    bad = sorted({ch for ch in code if ch not in _VALUES})
    if bad:
        return (
            f"contains characters not allowed in a USCC: {''.join(bad)} (I, O, Z, S, V are never used)",
            f"含有不允许的字符：{''.join(bad)}（不使用 I、O、Z、S、V）",
        )
    if not code[2:8].isdigit():
        return ("characters 3-8 must be the 6-digit administrative division code",
                "第3-8位应为6位行政区划码")
    expected = check_character(code[:17])
    if code[17] != expected:
        return (f"check character is wrong: expected {expected}, got {code[17]}",
                f"校验码错误：应为 {expected}，实际为 {code[17]}")
    return None


def normalise(code: str) -> str:
    return code.strip().upper()


def is_valid(code: str) -> bool:
    return uscc_problem(normalise(code)) is None
