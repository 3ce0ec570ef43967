"""Records in and out: the result line and the error line, as models and as the bytes written.

`ResultRecord` and `ErrorRecord` are the published contract (their JSON Schemas are exported);
`result_lines` and `error_line` are the one rule that writes them, used by the worker's result
and errors objects, `scorer serve` and `scorer score`, so every reader gets the same bytes:
compact JSON, keys in the models' order, UTF-8 kept but U+2028/U+2029 escaped
(`schemas.json_text.json_line`), the score rounded to 6 decimals and printed as Python's
`repr` of that float (`0.5`, `1e-06`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.json_text import json_line

MAX_ID_CHARS = 512
SCORE_DECIMALS = 6


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


def _json_string(value: str) -> str:
    """`json_line(value)` for a string, without the call for the usual id: printable ASCII
    needs escapes only for `"` and `\\`."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json_line(value)


def result_lines(
    ids: Sequence[str], scores: Sequence[float], model_version: str, threshold: float
) -> list[str]:
    """`ResultRecord` lines for ids and their scores (P(positive), Python floats), in order.

    Byte for byte `json_line(ResultRecord(...).model_dump())` with the score rounded to
    `SCORE_DECIMALS` and labelled positive from `threshold` up; formatted directly, as
    json.dumps per line was a hot spot of the worker (profiled).
    """
    positive = ',"label":"positive","score":'
    negative = ',"label":"negative","score":'
    tail = f',"model_version":{json_line(model_version)}}}'
    return [
        f'{{"id":{_json_string(record_id)}{positive if score >= threshold else negative}'
        f"{round(score, SCORE_DECIMALS)!r}{tail}"
        for record_id, score in zip(ids, scores, strict=True)
    ]


def error_line(record_id: str | None, error: str, index: int) -> str:
    """One `ErrorRecord` line: the errors file's line, and an entry of `scorer serve`'s errors."""
    return json_line({"id": record_id, "error": error, "index": index})
