"""`scorer train` end to end on tiny data: export, model.json, serving without Keras, S3 publish."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from trainer_helpers import make_reviews, write_csv, write_jsonl

from trainer import cli

ROOT = Path(__file__).resolve().parents[1]
# Tiny but real: a small vocabulary, a few epochs, a check on every validation text.
TINY = ["--max-vocab", "300", "--min-count", "1", "--embedding-dim", "4"]
TINY += ["--epochs", "4", "--batch-size", "16", "--learning-rate", "0.02"]


def _data(tmp_path: Path) -> tuple[Path, Path]:
    train = write_jsonl(tmp_path / "train.jsonl.gz", make_reviews(200, seed=1))
    test = write_csv(tmp_path / "test.csv", make_reviews(60, seed=2))
    return train, test


def run_scorer_train(argv: list[str]) -> int:
    """Parse as `scorer train ...` does (register() on a subparser) and call the handler."""
    parser = argparse.ArgumentParser(prog="scorer")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *argv])
    return args.handler(args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("train")
    train, test = _data(tmp_path)
    out = tmp_path / "models" / "default"
    argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
    assert run_scorer_train(argv) == 0
    return out


def test_train_writes_a_complete_model_folder(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {"saved_model.pb", "variables", "assets", "model.json"} <= names
    assert {"MODEL_CARD.md", "training_curves.png"} <= names
    assert (trained / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(trained.parent.glob(".*staging*"))  # staging folder moved into place

    info = json.loads((trained / "model.json").read_text())
    assert re.fullmatch(r"imdb-ngram-\d{8}\.[0-9a-f]{8}", info["version"])
    assert info["threshold"] == 0.5
    assert info["embedding"] == "builtin:ngram"
    test = info["metrics"]["test"]
    assert set(test) == {"accuracy", "roc_auc", "log_loss", "confusion_matrix", "n"}
    assert test["n"] == 60
    assert sum(map(sum, test["confusion_matrix"])) == 60
    assert test["accuracy"] >= 0.9  # the made-up data is easy
    assert info["metrics"]["validation"]["n"] == 20
    assert len(info["data"]["train"]["sha256"]["train.jsonl.gz"]) == 64
    assert info["hyperparameters"]["max_vocab"] == 300
    assert info["training_seconds"] > 0
    assert info["export_check_max_abs_diff"] < 1e-5
    card = (trained / "MODEL_CARD.md").read_text()
    assert info["version"] in card
    assert "## Limits" in card


def test_the_shipped_model_is_the_refit_for_the_epochs_validation_chose(trained: Path) -> None:
    info = json.loads((trained / "model.json").read_text())
    assert info["hyperparameters"]["refit"] is True
    assert info["refit"]["epochs"] == info["best_epoch"] <= info["epochs_run"]
    assert info["refit"]["examples"] == info["data"]["train"]["n"] == 200
    assert info["refit"]["runs"] == [{"shuffle_seed": 42, "epochs": info["best_epoch"]}]
    card = (trained / "MODEL_CARD.md").read_text()
    assert f"on all 200 for the {info['best_epoch']} epochs validation chose" in card


def test_the_test_set_is_loaded_scored_and_printed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """All choices are made before the test set is touched: one load, one evaluation, one
    printed line, and the figures in model.json and the card are that evaluation's."""
    from trainer import train as train_module

    loads: list[tuple[str, str]] = []
    scored: list[dict[str, Any]] = []
    real_load, real_evaluate = train_module.load_examples, train_module.evaluate

    def counting_load(source: str, split: str = "train") -> Any:
        loads.append((Path(source).name, split))
        return real_load(source, split)

    def counting_evaluate(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> Any:
        figures = real_evaluate(labels, probabilities, threshold)
        scored.append(figures)
        return figures

    monkeypatch.setattr(train_module, "load_examples", counting_load)
    monkeypatch.setattr(train_module, "evaluate", counting_evaluate)
    train, test = _data(tmp_path)
    out = tmp_path / "model"
    argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
    assert run_scorer_train(argv) == 0

    assert loads == [("train.jsonl.gz", "train"), ("test.csv", "test")]
    on_test = [figures for figures in scored if figures["n"] == 60]
    assert len(on_test) == 1
    info = json.loads((out / "model.json").read_text())
    assert info["metrics"]["test"] == on_test[0]
    printed = capsys.readouterr().out
    assert printed.count("test accuracy") == 1
    assert f"test accuracy {on_test[0]['accuracy']:.4f}" in printed
    row = f"| test | 60 | {on_test[0]['accuracy']:.4f} |"
    assert row in (out / "MODEL_CARD.md").read_text()


def test_no_refit_ships_the_early_stopped_model(tmp_path: Path) -> None:
    train, test = _data(tmp_path)
    out = tmp_path / "model"
    argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
    assert run_scorer_train([*argv, "--no-refit"]) == 0
    info = json.loads((out / "model.json").read_text())
    assert info["hyperparameters"]["refit"] is False
    assert "refit" not in info
    assert "trained again" not in (out / "MODEL_CARD.md").read_text()


def test_export_scores_like_the_keras_model(trained: Path) -> None:
    import tensorflow as tf

    from trainer.export import keras_probabilities, load_scorer, score_texts
    from trainer.model import load_keras_model

    texts = ["a great wonderful film", "awful boring waste", "", "ünïcödé 😀 <br />"]
    signature = load_scorer(trained)
    scores = signature(text=tf.constant(texts))["score"]
    assert scores.dtype == tf.float32
    assert scores.shape == (4,)
    keras_model = load_keras_model(trained)
    assert len(keras_model.trainable_weights) == 5
    np.testing.assert_allclose(
        score_texts(signature, texts), keras_probabilities(keras_model, texts), atol=1e-5
    )
    assert scores[0] > 0.5 > scores[1]


def test_serving_needs_no_keras_and_no_hub(trained: Path) -> None:
    """Load and call the export the way the worker does, with Keras and TF-Hub unimportable."""
    code = textwrap.dedent(
        f"""
        import json, sys
        for name in ("keras", "tf_keras", "tensorflow_hub"):
            sys.modules[name] = None  # any import of them now raises ImportError
        import tensorflow as tf
        signature = tf.saved_model.load({str(trained)!r}).signatures["serving_default"]
        inputs = signature.structured_input_signature[1]
        out = signature(text=tf.constant(["a great film", "the worst"]))
        print(json.dumps({{
            "inputs": {{k: [v.dtype.name, v.shape.as_list()] for k, v in inputs.items()}},
            "outputs": {{k: [v.dtype.name, v.shape.as_list()] for k, v in out.items()}},
            "blocked": [sys.modules[n] is None for n in ("keras", "tf_keras", "tensorflow_hub")],
        }}))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["inputs"] == {"text": ["string", [None]]}
    assert result["outputs"] == {"score": ["float32", [2]]}
    assert result["blocked"] == [True, True, True]


def test_hub_handle_accepts_a_local_tf_hub_module(tmp_path: Path) -> None:
    from trainer.embedding import EmbeddingConfig, export_embedding

    train, test = _data(tmp_path)
    texts = [str(r["text"]) for r in make_reviews(50, seed=3)]
    config = EmbeddingConfig(
        ngram_max=1, min_count=1, max_vocab=100, dim=4, selection="frequency", nb_scale=0.0
    )
    module = export_embedding(texts, config, tmp_path / "hub" / "my-embedding", seed=0)
    out = tmp_path / "model"
    argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
    assert run_scorer_train([*argv, "--hub-handle", str(module), "--version", "custom-1"]) == 0
    info = json.loads((out / "model.json").read_text())
    assert info["embedding"] == str(module)
    assert info["version"] == "custom-1"
    assert "max_vocab" not in info["hyperparameters"]  # the module's own settings apply
    assert info["metrics"]["test"]["accuracy"] >= 0.8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "fine", "label": 1}\n{"text": "meh"}\n', "train.jsonl:2: missing key(s) label"),
        ('{"text": "fine", "label": 3}\n', "train.jsonl:1: `label` must be 0 or 1, got 3"),
        ("", "train.jsonl: the file holds no examples"),
    ],
)
def test_bad_training_data_fails_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "train.jsonl").write_text(content, encoding="utf-8")
    _, test = _data(tmp_path)
    out = tmp_path / "model"
    argv = ["--data", str(tmp_path / "train.jsonl"), "--test-data", str(test), "--output", str(out)]
    assert run_scorer_train(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    train, test = _data(tmp_path)
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
    assert run_scorer_train([*argv, "--epochs", "1"]) == 2
    assert (out / "notes.txt").read_text() == "keep me"
    assert not list(tmp_path.glob(".*staging*"))


def test_version_must_be_plain(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        run_scorer_train(["--data", "x.jsonl", "--version", "v1/../../etc"])


def test_publish_uploads_the_folder_to_s3(
    tmp_path: Path, trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainer.publish import publish_model

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models-bucket")
        uri = publish_model(trained, "s3://models-bucket/sentiment/", "v-test.1")
        assert uri == "s3://models-bucket/sentiment/v-test.1"
        listed = s3.list_objects_v2(Bucket="models-bucket", Prefix="sentiment/v-test.1/")
        keys = {o["Key"].removeprefix("sentiment/v-test.1/") for o in listed["Contents"]}
        local = {p.relative_to(trained).as_posix() for p in trained.rglob("*") if p.is_file()}
        assert keys == local
        head: dict[str, Any] = s3.head_object(
            Bucket="models-bucket", Key="sentiment/v-test.1/model.json"
        )
        assert head["Metadata"] == {"model-version": "v-test.1"}
        body = s3.get_object(Bucket="models-bucket", Key="sentiment/v-test.1/model.json")["Body"]
        assert body.read() == (trained / "model.json").read_bytes()


def test_cli_module_does_not_import_tensorflow() -> None:
    code = "import sys, trainer.cli; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0


def test_train_with_publish_uri_uploads_the_new_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    train, test = _data(tmp_path)
    out = tmp_path / "model"
    argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="releases")
        argv += ["--epochs", "1", "--version", "pub-1", "--publish-uri", "s3://releases/models"]
        assert run_scorer_train(argv) == 0
        got = boto3.client("s3", region_name="us-east-1").get_object(
            Bucket="releases", Key="models/pub-1/model.json"
        )
        assert json.loads(got["Body"].read())["version"] == "pub-1"


def test_cli_defaults_are_the_library_defaults() -> None:
    """`make model` passes no tuning flags, so the CLI defaults define the shipped model."""
    import dataclasses

    from trainer.embedding import EmbeddingConfig
    from trainer.train import TrainConfig

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--data", "x"])
    emb = EmbeddingConfig()
    assert (args.ngram_max, args.min_count, args.max_vocab) == (
        emb.ngram_max,
        emb.min_count,
        emb.max_vocab,
    )
    assert (args.nb_scale, args.embedding_dim, args.binary, args.vocab_selection) == (
        emb.nb_scale,
        emb.dim,
        emb.binary,
        emb.selection,
    )
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for name in ("validation_fraction", "seed", "epochs", "batch_size", "learning_rate"):
        assert getattr(args, name) == defaults[name], name
    assert (args.dropout, args.patience, args.hub_handle, args.average_seeds, args.refit) == (
        defaults["dropout"],
        defaults["patience"],
        defaults["hub_handle"],
        defaults["average_seeds"],
        defaults["refit"],
    )


def test_training_twice_gives_the_same_weights_and_version(tmp_path: Path) -> None:
    """Fixed seeds: the same data and options give the same model (and so the same version),
    also when the weights of several shuffle seeds are averaged."""
    train, test = _data(tmp_path)
    versions = []
    for run in ("a", "b"):
        out = tmp_path / run
        argv = ["--data", str(train), "--test-data", str(test), "--output", str(out), *TINY]
        assert run_scorer_train([*argv, "--epochs", "2", "--average-seeds", "2"]) == 0
        info = json.loads((out / "model.json").read_text())
        assert [r["shuffle_seed"] for r in info["averaged_runs"]] == [42, 43]
        versions.append(info["version"])
    assert versions[0] == versions[1]
    for name in ("variables/variables.data-00000-of-00001", "assets/embedding.vocab.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
