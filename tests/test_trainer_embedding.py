"""The built-in embedding: in-graph tokens, TF-Hub format, trainable through hub.KerasLayer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
from trainer_helpers import make_reviews

from trainer.embedding import EmbeddingConfig, build_vocabulary, export_embedding, tokenize
from trainer.model import build_model, compile_model

CONFIG = EmbeddingConfig(
    ngram_max=2, min_count=1, max_vocab=500, oov_buckets=7, dim=4, selection="frequency"
)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [str(r["text"]) for r in make_reviews(40)]
    return export_embedding(texts, CONFIG, tmp_path_factory.mktemp("hub") / "embedding", seed=1)


def test_tokenize_lowercases_strips_breaks_splits_punctuation_and_adds_bigrams() -> None:
    tokens = tokenize(tf.constant(["Great FILM!<br /><br />Don't miss"]), ngram_max=2)
    assert [t.decode() for t in tokens[0].numpy()] == [
        "great", "film", "!", "don't", "miss",
        "great film", "film !", "! don't", "don't miss",
    ]  # fmt: skip


def test_vocabulary_is_frequency_ordered_and_capped() -> None:
    texts = ["b a a", "a c", "a b"]
    config = EmbeddingConfig(ngram_max=1, min_count=2, max_vocab=10, selection="frequency")
    assert build_vocabulary(texts, config) == ["a", "b"]
    assert build_vocabulary(
        texts, EmbeddingConfig(ngram_max=1, min_count=1, max_vocab=2, selection="frequency")
    ) == [
        "a",
        "b",
    ]


def test_module_is_reusable_savedmodel_with_trainable_weights(module_dir: Path) -> None:
    layer = hub.KerasLayer(str(module_dir), input_shape=[], dtype=tf.string, trainable=True)
    assert len(layer.trainable_weights) == 1  # the trap: a bare tf.Module would give 0
    vocab_size = len(next((module_dir / "assets").iterdir()).read_text().splitlines())
    assert layer.trainable_weights[0].shape == (vocab_size + CONFIG.oov_buckets, CONFIG.dim)
    vectors = layer(tf.constant(["great film", "", "zzz unseen words"]))
    assert vectors.shape == (3, CONFIG.dim)
    assert np.all(vectors.numpy()[1] == 0)  # no tokens: zero vector, no NaN


def test_model_has_the_original_three_layers_and_learns_the_embedding(module_dir: Path) -> None:
    model = build_model(str(module_dir))
    assert [type(layer).__name__ for layer in model.layers] == ["KerasLayer", "Dense", "Dense"]
    # embedding matrix + Dense(16) kernel and bias + Dense(1) kernel and bias
    assert len(model.trainable_weights) == 5
    assert model.output_shape == (None, 1)
    compile_model(model, learning_rate=0.05)
    before = model.layers[0].trainable_weights[0].numpy().copy()
    rows = make_reviews(32)
    model.fit(
        tf.constant([str(r["text"]) for r in rows]),
        np.array([r["label"] for r in rows], np.float32),
        epochs=1,
        verbose=0,
    )
    assert not np.allclose(before, model.layers[0].trainable_weights[0].numpy())


def test_binary_mode_counts_each_ngram_once_per_text(tmp_path: Path) -> None:
    config = EmbeddingConfig(
        ngram_max=1, min_count=1, max_vocab=50, oov_buckets=2, dim=3, selection="frequency"
    )
    config = dataclasses.replace(config, binary=True)
    module_dir = export_embedding(["great film", "bad film"], config, tmp_path / "m", seed=0)
    module = tf.saved_model.load(str(module_dir))
    vectors = module(tf.constant(["great great film great", "film great", "bad", "bad bad"]))
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)
    np.testing.assert_allclose(vectors[2], vectors[3], atol=1e-6)
    counted = export_embedding(
        ["great film"], dataclasses.replace(config, binary=False), tmp_path / "c", 0
    )
    plain = tf.saved_model.load(str(counted))(tf.constant(["great great", "great"]))
    assert not np.allclose(plain[0], plain[1])


def test_chi2_selection_prefers_label_related_ngrams() -> None:
    texts = ["the good", "the good", "the bad", "the bad", "the the x", "the x"]
    labels = np.array([1, 1, 0, 0, 1, 0])
    config = EmbeddingConfig(ngram_max=1, min_count=2, max_vocab=2, selection="chi2")
    assert build_vocabulary(texts, config, labels) == ["bad", "good"]  # not the frequent "the"
    frequent = dataclasses.replace(config, selection="frequency")
    assert build_vocabulary(texts, frequent, labels)[0] == "the"
    with pytest.raises(ValueError, match="needs one label per text"):
        build_vocabulary(texts, config)
