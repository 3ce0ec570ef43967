"""Subcommands for getting work in and results out: submit, status, backfill, dlq."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds this package's subcommands; each imports its module only when run."""
