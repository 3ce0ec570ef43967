"""The published JSON Schemas match the pydantic models producers are validated against."""

from __future__ import annotations

import json

import pytest

from schemas.export import JSON_DIR, MODELS, render


@pytest.mark.parametrize("name", sorted(MODELS))
def test_committed_json_schema_is_current(name: str) -> None:
    committed = (JSON_DIR / name).read_text(encoding="utf-8")
    assert committed == render(MODELS[name]), "run `python -m schemas` and commit the result"


def test_request_schema_rejects_unknown_fields_for_other_languages() -> None:
    schema = json.loads((JSON_DIR / "score-request.schema.json").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    job_id = schema["properties"]["job_id"]
    assert (job_id["minLength"], job_id["maxLength"]) == (1, 128)
    assert {"not": {"pattern": "\\.\\."}} in job_id["allOf"]


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    from worker.settings import ServeSettings, WorkerSettings

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    names = {*WorkerSettings.model_fields, *ServeSettings.model_fields}
    missing = [
        f"SCORER_{name.upper()}"
        for name in sorted(names)
        if f"`SCORER_{name.upper()}`" not in readme
    ]
    assert not missing, f"README's configuration table lacks {missing}"
