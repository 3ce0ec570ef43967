"""The config comparison: candidates against the shipped options, paired by fold, train only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from trainer_helpers import make_reviews, record_loads, write_jsonl

from trainer import config_compare
from trainer.config_compare import REFERENCE, Judged

TINY = ["--max-vocab", "300", "--min-count", "1", "--embedding-dim", "4"]
TINY += ["--epochs", "3", "--batch-size", "16", "--learning-rate", "0.02"]


def _judged(
    config: str, fold: int, accuracy: float, right: list[bool], loss: float = 0.3
) -> Judged:
    figures = {"accuracy": accuracy, "roc_auc": 0.9, "log_loss": loss, "n": len(right)}
    bits = np.packbits(np.array(right, bool)).tobytes().hex()
    return Judged(config, fold, len(right), 5, 0.9, figures, bits, 1.0)


def test_candidate_options_change_only_what_they_name() -> None:
    reference = config_compare.model_parser().parse_args(["--learning-rate", "0.002"])
    name, options = config_compare.parse_candidate("dim32=--embedding-dim 32", reference)
    assert name == "dim32"
    assert options.embedding_dim == 32
    assert options.learning_rate == 0.002  # the reference's, not the parser default
    assert reference.embedding_dim == 16  # the reference itself untouched
    for bad in ["dim32", f"{REFERENCE}=--embedding-dim 8", "x=--no-such-option 1", "a b=--seed 1"]:
        with pytest.raises(ValueError, match="--candidate"):
            config_compare.parse_candidate(bad, reference)


def test_comparison_is_paired_by_fold_on_the_folds_both_have() -> None:
    right = [True, True, False, False]
    results = [
        _judged(REFERENCE, 0, 0.90, right),
        _judged("wide", 0, 0.92, [True, True, True, False]),  # one review only it gets right
        _judged(REFERENCE, 1, 0.91, right),
        _judged("wide", 1, 0.94, [False, True, True, True]),
        _judged(REFERENCE, 2, 0.90, right),  # "wide" not judged here yet: left out
    ]
    s = config_compare.compare(results, "wide")
    assert s["folds"] == 2
    assert s["gain_mean"] == pytest.approx(0.025)
    assert s["gain_se"] == pytest.approx(np.std([0.02, 0.03], ddof=1) / np.sqrt(2), abs=1e-6)
    assert (s["folds_better"], s["folds_worse"]) == (2, 0)
    assert (s["reviews_only_candidate_right"], s["reviews_only_reference_right"]) == (3, 1)
    assert s["accuracy_rule_passed"]  # 0.025 > 0.002 and >= 2 se (se 0.005)
    assert config_compare.complete_folds(results, [REFERENCE, "wide"]) == [0, 1]

    noisy = [*results[:2], _judged(REFERENCE, 1, 0.91, right), _judged("wide", 1, 0.89, right)]
    assert not config_compare.compare(noisy, "wide")["accuracy_rule_passed"]  # +0.02, -0.02
    small = [results[0], _judged("wide", 0, 0.901, right)]
    small += [results[2], _judged("wide", 2, 0.9015, right)]
    assert not config_compare.compare(small, "wide")["accuracy_rule_passed"]  # gain < 0.002
    with pytest.raises(ValueError, match="no fold"):
        config_compare.compare(results[:1], "wide")


def test_run_judges_every_config_on_train_only_fold_by_fold_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "train.jsonl.gz", make_reviews(120, seed=1))
    loaded = record_loads(monkeypatch)
    results = tmp_path / "out" / "compare.json"
    argv = ["--data", str(data), "--folds", "3", "--runs", "1", "--results", str(results), *TINY]
    argv += ["--candidate", "wide=--embedding-dim 8"]
    assert config_compare.main(argv) == 0

    assert loaded == [(str(data), "train")]  # the one file it was given, nothing else
    per_fold = results.with_suffix(".folds.jsonl")
    lines = [json.loads(line) for line in per_fold.read_text().splitlines()]
    assert [(x["config"], x["fold"]) for x in lines] == [(REFERENCE, 0), ("wide", 0)]
    for x in lines:
        assert x["judge_n"] == x["figures"]["n"] == 40
        mask = Judged(**x).right_mask()
        assert mask.sum() / 40 == pytest.approx(x["figures"]["accuracy"])
    assert lines[0]["figures"]["log_loss"] != lines[1]["figures"]["log_loss"]  # two models
    report = json.loads(results.read_text())
    assert report["configs"][REFERENCE]["dim"] == 4
    assert report["configs"]["wide"]["dim"] == 8
    assert report["configs"]["wide"]["max_vocab"] == 300  # the reference's, not the default
    assert report["comparisons"][0]["candidate"] == "wide"
    assert "| 0 | " in capsys.readouterr().out

    # --resume keeps fold 0 and adds fold 1 for both configs, in that order.
    assert config_compare.main([*argv, "--runs", "2", "--resume"]) == 0
    lines = [json.loads(line) for line in per_fold.read_text().splitlines()]
    assert [(x["config"], x["fold"]) for x in lines] == [
        (REFERENCE, 0),
        ("wide", 0),
        (REFERENCE, 1),
        ("wide", 1),
    ]
    capsys.readouterr()
    assert config_compare.main(["--summarise", str(per_fold)]) == 0
    table = capsys.readouterr().out
    assert table.startswith(f"| fold | {REFERENCE} | wide |")
    assert "| wide | 2 |" in table
