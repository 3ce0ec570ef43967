"""Binary classification metrics in numpy (scikit-learn is not a dependency)."""

from __future__ import annotations

from typing import Any

import numpy as np

_EPS = 1e-7


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney U statistic; tied scores count half."""
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(labels.size, dtype=np.float64)
    # Average ranks (1-based) over runs of equal scores.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], labels.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary cross-entropy in nats, probabilities clipped away from 0 and 1."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """`[[tn, fp], [fn, tp]]`: rows are the true label 0, 1; columns the predicted label."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(predicted).astype(int)
    return [[int(np.sum((y == t) & (p == q))) for q in (0, 1)] for t in (0, 1)]


def evaluate(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, Any]:
    """The figures model.json reports for one split."""
    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = (probabilities >= threshold).astype(int)
    return {
        "accuracy": round(float(np.mean(predicted == labels)), 6),
        "roc_auc": round(roc_auc(labels, probabilities), 6),
        "log_loss": round(log_loss(labels, probabilities), 6),
        "confusion_matrix": confusion_matrix(labels, predicted),
        "n": int(labels.size),
    }
