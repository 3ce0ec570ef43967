"""The request message: one SQS message body, as producers in any language must write it.

The envelope is validated strictly (unknown fields rejected) because a malformed envelope
means the producer is broken: the whole message goes to the DLQ. Records inside `records`
are deliberately loose (`list[Any]`): each is checked on its own by `check_record`, so one
bad record becomes one line in the errors file instead of losing its whole batch.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.ids import SafeId
from schemas.uris import S3Uri

SCHEMA_VERSION = 1


class InputRef(BaseModel):
    """Bulk input: an S3 object of JSON Lines or CSV (`.gz` keys are decompressed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: S3Uri = Field(description="s3://bucket/key of the object to score.")
    format: Literal["jsonl", "csv"] = Field(description="jsonl: one {id, text} per line; csv.")
    id_field: str = Field(default="id", min_length=1, max_length=256)
    text_field: str = Field(default="text", min_length=1, max_length=256)


class ScoreRequest(BaseModel):
    """One batch of work: inline `records`, or one bulk `input` object (exactly one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(description="Message schema version.")
    job_id: SafeId = Field(description="Groups batches; the first key segment of the output.")
    batch_id: SafeId | None = Field(
        default=None,
        description="Names the output object; derived from the body's content when absent.",
    )
    records: list[Any] | None = Field(
        default=None, description="Inline records: objects with string `id` and `text`."
    )
    input: InputRef | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_an_integer(cls, value: object) -> object:
        if type(value) is not int:  # JSON true or 1.0 must not pass for version 1
            raise ValueError("version must be the integer 1")
        return value

    @field_validator("records")
    @classmethod
    def _records_not_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("records must not be empty")
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ScoreRequest:
        if (self.records is None) == (self.input is None):
            raise ValueError("exactly one of 'records' or 'input' is required")
        return self


def derive_batch_id(body: dict[str, Any]) -> str:
    """A content hash of the body, so a redelivered message without a batch_id keeps its key."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "b-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
