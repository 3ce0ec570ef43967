"""Identifiers that become parts of S3 keys, restricted so a key can never escape its prefix."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

SAFE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"
_SAFE_ID = re.compile(SAFE_ID_PATTERN)


def check_safe_id(value: str) -> str:
    """Letters, digits, `-`, `_`, `.`; at most 128 characters; no `..`; not `.` alone."""
    if not _SAFE_ID.fullmatch(value):
        raise ValueError("must be 1-128 characters of letters, digits, '-', '_' or '.'")
    if ".." in value or value == ".":
        raise ValueError("must not be '.' or contain '..'")
    return value


#: A job or batch id: safe to use as one S3 key segment. The pattern is in the JSON Schema;
#: the `..` rule (no lookahead in JSON Schema's portable regex subset) is in the description.
SafeId = Annotated[
    str,
    Field(
        pattern=SAFE_ID_PATTERN,
        description="1-128 of letters, digits, '-', '_', '.'; must not contain '..'.",
    ),
    AfterValidator(check_safe_id),
]
