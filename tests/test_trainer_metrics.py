"""The numpy metrics against brute-force definitions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from trainer.metrics import confusion_matrix, evaluate, log_loss, roc_auc


def _auc_by_pairs(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    return float(np.mean(wins))


def test_roc_auc_matches_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) * 0.5 + labels * 0.3, 1)  # coarse: many ties
    assert roc_auc(labels, scores) == pytest.approx(_auc_by_pairs(labels, scores), abs=1e-12)
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert math.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_log_loss_and_confusion_matrix() -> None:
    labels = np.array([1, 0, 1, 0])
    probs = np.array([0.9, 0.2, 0.4, 0.6])
    expected = -np.mean(np.log([0.9, 0.8, 0.4, 0.4]))
    assert log_loss(labels, probs) == pytest.approx(expected)
    assert np.isfinite(log_loss(np.array([1, 0]), np.array([0.0, 1.0])))  # clipped
    assert confusion_matrix(labels, probs >= 0.5) == [[1, 1], [1, 1]]


def test_evaluate_reports_all_figures() -> None:
    result = evaluate(np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.7, 0.6, 0.9, 0.3]), 0.5)
    assert result == {
        "accuracy": 0.6,
        "roc_auc": pytest.approx(4 / 6, abs=1e-6),
        "log_loss": pytest.approx(
            log_loss(np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.7, 0.6, 0.9, 0.3])), abs=1e-6
        ),
        "confusion_matrix": [[1, 1], [1, 2]],
        "n": 5,
    }
