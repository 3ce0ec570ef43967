"""The Starlette application of `scorer serve`: routes, request limits and error answers.

Starlette on uvicorn, not FastAPI: the same pydantic models validate the body and describe the
API, and measured on this endpoint FastAPI's per-request machinery cost ~2.5x more CPU per
request (docs/serving.md). Every answer is JSON, errors included (`ServeProblem`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from schemas.serving import ServeRequest
from worker.inputs import parse_json_line
from worker.processing import describe_validation_error
from worker.serve.openapi import build_openapi
from worker.serve.request_scorer import Overloaded, RequestScorer

#: Seconds a client is told to wait after a 503 (overload, or the model still loading).
RETRY_AFTER_SECONDS = 1


@dataclass
class ServeState:
    """What the routes read: the scorer once the model is loaded, and whether we are stopping."""

    max_body_bytes: int
    scorer: RequestScorer | None = None
    draining: bool = False
    started: float = field(default_factory=time.monotonic)


class Problem(Exception):
    """An answer other than 200, with the `error` text a caller can act on."""

    def __init__(self, status: int, error: str, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.retry_after = retry_after


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _problem(problem: Problem) -> Response:
    headers = None if problem.retry_after is None else {"Retry-After": str(problem.retry_after)}
    return _json(problem.status, {"error": problem.error}, headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body is {declared} bytes, over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_serve_request(body: bytes) -> ServeRequest:
    """The validated request; Problem 400 (not JSON) or 422 (not the schema) otherwise."""
    try:
        data = parse_json_line(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Problem(400, f"the body is not valid UTF-8 ({error.reason})") from None
    except RecursionError:
        raise Problem(400, "the body is nested too deeply") from None
    except ValueError as error:
        raise Problem(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise Problem(422, f"the body must be a JSON object, not {type(data).__name__}")
    try:
        return ServeRequest.model_validate(data)
    except ValidationError as error:
        raise Problem(422, describe_validation_error(error)) from None


def build_app(state: ServeState) -> Starlette:
    openapi_cache: dict[str | None, bytes] = {}

    async def score(request: Request) -> Response:
        try:
            scorer = state.scorer
            if scorer is None:
                # Checked before the body is read: a loading server costs the client nothing.
                raise Problem(503, "the model is still loading", RETRY_AFTER_SECONDS)
            parsed = parse_serve_request(await read_body(request, state.max_body_bytes))
            try:
                body = await scorer.score(parsed.records)
            except Overloaded:
                raise Problem(
                    503, "overloaded: too many records waiting", RETRY_AFTER_SECONDS
                ) from None
        except Problem as problem:
            return _problem(problem)
        except ClientDisconnect:
            return Response(status_code=499)  # nobody is left to read it
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return _json(200, {"status": "ok", "seconds": round(time.monotonic() - state.started)})

    async def readyz(request: Request) -> Response:
        scorer = state.scorer
        ready = scorer is not None and not state.draining
        body = {
            "status": "ready" if ready else "not ready",
            "model_loaded": scorer is not None,
            "model_version": scorer.model_version if scorer is not None else None,
            "draining": state.draining,
        }
        return _json(200 if ready else 503, body)

    async def openapi(request: Request) -> Response:
        version = state.scorer.model_version if state.scorer is not None else None
        if version not in openapi_cache:
            document = build_openapi(version, state.max_body_bytes)
            openapi_cache[version] = json.dumps(document).encode("utf-8")
        return Response(openapi_cache[version], media_type="application/json")

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return _json(error.status_code, {"error": error.detail}, error.headers)

    async def server_error(request: Request, error: Exception) -> Response:
        # Starlette logs the traceback; the client gets JSON like every other answer.
        return _json(500, {"error": f"internal error: {type(error).__name__}"})

    return Starlette(
        routes=[
            Route("/v1/score", score, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
