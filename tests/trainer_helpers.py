"""Tiny, made-up review data for the trainer tests: learnable in a few steps, no download."""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path
from typing import Any

POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "moving", "fun"]
NEGATIVE = ["awful", "boring", "hated", "terrible", "dull", "worst", "waste"]
FILLER = ["the", "film", "movie", "plot", "actor", "scene", "story", "was", "and", "a", "it"]


def make_reviews(n: int, seed: int = 0) -> list[dict[str, object]]:
    """`n` rows `{"id", "text", "label"}`, half positive, sorted by label like the real file."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = int(i < n // 2)
        words = rng.choices(FILLER, k=12) + rng.choices(POSITIVE if label else NEGATIVE, k=3)
        rng.shuffle(words)
        text = " ".join(words).capitalize() + ("!" if label else ".") + " <br /><br />The end."
        rows.append({"id": f"r{i}", "text": text, "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_aclimdb(root: Path, split: str, rows: list[dict[str, object]]) -> Path:
    """The original layout: `<root>/<split>/{pos,neg}/<n>_<rating>.txt`."""
    for n, row in enumerate(rows):
        polarity, rating = ("pos", 8) if row["label"] == 1 else ("neg", 2)
        folder = root / split / polarity
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n}_{rating}.txt").write_text(str(row["text"]), encoding="utf-8")
    return root


def record_loads(monkeypatch: Any) -> list[tuple[str, str]]:
    """Patch `trainer.data.load_examples` to note each (source, split) it is asked for, so a
    test can assert which data a command read (the test file must never be among them)."""
    import trainer.data

    loaded: list[tuple[str, str]] = []
    real_load = trainer.data.load_examples

    def recording_load(source: str, split: str = "train") -> trainer.data.Examples:
        loaded.append((source, split))
        return real_load(source, split)

    monkeypatch.setattr(trainer.data, "load_examples", recording_load)
    return loaded
