"""The sentiment model as the worker sees it: a SavedModel signature plus its model.json.

Only TensorFlow is needed to serve (no Keras, no TF-Hub): the trainer exports a
`serving_default` signature taking a `[None]` string tensor `text` and returning `score`,
P(positive), as float32.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ banner is noise in JSON logs

from pydantic import ValidationError

from schemas.model_info import MODEL_INFO_FILE, ModelInfo
from schemas.uris import parse_s3_uri

log = logging.getLogger(__name__)


def read_model_info(path: Path) -> ModelInfo:
    """The `model.json` at `path`, checked against its contract; ModelLoadError otherwise."""
    try:
        return ModelInfo.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ModelLoadError(f"{path} is missing: a model folder needs its model.json") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'file'}: {item['msg']}"
            for item in error.errors()[:3]
        )
        raise ModelLoadError(f"{path}: {problems}") from None


class ModelLoadError(RuntimeError):
    """The model folder is missing, incomplete, or lacks the serving signature."""


class SentimentModel:
    """A loaded SavedModel; `score` is safe to call from several threads at once."""

    def __init__(self, signature: Any, info: ModelInfo, path: Path) -> None:
        self._signature = signature
        self.info = info
        self.path = path

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def score(self, texts: list[str]) -> np.ndarray:
        """P(positive) for each text, as float32, in order."""
        import tensorflow as tf

        if not texts:
            return np.zeros(0, dtype=np.float32)
        outputs = self._signature(text=tf.constant(texts, dtype=tf.string))
        return outputs["score"].numpy().astype(np.float32, copy=False).reshape(-1)


def configure_tensorflow(scoring_threads: int) -> None:
    """One core per model call; as many concurrent calls as scoring threads.

    Measured here: a second TF thread inside one call does not speed up this string-heavy
    graph, while separate concurrent calls scale with cores. Must run before TF starts.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, scoring_threads))
    except RuntimeError:  # already initialised (e.g. a second model in one process)
        log.debug("TensorFlow threading already configured")


def load_model(uri: str, cache_dir: Path | None = None) -> SentimentModel:
    """Load from a local folder or an `s3://` prefix (downloaded first)."""
    import tensorflow as tf

    path = download_model(uri, cache_dir) if uri.startswith("s3://") else Path(uri)
    if not (path / "saved_model.pb").is_file():
        raise ModelLoadError(f"{uri}: no saved_model.pb (expected a SavedModel folder)")
    info = read_model_info(path / MODEL_INFO_FILE)
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ModelLoadError(f"{uri}: the SavedModel has no 'serving_default' signature")
    inputs = signature.structured_input_signature[1]
    if "text" not in inputs or "score" not in signature.structured_outputs:
        raise ModelLoadError(
            f"{uri}: serving_default must take 'text' and return 'score'; "
            f"it takes {sorted(inputs)} and returns {sorted(signature.structured_outputs)}"
        )
    model = SentimentModel(signature, info, path)
    model._keepalive = loaded  # type: ignore[attr-defined]  # the signature needs its object
    log.info("model loaded", extra={"model_version": info.version, "model_path": str(path)})
    return model


def download_model(uri: str, cache_dir: Path | None) -> Path:
    """Copy every object under the prefix to a local folder, keeping relative paths."""
    from worker.aws import s3_client

    location = parse_s3_uri(uri)
    target = Path(cache_dir or tempfile.mkdtemp(prefix="scorer-model-"))
    prefix = location.key.rstrip("/") + "/" if location.key else ""
    client = s3_client()
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=location.bucket, Prefix=prefix
    ):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            destination = (target / relative).resolve()
            if target.resolve() not in destination.parents:
                raise ModelLoadError(f"refusing to write outside the cache: {item['Key']}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(location.bucket, item["Key"], str(destination))
            count += 1
    if count == 0:
        raise ModelLoadError(f"{uri}: no objects under this prefix")
    log.info("model downloaded", extra={"model_uri": uri, "files": count, "path": str(target)})
    return target
