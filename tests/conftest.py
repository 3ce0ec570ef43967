"""Shared fixtures: a tiny real SavedModel, moto (in-process and HTTP), AWS resources."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_model import build_tiny_model

from worker.local.moto_fixes import apply_all as apply_moto_fixes
from worker.local.moto_server import start_threaded
from worker.local.stack import REGION, Stack, create_stack
from worker.local.worker_process import WorkerProcess

__all__ = ["REGION", "Stack", "create_stack"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> Any:
    """The tiny SavedModel, loaded once (loading TensorFlow takes seconds)."""
    from worker.model import load_model

    return load_model(str(tiny_model_dir))


#: `make_processor(threads=2, **limits)`: the worker's BatchProcessor over the tiny model.
MakeProcessor = Callable[..., Any]


@pytest.fixture
def make_processor(tiny_model: Any, inprocess_stack: Stack) -> Iterator[MakeProcessor]:
    """BatchProcessors writing to the in-process stack, reading inputs under `inputs/`.

    Small limits by default (100 records a message, 1,000 lines or 1 MiB an input), so tests
    reach them cheaply; a test passes the ones it needs larger. Scorers close at teardown.
    """
    from schemas.uris import parse_s3_uri
    from worker.processing import BatchProcessor
    from worker.scoring import BatchingScorer

    scorers: list[BatchingScorer] = []

    def make(threads: int = 2, **limits: int) -> BatchProcessor:
        scorers.append(BatchingScorer(tiny_model.score, batch_size=4, threads=threads))
        settings = {
            "max_records_per_message": 100,
            "max_records_per_input": 1000,
            "max_input_bytes": 1024 * 1024,
            "max_text_bytes": 64 * 1024,
            "part_size": 5 * 1024 * 1024,
            **limits,
        }
        return BatchProcessor(
            scorer=scorers[-1],
            model_version=tiny_model.version,
            threshold=tiny_model.threshold,
            output=parse_s3_uri(inprocess_stack.output_uri),
            allowed_inputs=[parse_s3_uri(f"s3://{inprocess_stack.bucket}/inputs")],
            **settings,
        )

    yield make
    for scorer in scorers:
        scorer.close()


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials, and no SCORER_* or endpoint leaking in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("SCORER_") or name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    from worker import aws

    aws.client.cache_clear()
    aws._session.cache_clear()
    yield
    aws.client.cache_clear()
    aws._session.cache_clear()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's real HTTP server on 127.0.0.1, for the end-to-end tests."""
    server, endpoint = start_threaded()
    yield endpoint
    server.stop()


@pytest.fixture
def http_stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """A fresh stack on the moto HTTP server (state reset first); boto3 finds it by env."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return create_stack(moto_endpoint)


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(http_stack: Stack, tiny_model_dir: Path) -> Iterator[StartWorker]:
    """Starts real `scorer work` processes on `http_stack` with the tiny model; stops them all."""
    started: list[WorkerProcess] = []

    def start(**settings: str) -> WorkerProcess:
        env = {
            "AWS_ENDPOINT_URL": str(http_stack.endpoint),
            "SCORER_QUEUE_URL": http_stack.queue_url,
            "SCORER_OUTPUT_URI": http_stack.output_uri,
            # Staged chunks of `scorer submit` ({output}/{job}/_staging/) need no entry: the
            # worker allows them itself (worker/input_policy.py).
            "SCORER_ALLOWED_INPUT_URIS": f"s3://{http_stack.bucket}/inputs",
            "SCORER_MODEL_URI": str(tiny_model_dir),
            "SCORER_VISIBILITY_TIMEOUT": "30",
            "SCORER_RETRY_DELAY_SECONDS": "0",
            **settings,
        }
        worker = WorkerProcess(env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


@pytest.fixture
def inprocess_stack() -> Iterator[Stack]:
    """A fresh stack on moto in-process (no sockets), for unit tests of the AWS edges."""
    from moto import mock_aws

    apply_moto_fixes()
    with mock_aws():
        yield create_stack(None)
