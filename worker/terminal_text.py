"""Text from users and queues (job ids, reasons, error messages) made safe to print.

A DLQ message's `job_id` or `reason` is whatever a producer (or an attacker) put there: an
ESC sequence would clear the screen or fake output lines, a newline would fake a line, a
bidi override would reorder one, a lone surrogate would crash `print`. Every human-readable
line the tools print passes such values through `printable`.
"""

from __future__ import annotations


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: object, limit: int = 300) -> str:
    """`str(value)` cut at `limit` characters, with every non-printable character (controls,
    format and separator characters, lone surrogates) written as a Python-style escape."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)
