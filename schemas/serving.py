"""The synchronous API of `scorer serve`: `POST /v1/score` in and out.

The envelope is strict (unknown fields are a 422), the records inside it are loose
(`list[Any]`), exactly as in a queue message: each record is checked on its own by the worker's
`RecordChecker`, so one bad record becomes one entry of `errors` and the rest are scored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.records import ErrorRecord, ResultRecord

#: Records one request may carry. Larger batches belong on the queue (`scorer submit`).
MAX_RECORDS_PER_REQUEST = 1000


class ServeRequest(BaseModel):
    """The body of `POST /v1/score`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    records: list[Any] = Field(
        min_length=1,
        max_length=MAX_RECORDS_PER_REQUEST,
        description=(
            "Records to score: objects with `id` (string; integers are accepted) and `text`, "
            "checked as the records of a queue message are."
        ),
    )


class ServeResponse(BaseModel):
    """The 200 answer: every record of the request is in `results` or in `errors`."""

    model_config = ConfigDict(extra="forbid")

    results: list[ResultRecord] = Field(
        description="The scored records, in request order: the result lines of the S3 files."
    )
    errors: list[ErrorRecord] = Field(
        description="The records that were not scored, with why; `index` is their position."
    )


class ServeProblem(BaseModel):
    """Any answer other than 200: what was wrong with the request, or why it was refused."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="What is wrong, in words a caller can act on.")
