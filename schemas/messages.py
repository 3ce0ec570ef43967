"""The request message: one SQS message body, as producers in any language must write it.

The envelope is validated strictly (unknown fields rejected) because a malformed envelope
means the producer is broken: the whole message goes to the DLQ. Records inside `records`
are deliberately loose (`list[Any]`): each is checked on its own by the worker's
`RecordChecker` (worker/record_checks.py), so one bad record becomes one line in the errors
file instead of losing its whole batch.

The published JSON Schema (`python -m schemas`) states every one of these rules, so a
producer validating with it gets the worker's verdict (tests/test_schema_parity.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schemas.ids import SAFE_ID_JSON_SCHEMA, SafeId
from schemas.uris import S3Uri

SCHEMA_VERSION = 1
#: Inline records per message at most (the worker's SCORER_MAX_RECORDS_PER_MESSAGE may be lower).
MAX_RECORDS_PER_MESSAGE = 10_000
#: A record's text, in UTF-8 bytes, at most by default (SCORER_MAX_TEXT_BYTES), and the
#: setting's bounds: longer than any real review, short enough to bound a record's memory.
MAX_TEXT_BYTES = 128 * 1024
MIN_TEXT_BYTES_LIMIT, MAX_TEXT_BYTES_LIMIT = 64 * 1024, 1024 * 1024
#: SQS's limit on a message: its body plus every message attribute's name, type and value.
SQS_MAX_MESSAGE_BYTES = 1_048_576
#: Room a producer leaves below the queue's limit, so the worker can always dead-letter the
#: message with its `reason`, `source_message_id` and `source_queue_url` attributes.
DLQ_RESERVE_BYTES = 8 * 1024
#: The largest body (plus the producer's own attributes) a producer should send.
MAX_MESSAGE_BYTES = SQS_MAX_MESSAGE_BYTES - DLQ_RESERVE_BYTES

_RECORDS_JSON_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_RECORDS_PER_MESSAGE,
    "description": "Inline records: objects with an `id` (string or integer) and a string "
    "`text`; each is checked on its own (a bad one becomes a line in the errors file).",
}


def _no_default(schema: dict[str, Any]) -> None:
    """For a field that may be left out but not sent as null: drop the null branch."""
    schema.pop("default", None)
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])


class InputRef(BaseModel):
    """Bulk input: an S3 object of JSON Lines or CSV (gzip, by its magic bytes, is inflated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: S3Uri = Field(description="s3://bucket/key of the object to score.")
    format: Literal["jsonl", "csv"] = Field(description="jsonl: one {id, text} per line; csv.")
    id_field: str = Field(default="id", min_length=1, max_length=256)
    text_field: str = Field(default="text", min_length=1, max_length=256)


class ScoreRequest(BaseModel):
    """One batch of work: inline `records`, or one bulk `input` object (exactly one)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": ["records"]}, {"required": ["input"]}]},
    )

    version: Literal[1] = Field(description="Message schema version.")
    job_id: SafeId = Field(description="Groups batches; the first key segment of the output.")
    batch_id: Annotated[
        SafeId | None,
        WithJsonSchema({"anyOf": [SAFE_ID_JSON_SCHEMA, {"type": "null"}]}),
    ] = Field(
        default=None,
        description="Names the output object; derived from the body's content when absent.",
    )
    # Leave a source out rather than send null: null is refused, so "exactly one of" is the
    # same rule here and in the JSON Schema (where a null property is present).
    records: Annotated[list[Any] | None, WithJsonSchema(_RECORDS_JSON_SCHEMA)] = Field(
        default=None, json_schema_extra=_no_default
    )
    input: InputRef | None = Field(default=None, json_schema_extra=_no_default)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_the_number_one(cls, value: object) -> object:
        # JSON has one number type: 1.0 is 1 (as JSON Schema says); `true` and "1" are not.
        if type(value) is float and value == 1.0:
            return 1
        if type(value) is not int:
            raise ValueError("version must be the number 1")
        return value

    @field_validator("records", "input", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null: leave the field out instead")
        return value

    @field_validator("records")
    @classmethod
    def _records_within_limits(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("records must not be empty")
        if value is not None and len(value) > MAX_RECORDS_PER_MESSAGE:
            raise ValueError(
                f"{len(value)} records is over the limit of {MAX_RECORDS_PER_MESSAGE} per "
                "message: split the batch or use an S3 input"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ScoreRequest:
        if (self.records is None) == (self.input is None):
            raise ValueError("exactly one of 'records' or 'input' is required")
        return self


def derive_batch_id(body: dict[str, Any]) -> str:
    """A content hash of the body, so a redelivered message without a batch_id keeps its key.

    Raises RecursionError for a body nested past the recursion limit: call it where that is
    caught (the worker dead-letters such a body).
    """
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "b-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
