"""Text from users (job ids, reasons, error messages) made safe to print on a terminal.

A job id or a DLQ reason comes from whoever sent the message; printed raw, its control
characters could move the cursor, rewrite earlier lines or change the terminal's title.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(value: object, limit: int = 300) -> str:
    """`value` as text with control characters escaped (`\\x1b`, `\\n`), cut at `limit` chars."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _UNSAFE.sub(lambda match: repr(match.group())[1:-1], text)
