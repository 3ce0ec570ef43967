"""Which subcommand needs which optional extra, and one clear line when it is not installed.

`pip install scorer` and the Docker image carry what `work`, `score` and the job commands need.
`demo` needs a local AWS (moto, the `local` extra) and `train` needs Keras 2, TF-Hub and
matplotlib (the `train` extra plus requirements-keras.txt): without this check they would end in
a ModuleNotFoundError traceback. Only `importlib.util.find_spec` is used, so nothing is imported
and `scorer --help` stays instant.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    """An optional part of the package: the modules it provides and how to install it."""

    name: str
    modules: tuple[str, ...]
    install: str


LOCAL = Extra(
    name="local",
    modules=("moto", "flask"),
    install="pip install 'scorer[local]' (a source checkout: make install)",
)
TRAIN = Extra(
    name="train",
    modules=("tf_keras", "tensorflow_hub", "matplotlib"),
    install=(
        "pip install 'scorer[train]' && pip install --no-deps -r requirements-keras.txt"
        " (a source checkout: make install)"
    ),
)

REPORT = Extra(
    name="report",
    modules=("matplotlib",),
    install="pip install 'scorer[report]' (a source checkout: make install)",
)

#: Subcommands that need an extra; every other one runs on the base install (and the image).
COMMAND_EXTRAS: dict[str, Extra] = {"demo": LOCAL, "local": LOCAL, "train": TRAIN, "report": REPORT}


def missing_modules(extra: Extra) -> list[str]:
    """The extra's modules that cannot be imported here."""
    return [module for module in extra.modules if importlib.util.find_spec(module) is None]


def missing_extra_message(command: str | None) -> str | None:
    """One line saying how to get what `command` needs, or None when it can run."""
    extra = COMMAND_EXTRAS.get(command or "")
    if extra is None:
        return None
    missing = missing_modules(extra)
    if not missing:
        return None
    return (
        f"scorer {command} needs the '{extra.name}' extra, not installed here"
        f" (missing: {', '.join(missing)}; the Docker image leaves it out): {extra.install}"
    )
