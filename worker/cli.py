"""The `scorer` console script: one entry point, one subcommand per job.

Each owning module registers its own subcommands and imports TensorFlow only inside its
handler, so `scorer --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from jobs import cli as jobs_cli
    from trainer import cli as trainer_cli
    from worker import commands as worker_commands
    from worker.serve import cli as serve_cli

    parser = argparse.ArgumentParser(
        prog="scorer",
        description="Queue-driven batch sentiment scorer: SQS in, TensorFlow model, S3 out.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    worker_commands.register(subparsers)
    serve_cli.register(subparsers)
    jobs_cli.register(subparsers)
    trainer_cli.register(subparsers)
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
