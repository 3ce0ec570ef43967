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
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True, use_attribute_docstrings=True
    )

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


#: A count of at least one (records, lines, bytes, connections).
Positive = Annotated[int, Field(ge=1)]
#: A TCP port; 0 lets the system pick a free one (tests).
Port = Annotated[int, Field(ge=0, le=65535)]
#: Seconds SQS accepts as a visibility timeout (0 to 12 hours).
VisibilitySeconds = Annotated[int, Field(ge=0, le=43200)]
#: How long SIGTERM waits for work in flight: under Fargate's 120 s stopTimeout, with room to exit.
DrainSeconds = Annotated[float, Field(gt=0, le=115)]
#: The text limit (UTF-8 bytes) within the bounds the record caps are derived for.
TextLimit = Annotated[int, Field(ge=MIN_TEXT_BYTES_LIMIT, le=MAX_TEXT_BYTES_LIMIT)]


class ModelSettings(ScorerSettings):
    """What `scorer score` needs: just the model.

    Each field's docstring is its description (`use_attribute_docstrings`).
    """

    model_uri: str = str(DEFAULT_MODEL_DIR)
    """Local SavedModel folder, or s3:// prefix holding one (with model.json)."""
    model_cache_dir: Path | None = None
    """Where an s3:// model is downloaded to (default: a temporary folder)."""
    texts_per_model_call: int = Field(
        default=256, ge=1, le=8192, validation_alias=or_old_name("texts_per_model_call")
    )
    """Texts per call of the model (its tensor's first dimension)."""
    scoring_threads: int = Field(default_factory=default_worker_threads, ge=1, le=64)
    """Concurrent model calls (default: the CPUs this task may use)."""
    max_text_bytes: TextLimit = MAX_TEXT_BYTES
    """Longer texts (UTF-8 bytes) are rejected to the errors file."""


class WorkerSettings(ModelSettings):
    """Everything `scorer work` needs."""

    queue_url: str
    """URL of the SQS queue to consume."""
    output_uri: S3Uri
    """s3://bucket/prefix under which results are written."""
    allowed_input_uris: Annotated[list[S3Uri], NoDecode] = Field(default_factory=list)
    """Comma-separated s3:// prefixes the worker may read bulk input from."""
    dlq_url: str | None = None
    """Dead-letter queue URL; default: the one the queue's redrive policy names."""
    health_port: Port = 8080
    """Port of /healthz."""
    health_host: str = "0.0.0.0"
    """Address the health server binds."""
    # A stop waits for the receive under way (a message SQS hands to a poll nobody reads would
    # stay invisible for the whole visibility timeout), so this wait is also how long an idle
    # worker takes to stop: 5 s fits in `docker stop`'s 10 s; 20 s would not. It costs nothing
    # in latency (a long poll returns as soon as a message arrives), only 12 empty receives a
    # minute per idle worker instead of 3.
    wait_time_seconds: int = Field(default=5, ge=0, le=20)
    """SQS long-poll wait per receive; also how long an idle worker takes to stop."""
    visibility_timeout: int = Field(default=120, ge=1, le=43200)
    """Seconds a received message stays invisible; the heartbeat renews it."""
    heartbeat_fraction: float = Field(default=0.5, gt=0, lt=1)
    """Extend visibility once this fraction of the timeout has passed."""
    max_in_flight: int = Field(default=32, ge=1, le=1000)
    """Messages received and not yet finished."""
    max_records_per_message: int = Field(
        default=MAX_RECORDS_PER_MESSAGE, ge=1, le=MAX_RECORDS_PER_MESSAGE
    )
    """Inline records above this send the message to the DLQ."""
    max_records_per_input: Positive = 5_000_000
    """Lines (blank ones included) or records read from one S3 input at most."""
    max_input_bytes: Positive = 2 * 1024**3
    """Decompressed bytes read from one S3 input at most (gzip-bomb guard)."""
    retry_delay_seconds: VisibilitySeconds = 10
    """Visibility set after a transient failure, before the message is retried."""
    drain_timeout: DrainSeconds = 25.0
    """Seconds SIGTERM waits for in-flight messages before releasing them."""
    part_size_bytes: int = Field(default=8 * 1024**2, ge=5 * 1024**2)
    """Multipart upload part size for large result objects (S3's minimum part is 5 MiB)."""
    exit_when_idle: bool = False
    """Exit 0 once the queue is empty and nothing is in flight (batch runs)."""
    metrics_namespace: str = "Scorer"
    """CloudWatch EMF namespace."""

    @field_validator("allowed_input_uris", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("queue_url")
    @classmethod
    def _queue_url_is_url(cls, value: str) -> str:
        return check_queue_url(value)


class ServeSettings(ModelSettings):
    """Everything `scorer serve` needs: the model, the address, and the request limits."""

    serve_host: str = "0.0.0.0"
    """Address `scorer serve` binds."""
    serve_port: Port = 8000
    """Port of `scorer serve`."""
    serve_max_body_bytes: int = Field(default=8 * 1024**2, ge=1024)
    """Request bodies larger than this are refused with 413."""
    serve_max_connections: Positive = 1000
    """Open connections at most; past it the server answers 503 at once."""
    serve_drain_timeout: DrainSeconds = 25.0
    """Seconds SIGTERM waits for in-flight requests to be answered."""


def check_queue_url(value: str) -> str:
    """An SQS queue URL, or a ValueError that says what one looks like."""
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an SQS queue URL (https://sqs.REGION.amazonaws.com/...)")
    return value


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
    "TextLimit",
    "WorkerSettings",
    "check_queue_url",
    "load_settings",
]
