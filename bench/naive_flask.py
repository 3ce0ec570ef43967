"""The original system's prediction endpoint: Flask, one review a request, one Keras `predict`.

Flask's own threaded server, the Keras model rebuilt from the export (as bench.model_speed
does), the same request and answer shapes as `scorer serve` so one load script drives both.
Only the benchmark runs it; it prints `ready` when it listens.

    python -m bench.naive_flask --port 8002 [--model models/default]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.common import DEFAULT_MODEL


def main() -> None:
    import tensorflow as tf
    from flask import Flask, Response, request

    from trainer.model import load_keras_model

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    model = load_keras_model(args.model)
    card = json.loads((args.model / "model.json").read_text())
    model.predict(tf.constant(["warm-up"]), verbose=0)
    app = Flask("naive")

    @app.post("/v1/score")
    def score() -> Response:
        record = request.get_json()["records"][0]
        logit = model.predict(tf.constant([record["text"]]), verbose=0)[0, 0]
        value = round(float(tf.sigmoid(logit)), 6)
        result = {
            "id": record["id"],
            "label": "positive" if value >= card["threshold"] else "negative",
            "score": value,
            "model_version": card["version"],
        }
        return Response(
            json.dumps({"results": [result], "errors": []}), mimetype="application/json"
        )

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print("ready", flush=True)
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
