"""`scorer serve` with FastAPI in place of Starlette, for the framework comparison only.

Same uvicorn server, model, batching scorer and result lines; the body is validated by FastAPI
from the same `ServeRequest` model, as a FastAPI endpoint would be written.

    python -m bench.serve_fastapi --host 127.0.0.1 --port 8001   (SCORER_* settings as usual)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from schemas.serving import ServeRequest
from worker.serve.app import ServeState


def build_fastapi_app(state: ServeState) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    app = FastAPI(title="scorer serve (FastAPI variant)")

    @app.post("/v1/score")
    async def score(request: ServeRequest) -> Response:
        if state.scorer is None:
            return JSONResponse({"error": "loading"}, 503, {"Retry-After": "1"})
        return Response(await state.scorer.score(request.records), media_type="application/json")

    @app.get("/readyz")
    async def readyz() -> Response:
        return JSONResponse({"ready": state.scorer is not None}, 200 if state.scorer else 503)

    return app


def main() -> int:
    from worker.observability import configure_logging
    from worker.serve.server import run_server
    from worker.settings import ServeSettings, load_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    configure_logging(os.environ.get("SCORER_LOG_LEVEL", "INFO"))
    settings = load_settings(ServeSettings, serve_host=args.host, serve_port=args.port)
    return run_server(settings, app_factory=build_fastapi_app)


if __name__ == "__main__":
    sys.exit(main())
