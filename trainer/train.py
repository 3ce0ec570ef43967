"""One training run, end to end: load, split, embed, fit, evaluate, export, verify, describe.

The new model is assembled in a staging folder beside the output and moved into place only
after the export has been reloaded and checked, so a failed run never leaves a half-written
model where the worker looks for one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import random
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras

from schemas.model_info import MODEL_INFO_FILE, ModelInfo
from trainer import card, export
from trainer.data import TFDS_PREFIX, DataError, Examples, load_examples, split_validation
from trainer.embedding import EmbeddingConfig, export_embedding
from trainer.metrics import evaluate
from trainer.model import build_model, compile_model

log = logging.getLogger(__name__)

BUILTIN_EMBEDDING = "builtin:ngram"
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Texts the export check scores besides validation samples: the edge cases a worker may send.
_EDGE_TEXTS = ["", " ", "!!!", "<br /><br />", "Très bien 😀 ünïcödé", "good " * 2000]


@dataclass
class TrainConfig:
    """Everything a run depends on; the defaults reproduce the shipped model."""

    data: str
    output: Path
    test_data: str | None = None
    hub_handle: str = BUILTIN_EMBEDDING
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    validation_fraction: float = 0.1
    seed: int = 42
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 5e-4
    dropout: float = 0.0
    patience: int = 2
    average_seeds: int = 1
    refit: bool = True
    threshold: float = 0.5
    name: str = "imdb-ngram"
    version: str | None = None
    check_samples: int = 500
    check_tolerance: float = 1e-5
    publish_uri: str | None = None

    def hyperparameters(self) -> dict[str, Any]:
        keys = ("validation_fraction", "seed", "epochs", "batch_size", "learning_rate")
        more = ("dropout", "patience", "average_seeds", "refit")
        params = {k: getattr(self, k) for k in (*keys, *more)}
        if self.hub_handle == BUILTIN_EMBEDDING:
            params.update(dataclasses.asdict(self.embedding))
        return params


@dataclass
class TrainResult:
    output: Path
    info: dict[str, Any]
    published: str | None = None


def seed_everything(seed: int) -> None:
    """Python, numpy and TensorFlow seeds, so `make model` gives the same model again."""
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    tf_keras.utils.set_random_seed(seed)


def test_source(config: TrainConfig) -> str:
    """--test-data, or the test split of a source that has one (aclImdb root, tfds)."""
    if config.test_data:
        return config.test_data
    if config.data.startswith(TFDS_PREFIX) or (
        Path(config.data).is_dir() and (Path(config.data) / "test").is_dir()
    ):
        return config.data
    raise DataError("--test-data is required for this --data (it has no test split of its own)")


def _dataset(examples: Examples, batch_size: int, shuffle_seed: int | None) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(examples.texts, tf.string), examples.labels.astype(np.float32))
    )
    if shuffle_seed is not None:
        ds = ds.shuffle(len(examples), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def content_version(name: str, directory: Path, created: dt.datetime) -> str:
    """`<name>-<yyyymmdd>.<8 hex>`: the hash covers the weights and vocabulary, not timestamps."""
    digest = hashlib.sha256()
    for sub in ("variables", "assets"):
        for path in sorted((directory / sub).rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return f"{name}-{created:%Y%m%d}.{digest.hexdigest()[:8]}"


def check_replaceable(output: Path) -> None:
    """Fail before training, not after, if `output` holds something other than a model."""
    if output.exists() and (
        not output.is_dir() or (any(output.iterdir()) and not (output / MODEL_INFO_FILE).exists())
    ):
        raise FileExistsError(f"{output} exists and is not a model folder; not replacing it")


def _replace_folder(staging: Path, output: Path) -> None:
    """Move `staging` to `output`, replacing an earlier model there (never anything else)."""
    check_replaceable(output)
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        output.rename(old)
        staging.rename(output)
        shutil.rmtree(old)
    else:
        staging.rename(output)


def _fit(
    config: TrainConfig, embedding: Any, train_set: Examples, validation: Examples | None
) -> tuple[tf_keras.Model, dict[str, list[float]]]:
    """Train with early stopping on validation loss, keeping the best epoch's weights; without
    `validation`, train for exactly `config.epochs` epochs.

    The Dense layers start from `config.seed` (reset here); batches are shuffled by it too.
    """
    seed_everything(config.seed)
    model = build_model(embedding, dropout=config.dropout)
    compile_model(model, config.learning_rate)
    stopper = tf_keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    history = model.fit(
        _dataset(train_set, config.batch_size, config.seed),
        validation_data=None if validation is None else _dataset(validation, 1024, None),
        epochs=config.epochs,
        callbacks=[] if validation is None else [stopper],
        verbose=2,
    ).history
    return model, history


def fit_averaged(
    config: TrainConfig, handle: str, train_set: Examples, validation: Examples | None
) -> tuple[Any, tf_keras.Model, dict[str, list[float]], list[dict[str, Any]]]:
    """Fit `average_seeds` times from the same starting weights, each seeing the batches in
    its own order (seeds seed, seed+1, ...), and keep the mean of their weights.

    The runs start alike and train only a few epochs, so they end near each other and their
    mean is a model of the same shape (one set of weights, no ensemble at serving time) that
    is usually better than each of them. Returns the first run's embedding module and Keras
    model, now holding the mean, its history, and each run's validation figures.
    """
    runs: list[list[np.ndarray]] = []
    summary: list[dict[str, Any]] = []
    first: tuple[Any, tf_keras.Model, dict[str, list[float]]] | None = None
    for offset in range(config.average_seeds):
        run_config = dataclasses.replace(config, seed=config.seed + offset)
        embedding = hub.load(handle)  # fresh copies of the module's starting weights
        model, history = _fit(run_config, embedding, train_set, validation)
        if offset == 0:
            # Same Dense starting weights for every run: shuffle seed apart, identical starts.
            first = (embedding, model, history)
        runs.append([w.numpy() for w in model.weights])
        if validation is None:
            summary.append({"shuffle_seed": run_config.seed, "epochs": len(history["loss"])})
            continue
        best = int(np.argmin(history["val_loss"]))
        summary.append(
            {
                "shuffle_seed": run_config.seed,
                "best_epoch": best + 1,
                "val_loss": round(float(history["val_loss"][best]), 6),
                "val_accuracy": round(float(history["val_accuracy"][best]), 6),
            }
        )
    assert first is not None
    embedding, model, history = first
    if len(runs) > 1:
        for weight, values in zip(model.weights, zip(*runs, strict=True), strict=True):
            weight.assign(np.mean(values, axis=0))
    return embedding, model, history, summary


def build_embedding(config: TrainConfig, train_set: Examples, scratch: Path) -> str:
    """The handle the Keras model loads: `config.hub_handle`, or for the built-in embedding a
    module made in `scratch` from `train_set` only (its vocabulary and NB start never see the
    validation reviews, so validation stays a fair judge)."""
    if config.hub_handle != BUILTIN_EMBEDDING:
        return config.hub_handle
    module_dir = Path(scratch) / "embedding"
    return str(
        export_embedding(
            train_set.texts, config.embedding, module_dir, config.seed, labels=train_set.labels
        )
    )


def chosen_epochs(history: dict[str, list[float]]) -> int:
    """The epoch early stopping kept: the one with the lowest validation loss (1-based)."""
    return int(np.argmin(history["val_loss"])) + 1


def refit_on_all(
    config: TrainConfig, handle: str, everything: Examples, history: dict[str, list[float]]
) -> tuple[Any, tf_keras.Model, dict[str, Any]]:
    """Train again, validation reviews included, for the epoch count validation chose.

    Validation has chosen everything (the epoch count included); now the held-out reviews also
    train: the same module and starting weights, all of `everything`, no early stopping.
    Returns the new embedding module and model, and the `refit` entry of model.json.
    """
    epochs = chosen_epochs(history)
    fixed = dataclasses.replace(config, epochs=epochs)
    embedding, model, _, runs = fit_averaged(fixed, handle, everything, None)
    return embedding, model, {"epochs": epochs, "examples": len(everything), "runs": runs}


def _describe(
    config: TrainConfig,
    version: str,
    created: dt.datetime,
    data: dict[str, Examples],
    metrics: dict[str, Any],
    history: dict[str, list[float]],
) -> dict[str, Any]:
    """The model.json contents (training_seconds is added last)."""
    return {
        "version": version,
        "name": config.name,
        "created": created.isoformat(),
        "threshold": config.threshold,
        "signature": {
            "name": export.SIGNATURE,
            "input": {export.INPUT_NAME: "string [None]"},
            "output": {export.OUTPUT_NAME: "float32 [None], P(positive)"},
        },
        "labels": {"0": "negative", "1": "positive"},
        "metrics": metrics,
        "embedding": config.hub_handle,
        "hyperparameters": config.hyperparameters(),
        "data": {
            "train": {
                "source": data["train"].source,
                "sha256": data["train"].sha256,
                "n": len(data["train"]),
            },
            "validation": {"n": len(data["validation"]), "seed": config.seed},
            "test": {
                "source": data["test"].source,
                "sha256": data["test"].sha256,
                "n": len(data["test"]),
            },
        },
        "epochs_run": len(history["val_loss"]),
        "best_epoch": chosen_epochs(history),
        "history": {k: [round(float(x), 6) for x in v] for k, v in history.items()},
        "software": {
            "tensorflow": tf.__version__,
            "tf_keras": tf_keras.__version__,
            "tensorflow_hub": hub.__version__,
        },
    }


def train(config: TrainConfig) -> TrainResult:
    """Run the whole pipeline; the result carries the model.json contents."""
    started = time.monotonic()
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if config.version is not None and not VERSION_PATTERN.match(config.version):
        raise ValueError(f"--version {config.version!r}: use letters, digits, '.', '_', '-'")
    output = Path(config.output)
    check_replaceable(output)
    seed_everything(config.seed)

    full_train = load_examples(config.data, "train")
    test = load_examples(test_source(config), "test")
    train_set, validation = split_validation(full_train, config.validation_fraction, config.seed)
    log.info("data: %d train, %d validation, %d test", len(train_set), len(validation), len(test))

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.staging-", dir=output.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would follow the folder into place
    try:
        with tempfile.TemporaryDirectory(prefix="scorer-embedding-") as scratch:
            handle = build_embedding(config, train_set, Path(scratch))
            log.info("embedding: %s", config.hub_handle)
            fit_started = time.monotonic()
            embedding, model, history, runs = fit_averaged(config, handle, train_set, validation)
            metrics = {
                "validation": evaluate(
                    validation.labels,
                    export.keras_probabilities(model, validation.texts),
                    config.threshold,
                )
            }
            refit: dict[str, Any] | None = None
            if config.refit:
                # Checked on training data alone: trainer/refit_check.py, docs/performance.md.
                embedding, model, refit = refit_on_all(config, handle, full_train, history)
            fit_seconds = time.monotonic() - fit_started

            # The test set is scored once, here, after all choices were made on validation.
            metrics["test"] = evaluate(
                test.labels, export.keras_probabilities(model, test.texts), config.threshold
            )
            log.info("validation: %s", metrics["validation"])
            log.info("test: %s", metrics["test"])
            export.export_saved_model(embedding, model, staging)
        # The scratch embedding is gone now: the check also proves the export is self-contained.
        samples = validation.texts[: config.check_samples] + _EDGE_TEXTS
        max_diff = export.verify_export(staging, model, samples, config.check_tolerance)

        version = config.version or content_version(config.name, staging, created)
        data = {"train": full_train, "validation": validation, "test": test}
        info = _describe(config, version, created, data, metrics, history)
        card.plot_training_curves(history, staging / "training_curves.png", info["best_epoch"])
        info["averaged_runs"] = runs
        info["refit"] = refit
        info["export_check_max_abs_diff"] = max_diff
        info["fit_seconds"] = round(fit_seconds, 1)
        info["training_seconds"] = round(time.monotonic() - started, 1)
        card.write_model_card(staging / "MODEL_CARD.md", info)
        checked = ModelInfo.model_validate(info)  # the contract every reader holds it to
        (staging / MODEL_INFO_FILE).write_text(
            checked.model_dump_json(indent=2, exclude_none=True) + "\n", encoding="utf-8"
        )
        _replace_folder(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("model %s written to %s in %.0f s", version, output, info["training_seconds"])

    published = None
    if config.publish_uri:
        from trainer.publish import publish_model

        published = publish_model(output, config.publish_uri, version)
    return TrainResult(output, info, published)
