"""The offline default text embedding: a learned bag of word n-grams in TF-Hub format.

It plays the role `nnlm-en-dim50` played in the original system (strings in, one fixed-size
vector out, all preprocessing inside the graph) but needs no download: the trainer builds its
vocabulary from the training texts, saves it as a reusable SavedModel and loads it back through
`hub.KerasLayer`, exactly as it would load a module from tfhub.dev.
"""

from __future__ import annotations

import collections
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

# `<br />` is how aclImdb (and most scraped reviews) mark line breaks.
_BREAK_TAG = r"<br\s*/?\s*>"
# Anything that is not a letter, digit, apostrophe or space becomes a token of its own, so
# "great!" yields "great" and "!" (punctuation carries sentiment: "!!!", "?", ":)").
_PUNCTUATION = r"([^\pL\pN'\s])"


@dataclass(frozen=True)
class EmbeddingConfig:
    """What defines the module: n-gram widths, vocabulary limits, vector size."""

    ngram_max: int = 3
    min_count: int = 2
    max_vocab: int = 100_000
    oov_buckets: int = 1_000
    dim: int = 8
    init_scale: float = 0.1
    binary: bool = True
    selection: str = "chi2"


def tokenize(text: tf.Tensor, ngram_max: int) -> tf.RaggedTensor:
    """Lowercase, drop `<br />`, split off punctuation, split on spaces, add word n-grams.

    Used both to build the vocabulary (in Python, eagerly) and inside the exported graph, so
    training and serving see the same tokens.
    """
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _BREAK_TAG, " ")
    text = tf.strings.regex_replace(text, _PUNCTUATION, r" \1 ")
    words = tf.strings.split(text)
    if ngram_max <= 1:
        return words
    return tf.strings.ngrams(words, ngram_width=list(range(1, ngram_max + 1)), separator=" ")


def _chi2(in_pos: np.ndarray, in_neg: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """Chi-squared statistic of the 2x2 table (n-gram present or not) x (label 1 or 0)."""
    a, b = in_pos.astype(np.float64), in_neg.astype(np.float64)
    c, d = n_pos - a, n_neg - b
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (a + b + c + d) * (a * d - b * c) ** 2 / denominator
    return np.nan_to_num(score)


def build_vocabulary(
    texts: Sequence[str],
    config: EmbeddingConfig,
    labels: np.ndarray | None = None,
    batch_size: int = 2048,
) -> list[str]:
    """The n-grams seen at least `min_count` times, best first, at most `max_vocab`.

    "Best" is the most frequent (`selection="frequency"`) or the most tied to the label
    (`"chi2"`, needs `labels`): with a capped vocabulary, rows go to n-grams such as "not
    worth" rather than to frequent neutral ones such as "of the". Ties are broken by the
    n-gram itself, so the same texts always give the same vocabulary.
    """
    if config.selection not in ("frequency", "chi2"):
        raise ValueError(f"unknown vocabulary selection {config.selection!r}")
    if config.selection == "chi2" and (labels is None or len(labels) != len(texts)):
        raise ValueError("chi2 vocabulary selection needs one label per text")
    counts: collections.Counter[bytes] = collections.Counter()
    in_docs = (collections.Counter[bytes](), collections.Counter[bytes]())  # label 0, label 1
    tokenize_batch = tf.function(
        lambda t: tokenize(t, config.ngram_max), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    for start in range(0, len(texts), batch_size):
        tokens = tokenize_batch(tf.constant(list(texts[start : start + batch_size]), tf.string))
        grams, splits = tokens.flat_values.numpy().tolist(), tokens.row_splits.numpy()
        counts.update(grams)
        if config.selection == "chi2":
            for row, (a, b) in enumerate(itertools.pairwise(splits)):
                in_docs[int(labels[start + row])].update(set(grams[a:b]))
    kept = sorted(g for g, c in counts.items() if c >= config.min_count)
    if config.selection == "chi2":
        assert labels is not None
        n_pos = int(np.sum(labels))
        score = _chi2(
            np.array([in_docs[1][g] for g in kept]),
            np.array([in_docs[0][g] for g in kept]),
            n_pos,
            len(labels) - n_pos,
        )
    else:
        score = np.array([counts[g] for g in kept], dtype=np.float64)
    order = np.argsort(-score, kind="stable")[: config.max_vocab]  # stable: ties stay sorted
    vocab = [kept[i].decode("utf-8") for i in order]
    log.info(
        "vocabulary: %d of %d distinct n-grams (min count %d, cap %d, by %s)",
        len(vocab),
        len(counts),
        config.min_count,
        config.max_vocab,
        config.selection,
    )
    return vocab


class NgramEmbedding(tf.__internal__.tracking.AutoTrackable):
    """Strings `[batch]` -> float32 `[batch, dim]`: sqrt-n-weighted sum of n-gram vectors.

    An AutoTrackable (not a tf.Module) because TF-Hub's reusable SavedModel interface needs
    *saved attributes* named `variables`, `trainable_variables` and `regularization_losses`;
    tf.Module defines read-only properties with those names, which are not saved. Without them
    `hub.KerasLayer(trainable=True)` silently gets zero trainable weights.
    """

    def __init__(self, vocab_file: str | Path, config: EmbeddingConfig, seed: int) -> None:
        super().__init__()
        self.ngram_max = config.ngram_max
        self.binary = config.binary
        with Path(vocab_file).open(encoding="utf-8") as f:
            vocab_size = sum(1 for _ in f)
        self.vocab_file = tf.saved_model.Asset(str(vocab_file))
        initializer = tf.lookup.TextFileInitializer(
            self.vocab_file,
            key_dtype=tf.string,
            key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64,
            value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
        )
        self.table = tf.lookup.StaticVocabularyTable(initializer, config.oov_buckets)
        rows = vocab_size + config.oov_buckets
        init = tf.random.stateless_uniform(
            [rows, config.dim], seed=[seed, 0], minval=-config.init_scale, maxval=config.init_scale
        )
        self.embeddings = tf.Variable(init, name="embeddings")
        self.variables = [self.embeddings]
        self.trainable_variables = [self.embeddings]
        self.regularization_losses = []

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        ids = self.table.lookup(tokenize(text, self.ngram_max))
        rows, ids, nrows = ids.value_rowids(), ids.flat_values, ids.nrows()
        if self.binary:
            # Presence, not counts: each distinct n-gram counts once per text (as in NBSVM).
            # Unique (row, id) pairs via one int64 key; the order of first occurrence is kept.
            size = tf.cast(tf.shape(self.embeddings)[0], tf.int64)
            keys, _ = tf.unique(rows * size + ids)
            rows, ids = keys // size, keys % size
        sums = tf.math.unsorted_segment_sum(tf.gather(self.embeddings, ids), rows, nrows)
        counts = tf.math.bincount(rows, minlength=nrows, maxlength=nrows, dtype=tf.float32)
        return sums / tf.sqrt(tf.maximum(counts, 1.0))[:, tf.newaxis]


def export_embedding(
    texts: Sequence[str],
    config: EmbeddingConfig,
    directory: str | Path,
    seed: int,
    labels: np.ndarray | None = None,
) -> Path:
    """Build the vocabulary from `texts` and save an untrained module in TF-Hub format."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = build_vocabulary(texts, config, labels)
    if not vocab:
        raise ValueError(
            f"empty vocabulary: no n-gram occurs {config.min_count} or more times in the "
            f"{len(texts)} training texts (lower --min-count)"
        )
    staging = directory.parent / f"{directory.name}.vocab.txt"
    staging.write_text("".join(f"{g}\n" for g in vocab), encoding="utf-8")
    try:
        module = NgramEmbedding(staging, config, seed)
        tf.saved_model.save(module, str(directory))
    finally:
        staging.unlink()
    return directory
