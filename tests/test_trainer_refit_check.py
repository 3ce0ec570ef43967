"""The refit check: disjoint judges, paired figures, training data only (tiny made-up reviews)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trainer_helpers import make_reviews, record_loads, write_jsonl

from trainer import refit_check
from trainer.data import Examples, split_validation

TINY = ["--max-vocab", "300", "--min-count", "1", "--embedding-dim", "4"]
TINY += ["--epochs", "4", "--batch-size", "16", "--learning-rate", "0.02"]


def test_folds_are_disjoint_cover_everything_and_the_first_is_trains_validation_split() -> None:
    folds = refit_check.outer_folds(200, 10, seed=42)
    assert [len(f) for f in folds] == [20] * 10
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(200))
    examples = Examples([str(i) for i in range(200)], np.zeros(200, np.int64), "x")
    _, validation = split_validation(examples, 0.1, seed=42)
    assert sorted(folds[0].tolist()) == sorted(int(t) for t in validation.texts)
    with pytest.raises(ValueError, match="folds must be between 2"):
        refit_check.outer_folds(200, 1, seed=42)


@pytest.mark.parametrize(
    ("wins", "losses", "p"),
    [(0, 0, 1.0), (5, 0, 0.0625), (0, 5, 0.0625), (3, 3, 1.0), (9, 1, 0.021484375)],
)
def test_sign_test_is_the_exact_two_sided_binomial(wins: int, losses: int, p: float) -> None:
    assert refit_check.sign_test_p(wins, losses) == pytest.approx(p)


def _fold(fold: int, without: float, with_: float, right: int, wrong: int) -> Any:
    def figures(accuracy: float) -> dict[str, Any]:
        return {"accuracy": accuracy, "roc_auc": accuracy + 0.05, "log_loss": 1 - accuracy}

    return refit_check.FoldResult(
        fold, 1000, 8100, 900, 0.9, 5, figures(without), figures(with_), right, wrong, 1.0
    )


def test_summary_pairs_the_two_models_fold_by_fold() -> None:
    results = [_fold(0, 0.90, 0.92, 30, 10), _fold(1, 0.91, 0.90, 5, 15), _fold(2, 0.9, 0.9, 2, 2)]
    summary = refit_check.summarise(results)
    assert summary["difference_mean"] == pytest.approx(0.01 / 3, abs=1e-6)
    assert summary["difference_sd"] == pytest.approx(np.std([0.02, -0.01, 0.0], ddof=1), abs=1e-6)
    assert (summary["difference_min"], summary["difference_max"]) == (-0.01, 0.02)
    assert summary["folds_refit_better"] == summary["folds_refit_worse"] == 1
    assert summary["folds_refit_equal"] == 1
    assert summary["pooled_accuracy_without_refit"] == pytest.approx(0.9033333, abs=1e-6)
    assert summary["pooled_accuracy_with_refit"] == pytest.approx(0.9066667, abs=1e-6)
    assert (summary["reviews_only_refit_right"], summary["reviews_only_refit_wrong"]) == (37, 27)
    assert summary["folds_roc_auc_better_with_refit"] == 1
    assert summary["folds_log_loss_better_with_refit"] == 1
    assert summary["mean_log_loss_with_refit"] == pytest.approx(0.0933333, abs=1e-6)
    table = refit_check.format_table(results, summary)
    assert "| 1 | 1,000 | 0.9000 | 5 | 0.9100 | 0.9000 | -0.0100 | 5 / 15 |" in table


def test_check_trains_both_ways_on_train_only_and_writes_every_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "train.jsonl.gz", make_reviews(120, seed=1))
    loaded = record_loads(monkeypatch)
    results = tmp_path / "out" / "refit.json"
    argv = ["--data", str(data), "--folds", "3", "--runs", "2", "--results", str(results)]
    assert refit_check.main([*argv, *TINY]) == 0

    assert loaded == [(str(data), "train")]  # the one file it was given, nothing else
    report = json.loads(results.read_text())
    folds = report["per_fold"]
    assert [f["fold"] for f in folds] == [0, 1]
    per_fold_file = results.with_suffix(".folds.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in per_fold_file] == folds
    for fold in folds:
        assert fold["judge_n"] == 40
        assert (fold["inner_train_n"], fold["inner_validation_n"]) == (72, 8)
        assert 1 <= fold["chosen_epochs"] <= 4
        assert fold["without_refit"]["n"] == fold["with_refit"]["n"] == 40
        assert fold["with_refit"]["accuracy"] >= 0.9  # the made-up reviews are easy
        # Two different models were judged: the refit saw 80 reviews, not 72.
        assert fold["with_refit"]["log_loss"] != fold["without_refit"]["log_loss"]
    assert report["summary"]["folds"] == 2
    assert report["folds_in_partition"] == 3
    assert report["hyperparameters"]["max_vocab"] == 300
    printed = capsys.readouterr().out
    assert "| fold | judge n | inner-val accuracy | chosen epochs |" in printed
    assert f"written: {results}" in printed

    # --summarise trains nothing and prints the same table from the per-fold file.
    assert refit_check.main(["--summarise", str(results.with_suffix(".folds.jsonl"))]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| fold |")
    assert printed.removesuffix(f"written: {results}\n").endswith(table)  # after Keras' lines
