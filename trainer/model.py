"""The Keras model: the original three-layer design around a TF-Hub text embedding."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
import tensorflow_hub as hub

# tf_keras (Keras 2), not tf.keras (Keras 3): hub.KerasLayer subclasses the Keras 2 Layer, and
# Keras 3's Sequential rejects it ("Only instances of `keras.Layer` can be added").
import tf_keras

HIDDEN_UNITS = 16


def build_model(hub_handle: str | object, dropout: float = 0.0) -> tf_keras.Sequential:
    """hub.KerasLayer -> Dense(16, relu) -> Dense(1): the output is a logit, not a probability.

    `hub_handle` is a tfhub.dev URL, a local TF-Hub format SavedModel folder, or an already
    loaded reusable module. `dropout` (on the embedding, training only) adds no weights.
    """
    layers: list[tf_keras.layers.Layer] = [
        hub.KerasLayer(
            hub_handle, input_shape=[], dtype=tf.string, trainable=True, name="embedding"
        )
    ]
    if dropout > 0:
        layers.append(tf_keras.layers.Dropout(dropout, name="dropout"))
    layers += [
        tf_keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden"),
        tf_keras.layers.Dense(1, name="logit"),
    ]
    return tf_keras.Sequential(layers, name="sentiment")


def compile_model(model: tf_keras.Model, learning_rate: float) -> None:
    """Binary cross-entropy on logits; accuracy at logit 0 (= probability 0.5)."""
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf_keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[tf_keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )


def load_keras_model(directory: str | Path) -> tf_keras.Sequential:
    """Rebuild the trained Keras model from an export (for benchmarks and fine-tuning).

    The export keeps the reusable embedding module as its `embedding` attribute and the Dense
    variables beside it, so this is the same model with the same weights, not a retrained one.
    """
    root = tf.saved_model.load(str(directory))
    model = build_model(root.embedding)
    model.get_layer("hidden").set_weights([root.hidden_kernel.numpy(), root.hidden_bias.numpy()])
    model.get_layer("logit").set_weights([root.logit_kernel.numpy(), root.logit_bias.numpy()])
    return model
