"""Identifiers that become parts of S3 keys, restricted so a key can never escape its prefix."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

MAX_SAFE_ID_CHARS = 128
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")
_DESCRIPTION = "1-128 of letters, digits, '-', '_', '.'; not '.' and no '..'."


def check_safe_id(value: str) -> str:
    """Letters, digits, `-`, `_`, `.`; at most 128 characters; no `..`; not `.` alone."""
    if not _SAFE_ID.fullmatch(value) or len(value) > MAX_SAFE_ID_CHARS:
        raise ValueError("must be 1-128 characters of letters, digits, '-', '_' or '.'")
    if ".." in value or value == ".":
        raise ValueError("must not be '.' or contain '..'")
    return value


#: The same rules in JSON Schema, with no anchor and no lookahead: `$` differs between regex
#: dialects (Python's and Java's also match before a final newline) and lookahead is outside
#: the portable subset, so each rule is a search for what is forbidden.
SAFE_ID_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_SAFE_ID_CHARS,
    "allOf": [
        {"not": {"pattern": "[^A-Za-z0-9._-]"}},
        {"not": {"pattern": "\\.\\."}},
        {"not": {"const": "."}},
    ],
    "description": _DESCRIPTION,
}

#: A job or batch id: safe to use as one S3 key segment.
SafeId = Annotated[str, AfterValidator(check_safe_id), WithJsonSchema(SAFE_ID_JSON_SCHEMA)]
