"""`POST /v1/score` and friends, through a real uvicorn server on 127.0.0.1 and the tiny model.

The contract: every record ends in `results` (in request order, the worker's result lines) or in
`errors` (the worker's record rules); a broken request gets a 4xx JSON body saying why; a full
scoring queue a 503 with Retry-After; `/openapi.json` is made from the pydantic contracts.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn

from schemas.records import ErrorRecord, ResultRecord
from schemas.serving import MAX_RECORDS_PER_REQUEST, ServeRequest, ServeResponse
from worker.local.worker_process import free_port
from worker.model import SentimentModel
from worker.scoring import BatchingScorer
from worker.serve.app import ServeState, build_app
from worker.serve.request_scorer import RequestScorer

WAIT = 30.0
MAX_TEXT_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024


class Server:
    """build_app's application on a real uvicorn server in a thread; `post` and `get` talk
    HTTP/1.1 to it and return (status, headers, JSON body)."""

    def __init__(self, state: ServeState) -> None:
        self.state = state
        self.port = free_port()
        config = uvicorn.Config(
            build_app(state),
            host="127.0.0.1",
            port=self.port,
            loop="uvloop",
            http="httptools",
            lifespan="off",
            log_config=None,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        started = threading.Event()
        while not self._server.started and self._thread.is_alive():
            started.wait(0.01)  # uvicorn signals start-up by this flag only
        assert self._server.started, "uvicorn did not start"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=WAIT)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), json.loads(data)
        finally:
            connection.close()

    def post(self, body: Any) -> tuple[int, dict[str, str], Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", "/v1/score", raw, {"Content-Type": "application/json"})

    def get(self, path: str) -> tuple[int, dict[str, str], Any]:
        return self.request("GET", path)


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tiny_model: SentimentModel) -> Iterator[StartServer]:
    servers: list[Server] = []
    scorers: list[BatchingScorer] = []

    def start(
        score: Callable[[list[str]], np.ndarray] | None = None,
        loaded: bool = True,
        batch_size: int = 8,
        max_queued_batches: int | None = None,
    ) -> Server:
        state = ServeState(max_body_bytes=MAX_BODY_BYTES)
        if loaded:
            batching = BatchingScorer(
                score or tiny_model.score, batch_size, 2, max_queued_batches=max_queued_batches
            )
            scorers.append(batching)
            state.scorer = RequestScorer(
                batching, tiny_model.version, tiny_model.threshold, MAX_TEXT_BYTES
            )
        server = Server(state)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for batching in scorers:
        batching.close()


def scored_by_the_cli(records: list[dict[str, str]], model_dir: Path, monkeypatch, capsys) -> list:
    """What `scorer score --jsonl` prints for the same records."""
    from worker.cli import main

    lines = "".join(json.dumps(record) + "\n" for record in records)
    monkeypatch.setenv("SCORER_MODEL_URI", str(model_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["score", "--jsonl"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_records_are_scored_in_order_with_the_result_fields_and_scores_of_scorer_score(
    start_server: StartServer, tiny_model_dir: Path, monkeypatch, capsys
) -> None:
    records = [
        {"id": "r1", "text": "a great and wonderful film"},
        {"id": "r2", "text": "boring, bad and awful"},
        {"id": "r3", "text": "good"},
        {"id": "r4", "text": "I hate it"},
    ]
    server = start_server()
    status, headers, body = server.post({"records": records})
    assert status == 200 and headers["content-type"] == "application/json"
    ServeResponse.model_validate(body)
    assert body["errors"] == []
    assert [result["id"] for result in body["results"]] == ["r1", "r2", "r3", "r4"]
    assert [result["label"] for result in body["results"]] == [
        "positive",
        "negative",
        "positive",
        "negative",
    ]
    for result in body["results"]:
        assert set(result) == set(ResultRecord.model_fields)
        assert result["model_version"] == "tiny-1"
    assert body["results"] == scored_by_the_cli(records, tiny_model_dir, monkeypatch, capsys)


def test_bad_records_become_errors_with_their_index_and_the_rest_are_scored(
    start_server: StartServer,
) -> None:
    records: list[Any] = [
        {"id": "ok-1", "text": "great"},
        {"id": "empty", "text": "   "},
        {"text": "no id"},
        {"id": "ok-1", "text": "a repeated id"},
        {"id": "number", "text": 5},
        {"id": "huge", "text": "x" * (MAX_TEXT_BYTES + 1)},
        "not an object",
        {"id": 42, "text": "bad"},
        {"id": "no-text"},
        {"id": "ctl\x01", "text": "good"},
    ]
    status, _, body = start_server().post({"records": records})
    assert status == 200
    assert [(r["id"], r["label"]) for r in body["results"]] == [
        ("ok-1", "positive"),
        ("42", "negative"),
    ]
    errors = {error["index"]: error for error in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 8, 9]
    for error in body["errors"]:
        ErrorRecord.model_validate(error)
    assert errors[1] == {"id": "empty", "error": "text is empty", "index": 1}
    assert errors[2]["id"] is None and "'id' is missing" in errors[2]["error"]
    assert errors[3]["id"] == "ok-1" and "duplicate id" in errors[3]["error"]
    assert "must be a string" in errors[4]["error"]
    assert "over the limit" in errors[5]["error"]
    assert "must be an object" in errors[6]["error"]
    assert errors[8] == {"id": "no-text", "error": "'text' is missing", "index": 8}
    assert "control characters" in errors[9]["error"]


def test_a_request_of_only_bad_records_is_answered_without_a_model_call(
    start_server: StartServer,
) -> None:
    def no_model(texts: list[str]) -> np.ndarray:
        raise AssertionError("the model must not be called")

    status, _, body = start_server(score=no_model).post({"records": [{"id": "a", "text": ""}]})
    assert status == 200
    assert body == {"results": [], "errors": [{"id": "a", "error": "text is empty", "index": 0}]}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"records": [', 400, "not valid JSON"),
        (b'{"records": [{"id": "a", "text": NaN}]}', 400, "not valid JSON"),
        (b"\xff\xfe{}", 400, "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b"", 400, "not valid JSON"),
        (b'["a"]', 422, "must be a JSON object"),
        (b"{}", 422, "records: Field required"),
        (b'{"records": []}', 422, "at least 1 item"),
        (b'{"records": {"id": "a"}}', 422, "records: Input should be a valid list"),
        (b'{"records": [{"id": "a", "text": "b"}], "model": "x"}', 422, "Extra inputs"),
    ],
)
def test_a_broken_request_gets_a_4xx_json_body_saying_what_is_wrong(
    start_server: StartServer, body: bytes, status: int, says: str
) -> None:
    answer, headers, problem = start_server().post(body)
    assert answer == status
    assert headers["content-type"] == "application/json"
    assert set(problem) == {"error"} and says in problem["error"], problem


def test_more_records_than_the_documented_maximum_is_a_422(start_server: StartServer) -> None:
    records = [{"id": str(i), "text": "good"} for i in range(MAX_RECORDS_PER_REQUEST + 1)]
    status, _, problem = start_server().post({"records": records})
    assert status == 422 and f"at most {MAX_RECORDS_PER_REQUEST}" in problem["error"]
    status, _, body = start_server().post({"records": records[:MAX_RECORDS_PER_REQUEST]})
    assert status == 200 and len(body["results"]) == MAX_RECORDS_PER_REQUEST


def test_a_body_over_the_limit_is_a_413_whether_its_length_is_declared_or_not(
    start_server: StartServer,
) -> None:
    server = start_server()
    big = json.dumps({"records": [{"id": "a", "text": "x" * MAX_BODY_BYTES}]}).encode()
    status, _, problem = server.post(big)
    assert status == 413 and "over the limit" in problem["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    try:
        connection.request("POST", "/v1/score", body=chunks(), encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
        assert "over the limit" in json.loads(response.read())["error"]
    finally:
        connection.close()
    assert server.post({"records": [{"id": "a", "text": "good"}]})[0] == 200


def test_a_full_scoring_queue_is_a_503_with_retry_after_and_admits_again_once_drained(
    start_server: StartServer, tiny_model: SentimentModel
) -> None:
    entered = threading.Condition()
    calls: list[int] = []
    release = threading.Event()

    def held(texts: list[str]) -> np.ndarray:
        with entered:
            calls.append(len(texts))
            entered.notify_all()
        assert release.wait(WAIT)
        return tiny_model.score(texts)

    # Batch 2, one batch of room: both scoring threads hold 2 texts in the model, and the 2
    # texts left of the first request fill the queue.
    server = start_server(score=held, batch_size=2, max_queued_batches=1)
    six = {"records": [{"id": str(i), "text": "good"} for i in range(6)]}
    answers: list[tuple[int, dict[str, str], Any]] = []
    first = threading.Thread(target=lambda: answers.append(server.post(six)))
    first.start()
    with entered:
        assert entered.wait_for(lambda: len(calls) == 2, WAIT)
    status, headers, problem = server.post({"records": [{"id": "late", "text": "great"}]})
    assert status == 503
    assert headers["retry-after"] == "1" and "overloaded" in problem["error"]
    release.set()
    first.join(WAIT)
    assert answers[0][0] == 200 and len(answers[0][2]["results"]) == 6
    assert server.post({"records": [{"id": "late", "text": "great"}]})[0] == 200


def test_health_ready_and_score_before_the_model_is_loaded(start_server: StartServer) -> None:
    server = start_server(loaded=False)
    assert server.get("/healthz")[0] == 200
    status, _, body = server.get("/readyz")
    assert status == 503 and body["model_loaded"] is False
    status, headers, problem = server.post({"records": [{"id": "a", "text": "good"}]})
    assert status == 503 and headers["retry-after"] == "1" and "loading" in problem["error"]


def test_ready_once_loaded_and_not_ready_while_draining(start_server: StartServer) -> None:
    server = start_server()
    status, _, body = server.get("/readyz")
    assert status == 200 and body["model_version"] == "tiny-1"
    server.state.draining = True
    assert server.get("/readyz")[0] == 503


def test_openapi_is_made_from_the_pydantic_contracts(start_server: StartServer) -> None:
    status, _, document = start_server().get("/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    request = schemas["ServeRequest"]
    assert request["additionalProperties"] is False
    assert request["properties"]["records"]["maxItems"] == MAX_RECORDS_PER_REQUEST
    assert request == {
        key: value for key, value in ServeRequest.model_json_schema().items() if key != "$defs"
    }
    assert set(schemas) >= {"ServeResponse", "ResultRecord", "ErrorRecord", "ServeProblem"}
    operation = document["paths"]["/v1/score"]["post"]
    assert set(operation["responses"]) == {"200", "400", "413", "422", "503"}
    assert "tiny-1" in document["info"]["description"]


def test_unknown_paths_and_methods_answer_json(start_server: StartServer) -> None:
    server = start_server()
    status, _, problem = server.get("/v2/score")
    assert status == 404 and problem == {"error": "Not Found"}
    status, _, problem = server.get("/v1/score")
    assert status == 405 and problem == {"error": "Method Not Allowed"}


def test_concurrent_requests_each_get_their_own_results(start_server: StartServer) -> None:
    server = start_server(batch_size=256)
    answers: dict[int, Any] = {}

    def post(n: int) -> None:
        records = [{"id": f"{n}-{i}", "text": "great" if i % 2 else "awful"} for i in range(n)]
        answers[n] = server.post({"records": records})

    threads = [threading.Thread(target=post, args=(n,)) for n in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    for n, (status, _, body) in answers.items():
        assert status == 200
        assert [r["id"] for r in body["results"]] == [f"{n}-{i}" for i in range(n)]
        assert [r["label"] for r in body["results"]] == [
            "positive" if i % 2 else "negative" for i in range(n)
        ]


def test_a_model_failure_is_a_500_with_a_json_body_and_the_server_goes_on(
    start_server: StartServer, tiny_model: SentimentModel
) -> None:
    def fails_on_poison(texts: list[str]) -> np.ndarray:
        if "poison" in texts:
            raise RuntimeError("the model failed")
        return tiny_model.score(texts)

    server = start_server(score=fails_on_poison)
    status, headers, problem = server.post({"records": [{"id": "a", "text": "poison"}]})
    assert status == 500 and headers["content-type"] == "application/json"
    assert problem == {"error": "internal error: RuntimeError"}
    assert server.post({"records": [{"id": "b", "text": "good"}]})[0] == 200
