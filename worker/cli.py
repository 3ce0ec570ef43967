"""The `scorer` console script: one entry point, one subcommand per job.

Each package registers its own subcommands through the `scorer.commands` entry points of
pyproject.toml (`worker`, `serve`, `jobs`, `trainer`), so this module imports none of them by
name. Handlers import TensorFlow only when they run, so `scorer --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

COMMAND_GROUPS = "scorer.commands"
#: The order `scorer --help` lists the groups in; a group not named here comes last.
HELP_ORDER = ("worker", "serve", "jobs", "trainer")


def registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Each installed package's `register(subparsers)`, in HELP_ORDER."""
    found = sorted(
        entry_points(group=COMMAND_GROUPS),
        key=lambda point: (
            HELP_ORDER.index(point.name) if point.name in HELP_ORDER else len(HELP_ORDER),
            point.name,
        ),
    )
    if not found:
        raise SystemExit(
            "scorer: no commands registered: install the package (pip install -e .) so its "
            f"{COMMAND_GROUPS} entry points exist"
        )
    return [point.load() for point in found]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scorer",
        description="Queue-driven batch sentiment scorer: SQS in, TensorFlow model, S3 out.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in registrars():
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from worker.errors import run_command
    from worker.extras import missing_extra_message

    parser = build_parser()
    args = parser.parse_args(argv)
    if problem := missing_extra_message(args.command):
        print(problem, file=sys.stderr)
        return 1
    return run_command(args, args.handler)


if __name__ == "__main__":
    sys.exit(main())
