"""Two verdicts on one message: the worker's validation, and a standard JSON Schema validator
(the `jsonschema` package) with the published schema. They must agree on every message."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from schemas.export import JSON_DIR
from schemas.json_text import parse_json
from schemas.messages import MAX_RECORDS_PER_MESSAGE
from worker.processing import PoisonMessage, parse_request


@cache
def request_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((JSON_DIR / "score-request.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def worker_accepts(body: str) -> tuple[bool, str]:
    """The worker's verdict with its default limits, and its reason when it refuses."""
    try:
        parse_request(body, MAX_RECORDS_PER_MESSAGE)
    except PoisonMessage as error:
        return False, str(error)
    return True, ""


def schema_accepts(body: str) -> tuple[bool, str] | None:
    """The JSON Schema's verdict; None when the body is not JSON (no schema applies)."""
    try:
        document: Any = parse_json(body)
    except (ValueError, RecursionError):
        return None
    errors = sorted(request_validator().iter_errors(document), key=lambda e: list(e.path))
    return not errors, "; ".join(error.message[:120] for error in errors[:3])
