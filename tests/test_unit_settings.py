"""Configuration from SCORER_* variables: good values load, bad ones stop naming the variable."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from jobs.settings import JobSettings
from worker import settings as settings_module
from worker.settings import ModelSettings, WorkerSettings, load_settings

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/scorer"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCORER_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(settings_module, "_warned_renamed", set())


@pytest.fixture
def required_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORER_QUEUE_URL", QUEUE_URL)
    monkeypatch.setenv("SCORER_OUTPUT_URI", "s3://out-bucket/results/")


def load_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as caught:
        load_settings(WorkerSettings)
    message = str(caught.value.code)
    assert message.startswith("invalid configuration")
    return message


def test_required_variables_are_enough(required_env: None) -> None:
    settings = load_settings(WorkerSettings)
    assert settings.queue_url == QUEUE_URL
    assert settings.output_uri == "s3://out-bucket/results"
    assert settings.allowed_input_uris == []
    assert settings.texts_per_model_call == 256
    assert settings.max_text_bytes == 128 * 1024
    assert settings.scoring_threads >= 1


def test_values_come_from_prefixed_variables(
    required_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCORER_TEXTS_PER_MODEL_CALL", "64")
    monkeypatch.setenv("SCORER_EXIT_WHEN_IDLE", "true")
    monkeypatch.setenv("SCORER_HEALTH_PORT", "0")
    monkeypatch.setenv("TEXTS_PER_MODEL_CALL", "1")  # unprefixed: ignored
    settings = load_settings(WorkerSettings)
    assert settings.texts_per_model_call == 64
    assert settings.exit_when_idle is True
    assert settings.health_port == 0


def test_model_settings_need_no_queue() -> None:
    assert load_settings(ModelSettings).texts_per_model_call == 256


@pytest.mark.parametrize("missing", ["SCORER_QUEUE_URL", "SCORER_OUTPUT_URI"])
def test_missing_required_variable_stops_with_its_name(
    required_env: None, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    message = load_error(monkeypatch)
    assert missing in message
    assert "required" in message.lower()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCORER_TEXTS_PER_MODEL_CALL", "abc"),
        ("SCORER_TEXTS_PER_MODEL_CALL", "0"),
        ("SCORER_BATCH_SIZE", "0"),  # the old name: the message names what the user set
        ("SCORER_OUTPUT_URI", "http://x"),
        ("SCORER_OUTPUT_URI", "s3://Bad_Bucket/x"),
        ("SCORER_QUEUE_URL", "scorer-queue"),
        ("SCORER_WAIT_TIME_SECONDS", "21"),
        ("SCORER_HEARTBEAT_FRACTION", "1"),
        ("SCORER_ALLOWED_INPUT_URIS", "s3://in-bucket/a,http://x"),
    ],
)
def test_invalid_value_stops_with_the_variable_named(
    required_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    assert name in load_error(monkeypatch, **{name: value})


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = load_error(monkeypatch, SCORER_TEXTS_PER_MODEL_CALL="abc")
    assert "SCORER_QUEUE_URL" in message
    assert "SCORER_OUTPUT_URI" in message
    assert "SCORER_TEXTS_PER_MODEL_CALL" in message


def test_allowed_input_uris_split_on_commas_and_strip_spaces(
    required_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCORER_ALLOWED_INPUT_URIS", " s3://in-bucket/a/ , s3://other-bucket ,")
    settings = load_settings(WorkerSettings)
    assert settings.allowed_input_uris == ["s3://in-bucket/a", "s3://other-bucket"]


def test_empty_allowed_input_uris_allow_nothing(
    required_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCORER_ALLOWED_INPUT_URIS", "")
    assert load_settings(WorkerSettings).allowed_input_uris == []


def test_max_text_bytes_under_64_kib_is_refused(
    required_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = load_error(monkeypatch, SCORER_MAX_TEXT_BYTES=str(64 * 1024 - 1))
    assert "SCORER_MAX_TEXT_BYTES" in message


def test_max_text_bytes_of_64_kib_is_accepted(
    required_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCORER_MAX_TEXT_BYTES", str(64 * 1024))
    assert load_settings(WorkerSettings).max_text_bytes == 64 * 1024


# ------------------------------------------------ renamed variables: old names still work


RENAMED = [  # old name, new name, how a command loads it, the field
    ("SCORER_BATCH_SIZE", "SCORER_TEXTS_PER_MODEL_CALL", WorkerSettings, "texts_per_model_call"),
    (
        "SCORER_SUBMIT_BATCH_SIZE",
        "SCORER_SUBMIT_RECORDS_PER_MESSAGE",
        JobSettings,
        "submit_records_per_message",
    ),
]


def load_twice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, cls: type, **env: str
) -> tuple[Any, list[str]]:
    """Settings loaded twice (as `scorer work` then a job command would) and the warnings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING):
        first, second = load_settings(cls), load_settings(cls)
    assert first == second
    return first, [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]


@pytest.mark.parametrize(
    ("set_too", "read", "says"), [(None, 64, "still read"), ("32", 32, "ignored: it is set too")]
)
@pytest.mark.parametrize(("old", "new", "cls", "field"), RENAMED)
def test_an_old_name_is_still_read_unless_the_new_one_is_set_and_warns_once(
    required_env: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    old: str,
    new: str,
    cls: type,
    field: str,
    set_too: str | None,
    read: int,
    says: str,
) -> None:
    env = {old: "64", **({new: set_too} if set_too else {})}
    settings, warnings = load_twice(monkeypatch, caplog, cls, **env)
    assert getattr(settings, field) == read
    (warning,) = warnings
    assert old in warning and new in warning and says in warning


def test_the_new_names_do_not_warn(
    required_env: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = {new: "64" for _, new, _, _ in RENAMED}
    for cls in {cls for _, _, cls, _ in RENAMED}:
        assert load_twice(monkeypatch, caplog, cls, **env)[1] == []
