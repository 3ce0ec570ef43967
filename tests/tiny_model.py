"""A tiny but real SavedModel with the serving contract, for tests that need no training.

Scores by counting a few sentiment words, so tests can predict labels. A text starting with
`sleep:N` makes the call busy-wait N seconds (a slow batch, in-graph, no Python callbacks).
"""

from __future__ import annotations

import json
from pathlib import Path

POSITIVE = ["good", "great", "love", "wonderful", "excellent"]
NEGATIVE = ["bad", "awful", "hate", "boring", "terrible"]


def build_tiny_model(path: Path, version: str = "tiny-1", threshold: float = 0.5) -> Path:
    import tensorflow as tf

    class TinySentiment(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
            delay = tf.strings.to_number(
                tf.strings.regex_replace(
                    tf.where(tf.strings.regex_full_match(text, r"sleep:[0-9.]+.*"), text, "0"),
                    r"^sleep:([0-9.]+).*$",
                    r"\1",
                )
            )
            until = tf.timestamp() + tf.cast(
                tf.reduce_max(tf.concat([delay, [0.0]], 0)), tf.float64
            )
            tf.while_loop(lambda: tf.timestamp() < until, lambda: [], [])
            tokens = tf.strings.split(tf.strings.lower(text))
            positive = tf.zeros(tf.shape(text), tf.float32)
            negative = tf.zeros(tf.shape(text), tf.float32)
            for word in POSITIVE:
                positive += tf.reduce_sum(tf.cast(tf.equal(tokens, word), tf.float32), axis=1)
            for word in NEGATIVE:
                negative += tf.reduce_sum(tf.cast(tf.equal(tokens, word), tf.float32), axis=1)
            return {"score": tf.sigmoid(self.weight * (positive - negative) + 0.1)}

    module = TinySentiment()
    path.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    (path / "model.json").write_text(
        json.dumps({"version": version, "threshold": threshold, "metrics": {}}), encoding="utf-8"
    )
    return path
