"""`scorer train` and `python -m trainer`: the one command that retrains and ships a model.

TensorFlow is imported inside the handler only, so `scorer --help` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Defaults that reproduce models/default (`make model`); keep in step with TrainConfig.
_BUILTIN = "builtin:ngram"
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _version(value: str) -> str:
    """argparse type: a version goes into S3 metadata and result lines, so keep it plain."""
    if not _VERSION.match(value):
        raise argparse.ArgumentTypeError(f"{value!r}: use only letters, digits, '.', '_', '-'")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train options, shared by `scorer train` and `python -m trainer`."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        required=True,
        help="training data: .jsonl/.jsonl.gz or .csv with text,label; an aclImdb folder; "
        "or tfds:imdb_reviews (needs tensorflow_datasets and a network)",
    )
    data.add_argument(
        "--test-data",
        help="test data in the same forms; optional when --data is an aclImdb root or tfds:",
    )
    data.add_argument("--output", type=Path, default=Path("models/default"), help="model folder")
    add_model_arguments(parser)

    out = parser.add_argument_group("output")
    out.add_argument("--name", default="imdb-ngram", help="model name, the version's prefix")
    out.add_argument(
        "--version", type=_version, help="model version (default: <name>-<date>.<weights hash>)"
    )
    out.add_argument(
        "--publish-uri", help="also upload the model folder to s3://bucket/prefix/<version>/"
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that decide the model (embedding, training), shared with the refit check."""
    emb = parser.add_argument_group("embedding")
    emb.add_argument(
        "--hub-handle",
        default=_BUILTIN,
        help="TF-Hub handle of a text embedding: a tfhub.dev URL (needs a network), a local "
        f"TF-Hub format SavedModel folder, or {_BUILTIN} (default: learned word n-grams, offline)",
    )
    emb.add_argument("--ngram-max", type=int, default=3, help="longest word n-gram (default 3)")
    emb.add_argument(
        "--min-count", type=int, default=2, help="keep n-grams found in this many texts (default 2)"
    )
    emb.add_argument("--max-vocab", type=int, default=100_000, help="vocabulary cap")
    emb.add_argument("--embedding-dim", type=int, default=16, help="vector size (default 16)")
    emb.add_argument(
        "--nb-scale",
        type=float,
        default=0.3,
        help="start each n-gram's first vector component at this times its NB log-count "
        "ratio (NBSVM); 0 for a purely random start (default 0.3)",
    )
    emb.add_argument(
        "--vocab-selection",
        choices=["chi2", "frequency"],
        default="chi2",
        help="which n-grams fill the capped vocabulary: most label-related or most frequent",
    )
    emb.add_argument(
        "--binary",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count each n-gram once per text (presence) rather than every occurrence",
    )

    fit = parser.add_argument_group("training")
    fit.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of --data held out at random (by --seed) for early stopping (default 0.1)",
    )
    fit.add_argument("--epochs", type=int, default=10, help="at most this many (early stopping)")
    fit.add_argument("--batch-size", type=int, default=128)
    fit.add_argument("--learning-rate", type=float, default=5e-4)
    fit.add_argument("--dropout", type=float, default=0.0, help="dropout on the embedding")
    fit.add_argument("--patience", type=int, default=2, help="early stopping patience (epochs)")
    fit.add_argument("--seed", type=int, default=42)
    fit.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="once validation has chosen the epoch count, train again on all of --data "
        "(validation included) for that many epochs and ship that model (default: yes)",
    )
    fit.add_argument(
        "--average-seeds",
        type=int,
        default=1,
        help="train this many times from the same start, batches shuffled by seed, seed+1, "
        "...; ship the mean of their weights (default 1)",
    )


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig's model-deciding fields from the options `add_model_arguments` added."""
    from trainer.embedding import EmbeddingConfig

    return {
        "hub_handle": args.hub_handle,
        "embedding": EmbeddingConfig(
            ngram_max=args.ngram_max,
            min_count=args.min_count,
            max_vocab=args.max_vocab,
            dim=args.embedding_dim,
            nb_scale=args.nb_scale,
            binary=args.binary,
            selection=args.vocab_selection,
        ),
        "validation_fraction": args.validation_fraction,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "dropout": args.dropout,
        "patience": args.patience,
        "average_seeds": args.average_seeds,
        "refit": args.refit,
    }


def run(args: argparse.Namespace) -> int:
    """Handler: train with the parsed options; errors in the data end the run with code 2."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info and warnings
    from trainer.data import DataError
    from trainer.train import TrainConfig, train

    config = TrainConfig(
        data=args.data,
        test_data=args.test_data,
        output=args.output,
        name=args.name,
        version=args.version,
        publish_uri=args.publish_uri,
        **model_options(args),
    )
    try:
        result = train(config)
    except (DataError, FileExistsError) as e:
        print(f"scorer train: error: {e}", file=sys.stderr)
        return 2
    test = result.info["metrics"]["test"]
    print(
        f"model {result.info['version']} -> {result.output}\n"
        f"test accuracy {test['accuracy']:.4f}  ROC AUC {test['roc_auc']:.4f}  "
        f"log loss {test['log_loss']:.4f}  confusion {test['confusion_matrix']}  n {test['n']}\n"
        f"validation accuracy {result.info['metrics']['validation']['accuracy']:.4f}  "
        f"training {result.info['training_seconds']:.1f} s"
        + (f"\npublished to {result.published}" if result.published else "")
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` to the `scorer` command."""
    parser = subparsers.add_parser(
        "train",
        help="train, evaluate and export a sentiment model",
        description="Train the sentiment model, evaluate it once on the test set, export a "
        "SavedModel with model.json, MODEL_CARD.md and training_curves.png.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=register.__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
