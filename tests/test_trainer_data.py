"""Data loaders: each source reads a tiny fixture; bad rows fail naming the file and line."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from trainer_helpers import make_reviews, write_aclimdb, write_csv, write_jsonl

from trainer.data import DataError, Examples, load_examples, split_validation

ROWS = make_reviews(10)


@pytest.mark.parametrize("name", ["reviews.jsonl", "reviews.jsonl.gz", "reviews.csv"])
def test_file_loaders_read_texts_and_labels(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    (write_csv if name.endswith(".csv") else write_jsonl)(path, ROWS)
    examples = load_examples(str(path))
    assert examples.texts == [r["text"] for r in ROWS]
    assert examples.labels.tolist() == [r["label"] for r in ROWS]
    assert examples.labels.dtype == np.int64
    assert len(examples.sha256[name]) == 64


def test_aclimdb_root_and_split_folders(tmp_path: Path) -> None:
    write_aclimdb(tmp_path / "aclImdb", "train", ROWS)
    write_aclimdb(tmp_path / "aclImdb", "test", ROWS[3:7])
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir()  # ignored, as in the real release
    train = load_examples(str(tmp_path / "aclImdb"), "train")
    assert len(train) == 10
    assert sorted(train.labels.tolist()) == sorted(r["label"] for r in ROWS)
    assert set(train.texts) == {r["text"] for r in ROWS}
    assert len(load_examples(str(tmp_path / "aclImdb"), "test")) == 4
    same = load_examples(str(tmp_path / "aclImdb" / "train"))
    assert same.texts == train.texts
    assert same.sha256 == train.sha256


def test_aclimdb_rejects_misfiled_review(tmp_path: Path) -> None:
    write_aclimdb(tmp_path, "train", ROWS)
    (tmp_path / "train" / "pos" / "99_1.txt").write_text("a one-star review", encoding="utf-8")
    with pytest.raises(DataError, match=r"99_1\.txt: rating 1 does not fit folder pos/"):
        load_examples(str(tmp_path), "train")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "fine", "label": 1}\n{"label": 0}\n', r"bad\.jsonl:2: missing key\(s\) text"),
        (
            '{"text": "fine", "label": 1}\n{"text": "x", "label": 2}\n',
            r":2: `label` must be 0 or 1",
        ),
        ('{"text": "ok", "label": "pos"}\n', r"bad\.jsonl:1: `label` must be 0 or 1, got 'pos'"),
        ('{"text": "", "label": 1}\n', r":1: `text` is empty"),
        ('{"text": "fine", "label": 1}\n{oops\n', r"bad\.jsonl:2: not valid JSON"),
        ("", r"bad\.jsonl: the file holds no examples"),
        ("\n\n", r"the file holds no examples"),
    ],
)
def test_bad_jsonl_names_the_problem_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_examples(str(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("review,label\nfine,1\n", r"bad\.csv:1: header lacks column\(s\) text"),
        ("text,label\nfine,1\nnot good,yes\n", r"bad\.csv:3: `label` must be 0 or 1, got 'yes'"),
        ("text,label\n", r"bad\.csv: the file holds no examples"),
        ("text,label\nfine\n", r"bad\.csv:2: wrong number of fields"),
    ],
)
def test_bad_csv_names_the_problem_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_examples(str(path))


def test_missing_and_unknown_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        load_examples(str(tmp_path / "nope.jsonl"))
    (tmp_path / "data.parquet").write_bytes(b"x")
    with pytest.raises(DataError, match="unknown data format"):
        load_examples(str(tmp_path / "data.parquet"))
    with pytest.raises(DataError, match="not an aclImdb folder"):
        load_examples(str(tmp_path))


def test_tfds_without_the_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import raises ImportError
    with pytest.raises(DataError, match=r"tensorflow_datasets.*not installed.*scorer\[tfds\]"):
        load_examples("tfds:imdb_reviews", "train")


def test_validation_split_is_seeded_disjoint_and_mixed() -> None:
    examples = load_examples_from_rows(make_reviews(200))
    train_a, val_a = split_validation(examples, 0.1, seed=7)
    _, val_b = split_validation(examples, 0.1, seed=7)
    assert val_a.texts == val_b.texts
    assert len(val_a) == 20
    assert len(train_a) == 180
    assert not set(val_a.texts) & set(train_a.texts)
    assert 0 < val_a.labels.mean() < 1  # shuffled, not a prefix of the label-sorted rows
    assert split_validation(examples, 0.1, seed=8)[1].texts != val_a.texts


def load_examples_from_rows(rows: list[dict[str, object]]) -> Examples:
    return Examples([str(r["text"]) for r in rows], np.array([r["label"] for r in rows]), "rows")
