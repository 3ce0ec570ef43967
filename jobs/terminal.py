"""Text from queues and objects, made safe to print on a terminal.

A DLQ message's `job_id` or `reason` is whatever a producer (or an attacker) put there: an
ESC sequence would clear the screen or fake output lines, a newline would fake a line, a
bidi override would reorder one, a lone surrogate would crash `print`. Every human-readable
line the producer tools print passes such values through `printable`.
"""

from __future__ import annotations


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: object) -> str:
    """`str(value)` with every non-printable character (controls, format and separator
    characters, lone surrogates) written as a Python-style escape; None stays `None`."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)
