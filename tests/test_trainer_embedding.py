"""The built-in embedding: in-graph tokens, TF-Hub format, trainable through hub.KerasLayer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
from trainer_helpers import make_reviews

from trainer.embedding import (
    EmbeddingConfig,
    count_ngrams,
    export_embedding,
    ngram_key,
    ngram_keys,
    select_vocabulary,
    words,
)
from trainer.model import build_model, compile_model

CONFIG = EmbeddingConfig(
    ngram_max=2, min_count=1, max_vocab=500, dim=4, selection="frequency", nb_scale=0.0
)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [str(r["text"]) for r in make_reviews(40)]
    return export_embedding(texts, CONFIG, tmp_path_factory.mktemp("hub") / "embedding", seed=1)


def test_words_lowercase_strip_breaks_and_split_punctuation() -> None:
    tokens = words(tf.constant(["Great FILM!<br /><br />Don't miss"]))
    assert [t.decode() for t in tokens[0].numpy()] == ["great", "film", "!", "don't", "miss"]


def test_ngram_keys_are_the_hashes_of_each_texts_own_ngrams() -> None:
    keys, valid, _ = ngram_keys(tf.constant(["Great film!", "bad"]), ngram_max=3)
    kept = tf.boolean_mask(keys, valid).numpy().tolist()
    spelled = ["great", "great film", "great film !", "film", "film !", "!", "bad"]
    assert kept == [ngram_key(g) for g in spelled]  # nothing runs from one text into the next
    assert len(set(kept)) == len(kept)
    assert ngram_key("film great") != ngram_key("great film")  # order matters


def _vocabulary(texts: list[str], config: EmbeddingConfig, labels: np.ndarray) -> list[int]:
    stats = count_ngrams(texts, labels, config.ngram_max)
    return stats.keys[select_vocabulary(stats, config, labels)].tolist()


def test_vocabulary_is_document_frequency_ordered_and_capped() -> None:
    texts, labels = ["b a a", "a c", "a b"], np.array([0, 1, 0])
    config = EmbeddingConfig(ngram_max=1, min_count=2, max_vocab=10, selection="frequency")
    assert _vocabulary(texts, config, labels) == [ngram_key("a"), ngram_key("b")]
    capped = dataclasses.replace(config, min_count=1, max_vocab=1)
    assert _vocabulary(texts, capped, labels) == [ngram_key("a")]


def test_module_is_reusable_savedmodel_with_trainable_weights(module_dir: Path) -> None:
    layer = hub.KerasLayer(str(module_dir), input_shape=[], dtype=tf.string, trainable=True)
    assert len(layer.trainable_weights) == 1  # the trap: a bare tf.Module would give 0
    vocab = next((module_dir / "assets").iterdir()).read_text().split("\n")[:-1]
    assert layer.trainable_weights[0].shape == (len(vocab), CONFIG.dim)
    key, spelled = vocab[0].split("\t")
    assert int(key) == ngram_key(spelled)  # the readable column spells the key
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
        ngram_max=1, min_count=1, max_vocab=50, dim=3, selection="frequency", nb_scale=0.0
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
    chosen = set(_vocabulary(texts, config, labels))
    assert chosen == {ngram_key("bad"), ngram_key("good")}  # not the frequent "the"
    frequent = dataclasses.replace(config, selection="frequency")
    assert _vocabulary(texts, frequent, labels)[0] == ngram_key("the")
    with pytest.raises(ValueError, match="need one label per text"):
        export_embedding(texts, config, Path("unused"), seed=0)


def test_unknown_ngrams_are_ignored_and_nb_init_leans_each_way(tmp_path: Path) -> None:
    texts = ["good fun", "good plot", "bad plot", "bad fun"]
    config = EmbeddingConfig(ngram_max=1, min_count=1, max_vocab=10, dim=2, nb_scale=1.0)
    module_dir = export_embedding(texts, config, tmp_path / "m", 0, labels=np.array([1, 1, 0, 0]))
    module = tf.saved_model.load(str(module_dir))
    vectors = module(tf.constant(["good", "good zzz unseen", "bad", "zzz"])).numpy()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # unknown words add nothing
    assert vectors[0][0] > 0 > vectors[2][0]  # column 0 starts at the log-count ratio
    assert np.all(vectors[3] == 0)
