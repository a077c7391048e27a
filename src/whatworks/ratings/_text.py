"""Formatting numbers for plain-English explanations (natural scale for ratios, Unicode minus)."""

from __future__ import annotations

import math

MINUS = "\u2212"


def number(x: float, *, ratio: bool = False) -> str:
    """Two decimals (two significant figures below 0.01); ratios back on the natural scale."""
    if ratio:
        x = math.exp(x)
    if x != 0 and abs(x) < 0.01:
        text = f"{x:.2g}"
    else:
        text = f"{x:.2f}"
    if text.startswith("-"):
        text = MINUS + text[1:] if text.strip("-0.") else text[1:]
    return text


def interval(lo: float, hi: float, *, ratio: bool = False) -> str:
    """"0.48 to 0.76" (ratios on the natural scale)."""
    return f"{number(lo, ratio=ratio)} to {number(hi, ratio=ratio)}"


def count(n: int) -> str:
    """Thousands separators: 3400 -> "3,400"."""
    return f"{n:,}"


#: The singular of each outcome framework's unit (``Outcome.unit``) for counts of one.
SINGULAR = {"children": "child", "families": "family", "social workers": "social worker",
            "young people": "young person", "parents": "parent", "carers": "carer",
            "participants": "participant", "people": "person"}


def people(n: int, unit: str) -> str:
    """A count of participants in the outcome's unit: "3,400 children", "1 child"."""
    return f"1 {SINGULAR.get(unit, unit)}" if n == 1 else f"{count(n)} {unit}"


def studies(k: int) -> str:
    return f"{k} study" if k == 1 else f"{k} studies"


def percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def level(value: int | None) -> str:
    """An effectiveness value as printed: "+2", "0", "−1"; "none" for no evidence."""
    if value is None:
        return "none"
    if value > 0:
        return f"+{value}"
    if value < 0:
        return f"{MINUS}{-value}"
    return "0"


def pct_level(level_pct: float) -> str:
    """A confidence level as printed: 95 -> "95%"."""
    return f"{level_pct:g}%"
