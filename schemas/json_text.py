"""Strict JSON, as the worker reads every message body and every JSON Lines line.

One parser for the worker and the producer tools, so both see the same document: no
NaN/Infinity (nor 1e999), nesting bounded by the recursion limit (the caller catches
`RecursionError`), and integers longer than Python converts (4,300 digits) kept as
`LongInteger` instead of failing the whole document: one record with a 4,301-digit id must
cost one error line, not its batch.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

#: CPython refuses to convert longer digit strings to int (a guard against quadratic time).
_MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300


class LongInteger(str):
    """A JSON integer too long to convert: its digits, kept as text. Never a valid id or text
    (longer than any limit), never equal to a number."""


def _parse_int(digits: str) -> int | LongInteger:
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        return LongInteger(digits)
    return int(digits)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


#: One decoder for every document: `json.loads` with hooks builds a new decoder per call.
_STRICT_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_parse_int
)


def parse_json(text: str) -> Any:
    """Raises ValueError for invalid JSON, RecursionError for nesting past the recursion limit."""
    return _STRICT_DECODER.decode(text)


def json_line(value: Any) -> str:
    """Compact JSON on one line for every reader: UTF-8 kept, but U+2028 and U+2029 escaped
    (valid JSON either way; raw, they end a line for `str.splitlines` and JavaScript)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_LINE_SEPARATORS)


_LINE_SEPARATORS = {0x2028: "\\u2028", 0x2029: "\\u2029"}
