"""How producer commands print: sentences for a person at a terminal, JSON for everything else.

`--json` asks for JSON; so does a stdout that is not a terminal (a pipe, a file, CloudWatch
Logs), so scripts and log pipelines never have to parse prose.
"""

from __future__ import annotations

import argparse
import logging
import sys

from worker.terminal_text import printable


def json_wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False)) or not sys.stdout.isatty()


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """`1 batch`, `2 batches`, `1,000 records`."""
    form = (
        word
        if count == 1
        else plural_form or (word + ("es" if word.endswith(("s", "ch")) else "s"))
    )
    return f"{count:,} {form}"


class SentenceFormatter(logging.Formatter):
    """A log record as a short line: its message, then the object and why (backfill's fields)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        uri = getattr(record, "uri", None)
        why = getattr(record, "why", None) or getattr(record, "error", None)
        if uri:
            text += f": {printable(uri)}"
        if why:
            text += f" ({printable(why)})"
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        return text


def configure_sentences(level: str) -> None:
    """The root logger prints sentences on stderr (the summary goes to stdout)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SentenceFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
