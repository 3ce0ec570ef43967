"""The job manifest: what a submit or backfill enqueued, so `status` can tell what is left."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import SafeId


class ManifestBatch(BaseModel):
    """One message of the job and the result object it will produce."""

    model_config = ConfigDict(extra="forbid")

    batch_id: SafeId
    records: int = Field(ge=0, description="Records in the batch (0 when unknown in advance).")
    source: str = Field(description="'inline', or the s3:// URI of the batch's input object.")
    input_etag: str | None = Field(
        default=None,
        description=(
            "For inputs already in S3 (backfills): the ETag the batch was enqueued for; a "
            "results object counts for this job only when its `input-etag` metadata matches."
        ),
    )


class JobManifest(BaseModel):
    """Written to `{output}/{job_id}/_manifest.json` before the job's messages are sent."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    job_id: SafeId
    created: datetime
    kind: Literal["submit", "backfill"]
    input: str = Field(description="The file, object or prefix the job was made from.")
    batches: list[ManifestBatch]
    total_records: int = Field(ge=0)
    model_version: str | None = Field(
        default=None, description="For backfills: the model version the job rescored for."
    )
