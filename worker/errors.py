"""What a user can get wrong, said in one line: settings, start-up failures, AWS errors.

Every command runs through `run_command`, so a mistake a user can make (a bad variable, a
model path that does not exist, a port in use, an unreachable endpoint) ends the process
with one line naming what is wrong and which setting, and a documented exit code; only a
bug in scorer itself still shows a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from collections.abc import Callable

from worker.terminal_text import printable

#: Exit codes of every `scorer` command (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # work failed: a batch in the DLQ, messages not sent, an AWS call failed
EXIT_INPUT = 2  # bad input or usage: a file that does not check, no such job, a bad flag
EXIT_TIMEOUT = 3  # `status --wait --timeout` passed
EXIT_CONFIG = 78  # a setting is missing or wrong, or start-up cannot use it (sysexits EX_CONFIG)
EXIT_INTERRUPTED = 130  # Ctrl-C


class ConfigError(SystemExit):
    """A setting is missing or invalid, or what it names cannot be used (exit 78).

    A SystemExit, so code that runs outside `run_command` still stops with the message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def setting_value(name: str, value: object) -> str:
    """`NAME='value'` for a message, the value escaped and shortened."""
    return f"{name}={printable(value, 120)!r}" if isinstance(value, str) else f"{name}={value}"


def describe_aws_error(error: Exception) -> tuple[str, int]:
    """One line and an exit code for a botocore error that reached the top."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            EXIT_CONFIG,
        )
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (e.g. us-east-1)", EXIT_CONFIG
    if isinstance(error, EndpointConnectionError):
        url = urllib.parse.urlsplit(str(error.kwargs.get("endpoint_url", "")))
        return (
            f"cannot reach {url.scheme}://{url.netloc}: "
            "is AWS_ENDPOINT_URL right, and is the service (or `scorer local up`) running?",
            EXIT_FAILED,
        )
    if isinstance(error, ClientError):
        return f"AWS: {printable(error)}", EXIT_FAILED
    return f"AWS: {printable(error)}", EXIT_FAILED


def run_command(args: argparse.Namespace, handler: Callable[[argparse.Namespace], int]) -> int:
    """Run a subcommand's handler; a user's mistake becomes one line on stderr and an exit code."""
    from botocore.exceptions import BotoCoreError, ClientError

    parts = (
        getattr(args, "command", None),
        *(getattr(args, f"{n}_command", None) for n in ("dlq", "local")),
    )
    name = " ".join(part for part in parts if part)
    try:
        return int(handler(args) or 0)
    except ConfigError as error:
        for line in error.message.splitlines():
            print(f"scorer {name}: {line}", file=sys.stderr)
        return EXIT_CONFIG
    except (BotoCoreError, ClientError) as error:
        line, code = describe_aws_error(error)
        print(f"scorer {name}: {line}", file=sys.stderr)
        return code
    except BrokenPipeError:  # `scorer results JOB | head`: the reader has all it wants
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return EXIT_OK
    except OSError as error:
        if error.filename is None:  # not a path the user gave: a bug or the system's, show it
            raise
        print(f"scorer {name}: {printable(error.filename)}: {error.strerror}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"scorer {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
