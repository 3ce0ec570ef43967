"""Records in and out: the input record, the result line and the error line."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ID_CHARS = 512


class ResultRecord(BaseModel):
    """One line of `{job_id}/{batch_id}.jsonl.gz`: exactly these four fields, in input order."""

    model_config = ConfigDict(extra="forbid")

    id: str
    label: Literal["positive", "negative"]
    score: float = Field(ge=0.0, le=1.0, description="P(positive).")
    model_version: str


class ErrorRecord(BaseModel):
    """One line of `{job_id}/_errors/{batch_id}.jsonl.gz`: a record that was not scored."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(description="The record's id when it had a usable one.")
    error: str = Field(description="Why it was not scored.")
    index: int = Field(ge=0, description="0-based position of the record in its input.")
