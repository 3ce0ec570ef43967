"""The worker image on its own: it scores offline with the model it carries, as a non-root
user, refuses the commands it does not carry in one line, and its size is reported."""

from __future__ import annotations

import json

import pytest

from container.dockerutil import IMAGE, docker, report

pytestmark = pytest.mark.container


def test_score_gives_labels_offline_with_the_model_inside() -> None:
    # --network none: nothing can be downloaded, the model must be in the image.
    result = docker(
        "run", "--rm", "--network", "none", IMAGE, "score",
        "A wonderful film, moving and beautifully acted.",
        "A dreadful, boring mess. I walked out.",
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["1", "2"]
    assert [line["label"] for line in lines] == ["positive", "negative"]
    assert all(0.0 <= line["score"] <= 1.0 and line["model_version"] for line in lines)
    card = docker("run", "--rm", "--entrypoint", "cat", IMAGE, "/app/models/default/model.json")
    assert json.loads(card.stdout)["version"] == lines[0]["model_version"]


def test_the_image_runs_as_a_non_root_user_that_cannot_change_the_model() -> None:
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", IMAGE).stdout)
    assert config["User"].split(":")[0] not in {"", "0", "root"}
    who = docker("run", "--rm", "--entrypoint", "id", IMAGE, "-u").stdout.strip()
    assert who == config["User"].split(":")[0] != "0"
    touch = docker(
        "run", "--rm", "--entrypoint", "touch", IMAGE, "/app/models/default/model.json",
        check=False,
    )  # fmt: skip
    assert touch.returncode != 0 and "Permission denied" in touch.stderr


@pytest.mark.parametrize(("command", "extra"), [("demo", "local"), ("train", "train")])
def test_a_command_the_image_does_not_carry_says_how_to_get_it_in_one_line(
    command: str, extra: str
) -> None:
    args = [command] if command == "demo" else [command, "--data", "x.jsonl"]
    result = docker("run", "--rm", "--network", "none", IMAGE, *args, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"scorer {command} needs the '{extra}' extra" in result.stderr


def test_image_size_is_reported_and_tensorflow_dominates_it() -> None:
    size = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    paths = "/usr /opt/venv /opt/venv/lib/python3.11/site-packages/tensorflow /app"
    du = docker(
        "run", "--rm", "--entrypoint", "sh", IMAGE, "-c", f"for p in {paths}; do du -sm $p; done"
    ).stdout  # each on its own: one `du` counts a nested folder once, under its parent
    parts = {path: int(mb) for mb, path in (line.split("\t") for line in du.splitlines())}
    report(
        "image_size",
        {
            "image": IMAGE,
            "size_mb": round(size / 1e6),
            "base_system_mb": parts["/usr"],
            "venv_mb": parts["/opt/venv"],
            "tensorflow_mb": parts["/opt/venv/lib/python3.11/site-packages/tensorflow"],
            "app_and_model_mb": parts["/app"],
        },
    )
    # The installers and TensorFlow's headers are left out of what ships.
    leftovers = docker(
        "run", "--rm", "--entrypoint", "python", IMAGE, "-c",
        "import importlib.util as u, os, tensorflow as t; "
        "print([m for m in ('pip', 'setuptools', 'clang') if u.find_spec(m)],"
        " os.path.exists(os.path.join(os.path.dirname(t.__file__), 'include')))",
    ).stdout.strip()  # fmt: skip
    assert leftovers == "[] False"
    assert parts["/opt/venv/lib/python3.11/site-packages/tensorflow"] > parts["/opt/venv"] / 2
