"""`model.json`, the file beside every SavedModel: the trainer writes it, the worker, `scorer
serve` and `scorer backfill` read it. `version` is stamped on every result line; a record is
labelled positive when its score is at least `threshold`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MODEL_INFO_FILE = "model.json"
"""The file's name inside a model folder (or under an s3:// model prefix)."""


class ModelInfo(BaseModel):
    """What a model folder says about itself. Readers need only `version` and `threshold`;
    the rest documents how the model was made (the trainer fills it, readers keep it)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    version: str = Field(min_length=1, description="Stamped on every result line.")
    threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Positive when the score is at least this."
    )
    name: str | None = Field(default=None, description="The model family, e.g. imdb-ngram.")
    created: str | None = Field(default=None, description="ISO 8601 time of the export.")
    signature: dict[str, Any] | None = Field(
        default=None, description="The serving signature's name, input and output."
    )
    labels: dict[str, str] | None = None
    metrics: dict[str, Any] | None = Field(
        default=None, description="Figures per split (validation, test), as the trainer measured."
    )
