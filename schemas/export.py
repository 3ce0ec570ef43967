"""Export the contracts as JSON Schema files, for producers and consumers in other languages.

`python -m schemas` rewrites `schemas/json/`; a test fails when the files are out of date.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.manifest import JobManifest
from schemas.messages import ScoreRequest
from schemas.model_info import ModelInfo
from schemas.records import ErrorRecord, ResultRecord
from schemas.serving import ServeProblem, ServeRequest, ServeResponse

JSON_DIR = Path(__file__).parent / "json"
MODELS: dict[str, type[BaseModel]] = {
    "score-request.schema.json": ScoreRequest,
    "result-record.schema.json": ResultRecord,
    "error-record.schema.json": ErrorRecord,
    "job-manifest.schema.json": JobManifest,
    "model-info.schema.json": ModelInfo,
    "serve-request.schema.json": ServeRequest,
    "serve-response.schema.json": ServeResponse,
    "serve-problem.schema.json": ServeProblem,
}


def render(model: type[BaseModel]) -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in MODELS.items():
        path = directory / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written
