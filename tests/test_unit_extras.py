"""A subcommand whose extra is not installed (the image has neither moto nor Keras 2) says
in one line how to get it, instead of a ModuleNotFoundError traceback."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from worker import cli, extras


def _without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in modules else real(name, *args)

    monkeypatch.setattr(extras.importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(
    ("command", "module", "install"),
    [
        ("demo", "moto", "scorer[local]"),
        ("train", "tf_keras", "requirements-keras.txt"),
        ("local", "moto", "scorer[local]"),
        ("report", "matplotlib", "scorer[report]"),
    ],
)
def test_a_command_without_its_extra_exits_1_with_one_line_saying_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    module: str,
    install: str,
) -> None:
    _without(monkeypatch, module)
    argv = {
        "demo": ["demo"],
        "train": ["train", "--data", "x.jsonl"],
        "local": ["local", "up"],
        "report": ["report", "job-1"],
    }[command]

    assert cli.main(argv) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"scorer {command} needs the" in err and module in err and install in err


def test_commands_the_image_carries_are_never_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "moto", "flask", "tf_keras", "tensorflow_hub", "matplotlib")
    for command in ("work", "score", "submit", "status", "results", "backfill", "dlq"):
        assert extras.missing_extra_message(command) is None


def test_every_command_with_an_extra_is_a_real_subcommand() -> None:
    parser = cli.build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(extras.COMMAND_EXTRAS) <= set(subcommands)


def test_with_the_extras_installed_nothing_is_refused() -> None:
    # The dev install (make install) carries every extra.
    assert all(extras.missing_extra_message(c) is None for c in extras.COMMAND_EXTRAS)
