"""The client side's configuration: the worker's `SCORER_` variables plus a few of its own.

Producers and the worker read the same names (`SCORER_QUEUE_URL`, `SCORER_OUTPUT_URI`,
`SCORER_MODEL_URI`, `SCORER_DLQ_URL`), so one environment file serves both. Command-line
flags override the environment; each command checks only what it needs (`require`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from schemas.messages import MAX_RECORDS_PER_MESSAGE, MAX_TEXT_BYTES
from schemas.uris import S3Location, S3Uri, parse_s3_uri
from worker.errors import ConfigError
from worker.settings import (
    DEFAULT_MODEL_DIR,
    ENV_PREFIX,
    ScorerSettings,
    TextLimit,
    check_queue_url,
    load_settings,
    or_old_name,
)

#: SQS's maximum message size (1 MiB since 2025); a queue may be configured lower.
SQS_MAX_MESSAGE_BYTES = 1_048_576


class JobSettings(ScorerSettings):
    """Everything `submit`, `status`, `backfill` and `dlq` may need; all optional here."""

    queue_url: str | None = None
    """The worker's SQS queue."""
    dlq_url: str | None = None
    """Dead-letter queue; default: the queue's redrive policy."""
    output_uri: S3Uri | None = None
    """s3://bucket/prefix the worker writes results under."""
    staging_uri: S3Uri | None = None
    """Where oversize batches are uploaded; default {output}/{job_id}/_staging."""
    model_uri: str = str(DEFAULT_MODEL_DIR)
    """The model folder or s3:// prefix; backfill reads its model.json version."""
    max_message_bytes: int = Field(default=SQS_MAX_MESSAGE_BYTES, ge=1024, le=SQS_MAX_MESSAGE_BYTES)
    """A batch whose message body would pass this goes through S3 staging."""
    submit_records_per_message: int = Field(
        default=1000,
        ge=1,
        le=MAX_RECORDS_PER_MESSAGE,  # the worker's default limit: inline batches never pass it
        validation_alias=or_old_name("submit_records_per_message"),
    )
    """Records `submit` puts in each batch (one message, one results object)."""
    max_text_bytes: TextLimit = MAX_TEXT_BYTES
    """The worker's text limit, so submit warns about what it will reject."""

    @field_validator("queue_url", "dlq_url")
    @classmethod
    def _is_url(cls, value: str | None) -> str | None:
        return None if value is None else check_queue_url(value)

    @property
    def output(self) -> S3Location:
        return parse_s3_uri(require(self, "output_uri", "--output-uri"))


def load_job_settings(**flags: Any) -> JobSettings:
    """Environment first, then any flag given on the command line (None means not given)."""
    return load_settings(JobSettings, **{k: v for k, v in flags.items() if v is not None})


def require(settings: JobSettings, name: str, flag: str) -> Any:
    """The value of a setting this command cannot do without, or exit naming both sources."""
    value = getattr(settings, name)
    if value is None:
        raise ConfigError(f"missing configuration: set {ENV_PREFIX}{name.upper()} or pass {flag}")
    return value
