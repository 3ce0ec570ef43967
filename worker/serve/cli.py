"""`scorer serve`: registered by worker/cli.py beside the other subcommands."""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="score reviews over HTTP: POST /v1/score (docs/serving.md)",
        description="Configured by SCORER_* environment variables (see the README).",
    )
    serve.add_argument("--host", help="address to bind (default: SCORER_SERVE_HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default: SCORER_SERVE_PORT, 8000)")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from worker.observability import configure_logging
    from worker.serve.server import run_server
    from worker.settings import ServeSettings, load_settings

    configure_logging(os.environ.get("SCORER_LOG_LEVEL", "INFO"))
    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["serve_host"] = args.host
    if args.port is not None:
        overrides["serve_port"] = args.port
    return run_server(load_settings(ServeSettings, **overrides))
