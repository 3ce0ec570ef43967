"""The worker's configuration: environment variables with the `SCORER_` prefix.

Every knob and its default is here, in one typed object. A missing or invalid value stops the
process at start with a message naming the variable (see `load_settings`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.messages import (
    MAX_RECORDS_PER_MESSAGE,
    MAX_TEXT_BYTES,
    MAX_TEXT_BYTES_LIMIT,
    MIN_TEXT_BYTES_LIMIT,
)
from schemas.uris import S3Uri
from worker.errors import ConfigError, setting_value

ENV_PREFIX = "SCORER_"
SettingsT = TypeVar("SettingsT", bound=BaseSettings)
#: Variables renamed so that "batch" means one thing (a message's records), still read under
#: their old name with a warning: old name -> new name.
RENAMED_VARIABLES = {
    "SCORER_BATCH_SIZE": "SCORER_TEXTS_PER_MODEL_CALL",
    "SCORER_SUBMIT_BATCH_SIZE": "SCORER_SUBMIT_RECORDS_PER_MESSAGE",
}
log = logging.getLogger(__name__)
_warned_renamed: set[str] = set()
#: The shipped default model, as laid out in a source checkout or an image (`/app/models`).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"


def default_worker_threads() -> int:
    """One scoring thread per core the task is given (the affinity mask, not the host)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def env_name(field: str) -> str:
    """The environment variable a settings field is read from: `SCORER_` + its upper-case name."""
    return f"{ENV_PREFIX}{field.upper()}"


def or_old_name(field: str) -> AliasChoices:
    """Read `field` from its variable or, failing that, from the old name it had."""
    new = env_name(field)
    return AliasChoices(new, *(old for old, name in RENAMED_VARIABLES.items() if name == new))


class ScorerSettings(BaseSettings):
    """`SCORER_` variables; unknown ones are ignored, renamed ones warn once (see `or_old_name`)."""

    # populate_by_name: a field with an alias still takes its own name as a keyword (overrides).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _warn_old_names(cls, data: Any) -> Any:
        set_names = {name.upper() for name in os.environ}
        for field in cls.model_fields.values():
            if not isinstance(field.validation_alias, AliasChoices):
                continue
            new, *olds = map(str, field.validation_alias.choices)
            for old in olds:
                if old in set_names and old not in _warned_renamed:
                    _warned_renamed.add(old)
                    used = "ignored: it is set too" if new in set_names else "still read for now"
                    log.warning("%s is deprecated, renamed %s (%s)", old, new, used)
        return data


class ModelSettings(ScorerSettings):
    """What `scorer score` needs: just the model."""

    model_uri: str = Field(
        default=str(DEFAULT_MODEL_DIR),
        description="Local SavedModel folder, or s3:// prefix holding one (with model.json).",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where an s3:// model is downloaded to (default: a temporary folder).",
    )
    texts_per_model_call: int = Field(
        default=256,
        ge=1,
        le=8192,
        validation_alias=or_old_name("texts_per_model_call"),
        description="Texts per call of the model (its tensor's first dimension).",
    )
    scoring_threads: int = Field(
        default_factory=default_worker_threads,
        ge=1,
        le=64,
        description="Concurrent model calls (default: the CPUs this task may use).",
    )
    max_text_bytes: int = Field(
        default=MAX_TEXT_BYTES,
        ge=MIN_TEXT_BYTES_LIMIT,
        le=MAX_TEXT_BYTES_LIMIT,
        description="Longer texts (UTF-8 bytes) are rejected to the errors file.",
    )


class WorkerSettings(ModelSettings):
    """Everything `scorer work` needs."""

    queue_url: str = Field(description="URL of the SQS queue to consume.")
    output_uri: S3Uri = Field(description="s3://bucket/prefix under which results are written.")
    allowed_input_uris: Annotated[list[S3Uri], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated s3:// prefixes the worker may read bulk input from.",
    )
    dlq_url: str | None = Field(
        default=None,
        description="Dead-letter queue URL; default: the one the queue's redrive policy names.",
    )
    health_port: int = Field(default=8080, ge=0, le=65535, description="Port of /healthz.")
    health_host: str = Field(default="0.0.0.0", description="Address the health server binds.")
    # A stop waits for the receive under way (a message SQS hands to a poll nobody reads would
    # stay invisible for the whole visibility timeout), so this wait is also how long an idle
    # worker takes to stop: 5 s fits in `docker stop`'s 10 s; 20 s would not. It costs nothing
    # in latency (a long poll returns as soon as a message arrives), only 12 empty receives a
    # minute per idle worker instead of 3.
    wait_time_seconds: int = Field(
        default=5,
        ge=0,
        le=20,
        description="SQS long-poll wait per receive; also how long an idle worker takes to stop.",
    )
    visibility_timeout: int = Field(
        default=120,
        ge=1,
        le=43200,
        description="Seconds a received message stays invisible; the heartbeat renews it.",
    )
    heartbeat_fraction: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Extend visibility once this fraction of the timeout has passed.",
    )
    max_in_flight: int = Field(
        default=32, ge=1, le=1000, description="Messages received and not yet finished."
    )
    max_records_per_message: int = Field(
        default=MAX_RECORDS_PER_MESSAGE,
        ge=1,
        le=MAX_RECORDS_PER_MESSAGE,
        description="Inline records above this send the message to the DLQ.",
    )
    max_records_per_input: int = Field(
        default=5_000_000,
        ge=1,
        description="Lines (blank ones included) or records read from one S3 input at most.",
    )
    max_input_bytes: int = Field(
        default=2 * 1024**3,
        ge=1,
        description="Decompressed bytes read from one S3 input at most (gzip-bomb guard).",
    )
    retry_delay_seconds: int = Field(
        default=10,
        ge=0,
        le=43200,
        description="Visibility set after a transient failure, before the message is retried.",
    )
    drain_timeout: float = Field(
        default=25.0,
        gt=0,
        le=115,
        description="Seconds SIGTERM waits for in-flight messages before releasing them.",
    )
    part_size_bytes: int = Field(
        default=8 * 1024**2,
        ge=5 * 1024**2,
        description="Multipart upload part size for large result objects.",
    )
    exit_when_idle: bool = Field(
        default=False,
        description="Exit 0 once the queue is empty and nothing is in flight (batch runs).",
    )
    metrics_namespace: str = Field(default="Scorer", description="CloudWatch EMF namespace.")

    @field_validator("allowed_input_uris", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("queue_url")
    @classmethod
    def _queue_url_is_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an SQS queue URL (https://sqs.REGION.amazonaws.com/...)")
        return value


class ServeSettings(ModelSettings):
    """Everything `scorer serve` needs: the model, the address, and the request limits."""

    serve_host: str = Field(default="0.0.0.0", description="Address `scorer serve` binds.")
    serve_port: int = Field(default=8000, ge=0, le=65535, description="Port of `scorer serve`.")
    serve_max_body_bytes: int = Field(
        default=8 * 1024**2,
        ge=1024,
        description="Request bodies larger than this are refused with 413.",
    )
    serve_max_connections: int = Field(
        default=1000,
        ge=1,
        description="Open connections at most; past it the server answers 503 at once.",
    )
    serve_drain_timeout: float = Field(
        default=25.0,
        gt=0,
        le=115,
        description="Seconds SIGTERM waits for in-flight requests to be answered.",
    )
    # The same record rule, variable and default as the worker's (defined once, there).
    max_text_bytes: int = WorkerSettings.model_fields["max_text_bytes"]  # type: ignore[assignment]


def load_settings(cls: type[SettingsT], **overrides: object) -> SettingsT:
    """Build settings; a validation error becomes a ConfigError, one line per variable."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        raise ConfigError("\n".join(describe_problems(error))) from None


def describe_problems(error: ValidationError) -> list[str]:
    """`invalid configuration: SCORER_X='value': what is wrong`, one line per problem."""
    lines = []
    for problem in error.errors():
        name = variable_in_error(str(problem["loc"][0]) if problem["loc"] else "?")
        if problem["type"] == "missing":
            lines.append(f"invalid configuration: {name} is not set (required)")
            continue
        value = problem.get("input")
        shown = setting_value(name, value) if isinstance(value, str | int | float) else name
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"invalid configuration: {shown}: {message}")
    return lines


def variable_in_error(location: str) -> str:
    """The variable a problem is about: a field's, an alias's, or the old name the user set."""
    name = location.upper() if location.upper().startswith(ENV_PREFIX) else env_name(location)
    set_names = {variable.upper() for variable in os.environ}
    old = [old for old, new in RENAMED_VARIABLES.items() if new == name and old in set_names]
    return old[0] if old and name not in set_names else name


__all__ = [
    "DEFAULT_MODEL_DIR",
    "RENAMED_VARIABLES",
    "ModelSettings",
    "S3Uri",
    "ScorerSettings",
    "ServeSettings",
    "WorkerSettings",
    "load_settings",
]
