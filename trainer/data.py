"""Labelled review loaders: JSON Lines, CSV, the aclImdb folder layout, tensorflow_datasets.

Every loader returns the same `Examples` and rejects bad rows with an error naming the file and
line, because a silently skipped row or a label of 2 would only show up as a worse model.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TFDS_PREFIX = "tfds:"
_ACLIMDB_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")


class DataError(ValueError):
    """Training data that cannot be used as it is; the message says where and why."""


@dataclass
class Examples:
    """Texts with 0/1 labels (1 = positive) and where they came from."""

    texts: list[str]
    labels: np.ndarray
    source: str
    sha256: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> Examples:
        return Examples(
            [self.texts[i] for i in indices], self.labels[indices], self.source, self.sha256
        )


def load_examples(source: str, split: str = "train") -> Examples:
    """Read a `.jsonl`/`.jsonl.gz`/`.csv` file, an aclImdb folder or `tfds:NAME`.

    `split` only matters for sources that hold several splits (an aclImdb root folder with
    `train/` and `test/`, or a tensorflow_datasets name).
    """
    if source.startswith(TFDS_PREFIX):
        return load_tfds(source[len(TFDS_PREFIX) :], split)
    path = Path(source)
    if path.is_dir():
        return load_aclimdb(path, split)
    if not path.is_file():
        raise DataError(f"{source}: no such file or folder")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json", ".ndjson")):
        examples = load_jsonl(path)
    elif name.endswith(".csv"):
        examples = load_csv(path)
    else:
        raise DataError(
            f"{source}: unknown data format (expected .jsonl, .jsonl.gz, .csv, an aclImdb "
            f"folder or {TFDS_PREFIX}imdb_reviews)"
        )
    if not examples.texts:
        raise DataError(f"{source}: the file holds no examples")
    return examples


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _check_row(where: str, text: object, label: object) -> tuple[str, int]:
    """Validate one row: a non-empty string and a label that is 0 or 1 (ints or "0"/"1")."""
    if not isinstance(text, str):
        raise DataError(f"{where}: `text` must be a string, got {type(text).__name__}")
    if not text.strip():
        raise DataError(f"{where}: `text` is empty")
    if isinstance(label, bool) or label not in (0, 1, "0", "1"):
        raise DataError(f"{where}: `label` must be 0 or 1, got {label!r}")
    return text, int(label)  # type: ignore[call-overload]


def _finish(rows: Iterator[tuple[str, int]], source: Path) -> Examples:
    texts: list[str] = []
    labels: list[int] = []
    for text, label in rows:
        texts.append(text)
        labels.append(label)
    return Examples(
        texts, np.asarray(labels, dtype=np.int64), str(source), {source.name: file_sha256(source)}
    )


def load_jsonl(path: Path) -> Examples:
    """One JSON object per line with `text` and `label`; blank lines are allowed."""

    def rows() -> Iterator[tuple[str, int]]:
        with _open_text(path) as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{where}: not valid JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{where}: expected a JSON object")
                missing = [k for k in ("text", "label") if k not in row]
                if missing:
                    raise DataError(f"{where}: missing key(s) {', '.join(missing)}")
                yield _check_row(where, row["text"], row["label"])

    return _finish(rows(), path)


def load_csv(path: Path) -> Examples:
    """A CSV file whose header names a `text` and a `label` column (other columns ignored)."""

    def rows() -> Iterator[tuple[str, int]]:
        with _open_text(path) as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [k for k in ("text", "label") if k not in header]
            if missing:
                raise DataError(
                    f"{path}:1: header lacks column(s) {', '.join(missing)} (found {header})"
                )
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if None in row or any(row[k] is None for k in ("text", "label")):
                    raise DataError(f"{where}: wrong number of fields")
                yield _check_row(where, row["text"], row["label"].strip())

    return _finish(rows(), path)


def load_aclimdb(root: Path, split: str) -> Examples:
    """The original release: `<split>/pos/<n>_<rating>.txt` and `<split>/neg/...`.

    `root` may be the split folder itself (holding `pos/` and `neg/`) or the `aclImdb` folder.
    The `unsup/` folder is ignored. Files are read in sorted order, so the hash is stable.
    """
    folder = root if (root / "pos").is_dir() else root / split
    if not (folder / "pos").is_dir() or not (folder / "neg").is_dir():
        raise DataError(f"{root}: not an aclImdb folder (expected pos/ and neg/ or {split}/pos/)")
    texts: list[str] = []
    labels: list[int] = []
    digest = hashlib.sha256()
    for polarity, label in (("neg", 0), ("pos", 1)):
        for path in sorted((folder / polarity).iterdir()):
            match = _ACLIMDB_NAME.match(path.name)
            if not match:
                raise DataError(f"{path}: file name is not <n>_<rating>.txt")
            rating = int(match.group(2))
            if (rating >= 7) != bool(label):
                raise DataError(f"{path}: rating {rating} does not fit folder {polarity}/")
            data = path.read_bytes()
            digest.update(f"{polarity}/{path.name}\0".encode())
            digest.update(data)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}: not UTF-8 ({e.reason})") from None
            texts.append(_check_row(str(path), text, label)[0])
            labels.append(label)
    if not texts:
        raise DataError(f"{folder}: pos/ and neg/ hold no reviews")
    return Examples(
        texts, np.asarray(labels, dtype=np.int64), str(folder), {folder.name: digest.hexdigest()}
    )


def load_tfds(name: str, split: str) -> Examples:
    """A tensorflow_datasets dataset such as `imdb_reviews` (downloads, so needs a network)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(
            f"{TFDS_PREFIX}{name} needs the optional package tensorflow_datasets, which is not "
            "installed: pip install 'scorer[tfds]' (or use a local .jsonl/.csv/aclImdb copy)"
        ) from None
    dataset = tfds.load(name, split=split, as_supervised=True)
    texts: list[str] = []
    labels: list[int] = []
    for number, (text, label) in enumerate(tfds.as_numpy(dataset)):
        texts.append(_check_row(f"{name}[{split}][{number}]", text.decode("utf-8"), int(label))[0])
        labels.append(int(label))
    return Examples(texts, np.asarray(labels, dtype=np.int64), f"{TFDS_PREFIX}{name}/{split}")


def split_validation(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """A seeded random (train, validation) split; the input may be sorted by label."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction}")
    order = np.random.default_rng(seed).permutation(len(examples))
    n_val = max(1, round(len(examples) * fraction))
    if n_val >= len(examples):
        raise DataError(f"{examples.source}: too few examples ({len(examples)}) to hold out any")
    return examples.subset(order[n_val:]), examples.subset(order[:n_val])
