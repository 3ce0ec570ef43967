"""The offline default text embedding: a learned bag of hashed word n-grams in TF-Hub format.

It plays the role `nnlm-en-dim50` played in the original system (strings in, one fixed-size
vector out, all preprocessing inside the graph) but needs no download: the trainer picks its
n-grams from the training texts, saves it as a reusable SavedModel and loads it back through
`hub.KerasLayer`, exactly as it would load a module from tfhub.dev.

Serving speed comes from never building an n-gram string: each word is hashed once
(`to_hash_bucket_fast`, a 64-bit fingerprint) and an n-gram's key is computed from its words'
hashes with integer shifts and xors, then looked up in an int64 -> row hash table. N-grams
outside the vocabulary are dropped, not hashed into shared rows, so the gather and sum only
see the rows that carry weight.
"""

from __future__ import annotations

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
# Word hashes in [0, 2**62). Longer n-grams' keys may wrap around int64 (shifts and xors are
# plain bit operations, the same in the graph and in `ngram_key`); two distinct n-grams of a
# 100,000-row vocabulary share a key with odds of about 1e-9.
_HASH_BUCKETS = 2**62
# Vocabulary file: `<key>\t<n-gram>` per line; the line number is the embedding row.
VOCAB_DELIMITER = "\t"


@dataclass(frozen=True)
class EmbeddingConfig:
    """What defines the module: n-gram widths, vocabulary limits, vector size, initialisation."""

    ngram_max: int = 3
    min_count: int = 2
    max_vocab: int = 100_000
    dim: int = 16
    init_scale: float = 0.1
    binary: bool = True
    selection: str = "chi2"
    nb_scale: float = 0.3


def normalize(text: tf.Tensor) -> tf.Tensor:
    """Lowercase (ASCII, byte by byte), drop `<br />`, put spaces around punctuation."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, _BREAK_TAG, " ")
    return tf.strings.regex_replace(text, _PUNCTUATION, r" \1 ")


def words(text: tf.Tensor) -> tf.RaggedTensor:
    """`[batch]` strings -> ragged `[batch, (words)]` strings, as the model sees them."""
    return tf.strings.split(normalize(text))


def ngram_keys(text: tf.Tensor, ngram_max: int) -> tuple[tf.Tensor, tf.Tensor, tf.RaggedTensor]:
    """Every word 1- to `ngram_max`-gram of each text as an int64 key.

    Returns `(keys, valid, tokens)`: `keys` and `valid` are `[words, ngram_max]`, row i holding
    the keys of the 1-, 2-, ... grams that start at word i (flat over the batch, so texts are
    contiguous and in order); `valid` is False where an n-gram would run past its text's end.
    The key of the n-gram starting at word i is `((h[i] << 1) ^ h[i+1]) << 1 ^ ...` over the
    words' 62-bit hashes, so no n-gram string is ever built.
    """
    tokens = words(text)
    hashes = tf.strings.to_hash_bucket_fast(tokens.flat_values, _HASH_BUCKETS)
    if ngram_max == 1:
        return hashes[:, tf.newaxis], tf.ones_like(hashes, tf.bool)[:, tf.newaxis], tokens
    rows = tokens.value_rowids()
    n = tf.shape(hashes, out_type=tf.int64)[0]
    pad = ngram_max - 1
    padded_hashes = tf.concat([hashes, tf.zeros([pad], tf.int64)], 0)
    padded_rows = tf.concat([rows, tf.fill([pad], tf.constant(-1, tf.int64))], 0)
    one = tf.constant(1, tf.int64)
    key, keys, valid = padded_hashes, [hashes], [tf.ones_like(hashes, tf.bool)]
    for width in range(2, ngram_max + 1):
        # key[i] of width w = (key[i] of width w-1) << 1 ^ hash[i + w - 1]
        key = tf.bitwise.bitwise_xor(
            tf.bitwise.left_shift(key[:-1], one), padded_hashes[width - 1 :]
        )
        keys.append(key[:n])
        valid.append(tf.equal(rows, padded_rows[width - 1 : width - 1 + n]))
    return tf.stack(keys, axis=1), tf.stack(valid, axis=1), tokens


def _valid_keys(text: tf.Tensor, ngram_max: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The valid keys of `ngram_keys`, flat, with each one's text (row) index."""
    keys, valid, tokens = ngram_keys(text, ngram_max)
    where = tf.where(tf.reshape(valid, [-1]))[:, 0]
    rows = tf.gather(tokens.value_rowids(), where // ngram_max)
    return tf.gather(tf.reshape(keys, [-1]), where), rows


def ngram_key(ngram: str) -> int:
    """The key `ngram_keys` gives the n-gram whose words are `ngram.split(" ")` (for tests)."""
    hashes = tf.strings.to_hash_bucket_fast(ngram.split(" "), _HASH_BUCKETS).numpy().tolist()
    key = hashes[0]
    for h in hashes[1:]:
        key = ((key << 1) & 0xFFFFFFFFFFFFFFFF) ^ h
    return key - (1 << 64) if key >= 1 << 63 else key


@dataclass
class NgramStatistics:
    """Per distinct n-gram key (sorted): in how many texts of each label it occurs."""

    keys: np.ndarray  # int64, sorted
    in_neg: np.ndarray
    in_pos: np.ndarray

    @property
    def in_docs(self) -> np.ndarray:
        return self.in_neg + self.in_pos


def count_ngrams(
    texts: Sequence[str], labels: np.ndarray, ngram_max: int, batch_size: int = 2048
) -> NgramStatistics:
    """Document frequencies of every n-gram key, per label (each text counts a key once)."""
    keys_fn = tf.function(
        lambda t: _valid_keys(t, ngram_max), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    per_label: list[list[np.ndarray]] = [[], []]
    for start in range(0, len(texts), batch_size):
        keys, rows = keys_fn(tf.constant(list(texts[start : start + batch_size]), tf.string))
        keys, rows = keys.numpy(), rows.numpy()
        # Distinct (text, key) pairs: sort by key within text, keep the first of each run.
        order = np.lexsort((keys, rows))
        keys, rows = keys[order], rows[order]
        first = np.ones(len(keys), bool)
        first[1:] = (keys[1:] != keys[:-1]) | (rows[1:] != rows[:-1])
        doc_labels = labels[start + rows[first]]
        for label in (0, 1):
            per_label[label].append(keys[first][doc_labels == label])
    uniques = [np.unique(np.concatenate(k), return_counts=True) for k in per_label]
    all_keys = np.union1d(uniques[0][0], uniques[1][0])
    counts = []
    for label_keys, label_counts in uniques:
        c = np.zeros(len(all_keys), np.int64)
        c[np.searchsorted(all_keys, label_keys)] = label_counts
        counts.append(c)
    return NgramStatistics(all_keys, counts[0], counts[1])


def _chi2(in_pos: np.ndarray, in_neg: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """Chi-squared statistic of the 2x2 table (n-gram present or not) x (label 1 or 0)."""
    a, b = in_pos.astype(np.float64), in_neg.astype(np.float64)
    c, d = n_pos - a, n_neg - b
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (a + b + c + d) * (a * d - b * c) ** 2 / denominator
    return np.nan_to_num(score)


def log_count_ratio(in_pos: np.ndarray, in_neg: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """NBSVM's r = log((p / |p|_1) / (q / |q|_1)), p and q the smoothed per-label counts."""
    p = in_pos.astype(np.float64) + alpha
    q = in_neg.astype(np.float64) + alpha
    return np.log(p / p.sum()) - np.log(q / q.sum())


def select_vocabulary(
    stats: NgramStatistics, config: EmbeddingConfig, labels: np.ndarray | None
) -> np.ndarray:
    """Indices into `stats` of the kept n-grams, best first, at most `max_vocab`.

    Kept: n-grams in at least `min_count` texts. "Best" is the most frequent
    (`selection="frequency"`) or the most tied to the label (`"chi2"`): with a capped
    vocabulary, rows go to n-grams such as "not worth" rather than to frequent neutral ones
    such as "of the". Ties are broken by the key, so the same texts give the same vocabulary.
    """
    kept = np.flatnonzero(stats.in_docs >= config.min_count)
    if config.selection == "chi2":
        assert labels is not None
        n_pos = int(np.sum(labels))
        score = _chi2(stats.in_pos[kept], stats.in_neg[kept], n_pos, len(labels) - n_pos)
    else:
        score = stats.in_docs[kept].astype(np.float64)
    order = np.argsort(-score, kind="stable")[: config.max_vocab]  # stable: ties stay sorted
    return kept[order]


def spell_ngrams(texts: Sequence[str], keys: np.ndarray, ngram_max: int) -> list[str]:
    """The text of each key's n-gram (words joined by spaces), for the readable vocabulary file.

    Only for people reading `assets/`: serving never looks at it. Keys of n-grams not seen in
    `texts` get an empty string.
    """

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def grams(text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        tokens = words(text)
        keys, valid, _ = ngram_keys(text, ngram_max)
        # Width by width, the valid keys are in the order tf.strings.ngrams spells them.
        return (
            tf.concat([tf.boolean_mask(keys[:, w], valid[:, w]) for w in range(ngram_max)], 0),
            tf.concat(
                [
                    tf.strings.ngrams(tokens, w + 1, separator=" ").flat_values
                    for w in range(ngram_max)
                ],
                0,
            ),
        )

    wanted = np.unique(keys)
    spelled: dict[int, str] = {}
    for start in range(0, len(texts), 2048):
        batch_keys, batch_grams = grams(tf.constant(list(texts[start : start + 2048]), tf.string))
        batch_keys = batch_keys.numpy()
        hit = np.flatnonzero(np.isin(batch_keys, wanted))
        found, first = np.unique(batch_keys[hit], return_index=True)
        new = [
            i for k, i in zip(found.tolist(), hit[first].tolist(), strict=True) if k not in spelled
        ]
        values = batch_grams.numpy()
        for i in new:
            spelled[int(batch_keys[i])] = values[i].decode("utf-8", "replace")
        if len(spelled) == len(wanted):
            break
    return [spelled.get(k, "") for k in keys.tolist()]


class NgramEmbedding(tf.__internal__.tracking.AutoTrackable):
    """Strings `[batch]` -> float32 `[batch, dim]`: sqrt-n-weighted sum of n-gram vectors.

    An AutoTrackable (not a tf.Module) because TF-Hub's reusable SavedModel interface needs
    *saved attributes* named `variables`, `trainable_variables` and `regularization_losses`;
    tf.Module defines read-only properties with those names, which are not saved. Without them
    `hub.KerasLayer(trainable=True)` silently gets zero trainable weights.
    """

    def __init__(
        self, vocab_file: str | Path, config: EmbeddingConfig, initial: np.ndarray
    ) -> None:
        super().__init__()
        self.ngram_max = config.ngram_max
        self.binary = config.binary
        self.vocab_file = tf.saved_model.Asset(str(vocab_file))
        initializer = tf.lookup.TextFileInitializer(
            self.vocab_file,
            key_dtype=tf.int64,
            key_index=0,
            value_dtype=tf.int64,
            value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            delimiter=VOCAB_DELIMITER,
        )
        self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)
        self.embeddings = tf.Variable(tf.constant(initial, tf.float32), name="embeddings")
        self.variables = [self.embeddings]
        self.trainable_variables = [self.embeddings]
        self.regularization_losses = []

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        keys, valid, tokens = ngram_keys(text, self.ngram_max)
        ids = tf.reshape(self.table.lookup(keys), [-1])
        # N-grams outside the vocabulary carry no weight (dropped, not bucketed), and neither
        # do the ones that would run past their text's end. One pass keeps the rest.
        where = tf.where(tf.logical_and(ids >= 0, tf.reshape(valid, [-1])))[:, 0]
        ids = tf.gather(ids, where)
        rows = tf.gather(tokens.value_rowids(), where // self.ngram_max)
        nrows = tokens.nrows()
        if self.binary:
            # Presence, not counts: each distinct n-gram counts once per text (as in NBSVM).
            # Unique (row, id) pairs via one int64 key; first occurrences keep rows sorted.
            size = tf.cast(tf.shape(self.embeddings)[0], tf.int64)
            pairs, _ = tf.unique(rows * size + ids)
            rows, ids = pairs // size, pairs % size
        # Gather, sum per text and divide by sqrt(n-grams in the text), in one kernel;
        # a text with no known n-gram gets the zero vector.
        return tf.sparse.segment_sqrt_n(self.embeddings, ids, rows, num_segments=nrows)


def initial_embeddings(config: EmbeddingConfig, ratios: np.ndarray, seed: int) -> np.ndarray:
    """Uniform(-init_scale, init_scale) rows; with `nb_scale`, column 0 starts at `nb_scale * r`.

    r is the n-gram's NB log-count ratio (NBSVM): the embedding starts out knowing which way
    each n-gram leans, and training refines it.
    """
    init = tf.random.stateless_uniform(
        [len(ratios), config.dim],
        seed=[seed, 0],
        minval=-config.init_scale,
        maxval=config.init_scale,
    ).numpy()
    if config.nb_scale:
        init[:, 0] = config.nb_scale * ratios
    return init


def export_embedding(
    texts: Sequence[str],
    config: EmbeddingConfig,
    directory: str | Path,
    seed: int,
    labels: np.ndarray | None = None,
) -> Path:
    """Pick the n-grams from `texts` and save an untrained module in TF-Hub format."""
    if config.selection not in ("frequency", "chi2"):
        raise ValueError(f"unknown vocabulary selection {config.selection!r}")
    needs_labels = config.selection == "chi2" or config.nb_scale
    if needs_labels and (labels is None or len(labels) != len(texts)):
        raise ValueError("chi2 selection and NB initialisation need one label per text")
    if labels is None:
        labels = np.zeros(len(texts), np.int64)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stats = count_ngrams(texts, np.asarray(labels), config.ngram_max)
    chosen = select_vocabulary(stats, config, labels)
    log.info(
        "vocabulary: %d of %d distinct n-grams (in >= %d texts, cap %d, by %s)",
        len(chosen),
        len(stats.keys),
        config.min_count,
        config.max_vocab,
        config.selection,
    )
    if not len(chosen):
        raise ValueError(
            f"empty vocabulary: no n-gram occurs in {config.min_count} or more of the "
            f"{len(texts)} training texts (lower --min-count)"
        )
    ratios = log_count_ratio(stats.in_pos, stats.in_neg)[chosen]
    staging = directory.parent / f"{directory.name}.vocab.txt"
    keys = stats.keys[chosen]
    spellings = spell_ngrams(texts, keys, config.ngram_max)
    staging.write_text(
        "".join(
            f"{k}{VOCAB_DELIMITER}{g}\n" for k, g in zip(keys.tolist(), spellings, strict=True)
        ),
        encoding="utf-8",
    )
    try:
        module = NgramEmbedding(staging, config, initial_embeddings(config, ratios, seed))
        tf.saved_model.save(module, str(directory))
    finally:
        staging.unlink()
    return directory
