"""Export the trained model as a plain SavedModel with one explicit serving signature.

The worker loads it with `tf.saved_model.load(path).signatures["serving_default"]` and nothing
else: no Keras, no TF-Hub. So the export is a tf.Module that holds the embedding module and the
two Dense layers' variables and spells out their arithmetic, rather than a Keras model export
(Keras 3 `model.export` stores every variable twice; a Keras 2 SavedModel generates input and
output names).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"
INPUT_NAME = "text"
OUTPUT_NAME = "score"


class ExportMismatchError(RuntimeError):
    """The reloaded SavedModel does not score like the trained Keras model."""


class ServingModule(tf.Module):
    """`text` `[None]` string -> `{"score": [None] float32}` = P(positive) = sigmoid(logit).

    `embedding` is the reusable TF-Hub module object the Keras model was trained through; the
    variables are the Keras layers' own, so nothing is copied and nothing can drift.
    """

    def __init__(self, embedding: Any, model: Any) -> None:
        super().__init__(name="sentiment")
        self.embedding = embedding
        hidden, logit = model.get_layer("hidden"), model.get_layer("logit")
        self.hidden_kernel, self.hidden_bias = hidden.kernel, hidden.bias
        self.logit_kernel, self.logit_bias = logit.kernel, logit.bias

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        vectors = self.embedding(text)
        hidden = tf.nn.relu(tf.matmul(vectors, self.hidden_kernel) + self.hidden_bias)
        logit = tf.matmul(hidden, self.logit_kernel) + self.logit_bias
        return {OUTPUT_NAME: tf.sigmoid(logit[:, 0])}


def export_saved_model(embedding: Any, model: Any, directory: Path) -> None:
    """Write the SavedModel (saved_model.pb, variables/, assets/) into `directory`."""
    module = ServingModule(embedding, model)
    tf.saved_model.save(module, str(directory), signatures={SIGNATURE: module.serve})
    log.info("saved model written to %s", directory)


def load_scorer(directory: Path | str) -> Any:
    """The serving signature exactly as the worker calls it."""
    return tf.saved_model.load(str(directory)).signatures[SIGNATURE]


def score_texts(signature: Any, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
    """P(positive) for each text, through the serving signature, in batches."""
    out = [
        signature(**{INPUT_NAME: tf.constant(list(texts[i : i + batch_size]), tf.string)})[
            OUTPUT_NAME
        ].numpy()
        for i in range(0, len(texts), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros([0], np.float32)


def keras_probabilities(model: Any, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
    """P(positive) from the Keras model (which outputs logits)."""
    logits = model.predict(tf.constant(list(texts), tf.string), batch_size=batch_size, verbose=0)
    return tf.sigmoid(logits[:, 0]).numpy()


def verify_export(
    directory: Path, model: Any, texts: Sequence[str], tolerance: float = 1e-5
) -> float:
    """Reload the export and compare its scores with the Keras model's; raise if they differ.

    Returns the largest absolute difference seen.
    """
    signature = load_scorer(directory)
    inputs = signature.structured_input_signature[1]
    if list(inputs) != [INPUT_NAME] or inputs[INPUT_NAME].dtype != tf.string:
        raise ExportMismatchError(f"serving signature inputs are {inputs}, expected `text`")
    exported = score_texts(signature, texts)
    trained = keras_probabilities(model, texts)
    if exported.dtype != np.float32 or exported.shape != (len(texts),):
        raise ExportMismatchError(f"score is {exported.dtype}{exported.shape}, not float32[n]")
    diff = float(np.max(np.abs(exported - trained))) if len(texts) else 0.0
    if not diff < tolerance:
        raise ExportMismatchError(
            f"exported model scores differ from the trained model by {diff:.3g} "
            f"(tolerance {tolerance:g}) on {len(texts)} sample texts"
        )
    log.info("export verified: max |score difference| %.2g on %d texts", diff, len(texts))
    return diff
