"""`GET /openapi.json`: the API described from the same pydantic models as schemas/json/."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.serving import MAX_RECORDS_PER_REQUEST, ServeProblem, ServeRequest, ServeResponse

_REF = "#/components/schemas/{model}"


def _problem(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="ServeProblem")}}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def _health(description: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": description,
            "responses": {
                "200": {"description": "yes", "content": {"application/json": {}}},
                "503": {"description": "no", "content": {"application/json": {}}},
            },
        }
    }


def build_openapi(model_version: str | None = None, max_body_bytes: int | None = None) -> dict:
    """An OpenAPI 3.1 document; its component schemas are the pydantic models' JSON Schemas."""
    _, definitions = models_json_schema(
        [
            (ServeRequest, "validation"),
            (ServeResponse, "serialization"),
            (ServeProblem, "serialization"),
        ],
        ref_template=_REF,
    )
    limits = f"1 to {MAX_RECORDS_PER_REQUEST} records"
    if max_body_bytes is not None:
        limits += f", a body of at most {max_body_bytes} bytes"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "scorer serve",
            "version": "1",
            "description": "Sentiment scores for reviews, synchronously"
            + (f" (model {model_version})" if model_version else "")
            + ". Bulk work belongs on the queue (`scorer submit`).",
        },
        "paths": {
            "/v1/score": {
                "post": {
                    "summary": "Score records",
                    "description": f"{limits}. Each record is checked as in a queue message: "
                    "a bad one becomes an entry of `errors`, the rest are scored.",
                    "operationId": "score",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="ServeRequest")}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Every record is in `results` (in request order) "
                            "or in `errors`.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": _REF.format(model="ServeResponse")}
                                }
                            },
                        },
                        "400": _problem("The body is not valid JSON (or not UTF-8)."),
                        "413": _problem("The body is over the size limit."),
                        "422": _problem("The body does not follow the schema."),
                        "503": _problem("Overloaded or the model is loading: retry.", retry=True),
                    },
                }
            },
            "/healthz": _health("The process is up."),
            "/readyz": _health("The model is loaded and the server is not stopping."),
        },
        "components": {"schemas": definitions["$defs"]},
    }
