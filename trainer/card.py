"""The human-facing files beside the SavedModel: MODEL_CARD.md and training_curves.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_training_curves(history: dict[str, list[float]], path: Path, best_epoch: int) -> None:
    """Loss and accuracy per epoch, train vs validation, with the kept epoch marked."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = range(1, len(history.get("loss", [])) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, key, title in ((axes[0], "loss", "log loss"), (axes[1], "accuracy", "accuracy")):
        ax.plot(epochs, history.get(key, []), marker="o", label="train")
        ax.plot(epochs, history.get(f"val_{key}", []), marker="o", label="validation")
        ax.axvline(best_epoch, color="grey", linestyle="--", label=f"kept (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _metrics_row(name: str, m: dict[str, Any]) -> str:
    return (
        f"| {name} | {m['n']:,} | {m['accuracy']:.4f} | {m['roc_auc']:.4f} "
        f"| {m['log_loss']:.4f} | {m['confusion_matrix']} |"
    )


def write_model_card(path: Path, info: dict[str, Any]) -> None:
    """A short model card from the same dict that becomes model.json."""
    metrics = info["metrics"]
    hp = info["hyperparameters"]
    data = info["data"]
    if info["embedding"] == "builtin:ngram":
        embedding = (
            f"A word 1- to {hp['ngram_max']}-gram embedding (dim {hp['dim']}, up to "
            f"{hp['max_vocab']:,} n-grams chosen by {hp['selection']} on the training split, "
            "looked up by a hash of their words"
            + (
                f", started from their NB log-count ratios x {hp['nb_scale']}"
                if hp.get("nb_scale")
                else ""
            )
            + "; built and learned from scratch, TF-Hub format)"
        )
    else:
        embedding = f"The TF-Hub text embedding `{info['embedding']}` (fine-tuned)"
    refit = ""
    if info.get("refit"):
        refit = (
            f"; then trained again from the same start on all {info['refit']['examples']:,} "
            f"for the {info['refit']['epochs']} epochs validation chose: this is the shipped "
            "model, and the validation row below is the model trained without those reviews "
            "(whether the refit pays is measured on training data alone by "
            "`python -m trainer.refit_check`, docs/performance.md)"
        )
    text = f"""# Sentiment model `{info["version"]}`

Binary sentiment of English movie-review style text. Input: raw review text (HTML `<br />` line
breaks allowed). Output: `score` = P(positive) in [0, 1]; label positive when score >=
{info["threshold"]}.

## Intended use
Batch scoring of English, review-length texts by the `scorer` worker (SQS in, S3 out), where a
wrong label costs little and scores are aggregated or triaged by people. Not for decisions
about individuals, moderation without review, or languages other than English.

## Model
{embedding} -> Dense(16, relu) -> Dense(1) logit -> sigmoid.
Tokenisation happens inside the graph, so serving needs only TensorFlow:
`tf.saved_model.load(path).signatures["serving_default"](text=...)["score"]`.
Hyper-parameters: `{hp}`.

## Data
- Train: `{data["train"]["source"]}` ({data["train"]["n"]:,} examples, of which
  {data["validation"]["n"]:,} held out at random, seed {hp["seed"]}, for early stopping){refit}.
- Test: `{data["test"]["source"]}` ({data["test"]["n"]:,} examples), evaluated once, after
  training; never used for tuning.
- SHA-256 of the files: see `model.json` (`data`).

## Metrics
Confusion matrix layout: `[[true neg, false pos], [false neg, true pos]]` at the threshold.

| split | n | accuracy | ROC AUC | log loss | confusion matrix |
| --- | --- | --- | --- | --- | --- |
{_metrics_row("validation", metrics["validation"])}
{_metrics_row("test", metrics["test"])}

Trained in {info["training_seconds"]:.0f} s (CPU) on {info["created"]}. Curves:
`training_curves.png`.

## Limits
- A bag of word n-grams: word order beyond a few words, sarcasm, negation at a distance and
  mixed reviews are handled poorly.
- Trained on IMDB movie reviews (2011 and older, polarised: ratings <= 4 or >= 7); scores on
  other domains, short texts (tweets, titles) or neutral texts are less reliable and not
  calibrated for them. Words and n-grams outside the vocabulary are ignored.
- Reflects the biases of IMDB reviewers; not evaluated for fairness across groups.
"""
    path.write_text(text, encoding="utf-8")
