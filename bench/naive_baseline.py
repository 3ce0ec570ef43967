"""The original design's serving pattern, measured against the worker on the same reviews.

One Keras `model.predict` per review and one S3 PUT per result (moto on loopback), as the
original HTTP prediction service did per request. It is slow (~70 ms a call), so it runs on
a sample of the reviews and reports reviews per second; the speed-up is the worker's
end-to-end rate divided by this one.

    python -m bench.naive_baseline [--model models/default] [--reviews 300]
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bench.common import (
    bench_arguments,
    load_reviews,
    moto_server,
    write_result,
)


def run(
    model_dir: Path, data: Path, reviews: int = 300, worker_rate: float | None = None
) -> dict[str, Any]:
    import boto3
    import tensorflow as tf

    from trainer.model import load_keras_model

    sample = load_reviews(data, reviews)
    model = load_keras_model(model_dir)
    model.predict(tf.constant([sample[0]["text"]]), verbose=0)  # warm-up
    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="naive")
        started = time.perf_counter()
        for row in sample:
            logit = model.predict(tf.constant([row["text"]]), verbose=0)[0, 0]
            score = float(tf.sigmoid(logit))
            body = {
                "id": row["id"],
                "label": "positive" if score >= 0.5 else "negative",
                "score": score,
            }
            s3.put_object(
                Bucket="naive", Key=f"results/{row['id']}.json", Body=json.dumps(body).encode()
            )
        seconds = time.perf_counter() - started
    rate = len(sample) / seconds
    result: dict[str, Any] = {
        "reviews": len(sample),
        "seconds": seconds,
        "reviews_per_second": rate,
    }
    print(
        f"\nNaive baseline (predict + PUT per review, {len(sample)} reviews): "
        f"{rate:,.1f} reviews/s, {1000 * seconds / len(sample):.1f} ms per review"
    )
    if worker_rate:
        result["worker_reviews_per_second"] = worker_rate
        result["speedup"] = worker_rate / rate
        print(
            f"  worker end to end: {worker_rate:,.0f} reviews/s -> {worker_rate / rate:,.0f}x "
            "faster (bar: >= 100x)"
        )
    write_result("naive_baseline", result)
    return result


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--reviews", type=int, default=300)
    parser.add_argument("--worker-rate", type=float, default=None)
    args = parser.parse_args()
    run(args.model, args.data, args.reviews, args.worker_rate)


if __name__ == "__main__":
    main()
