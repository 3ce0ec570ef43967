"""The throughput bars as time each part adds to the model's own, not as shares of the model.

The worker and `scorer serve` bars were first set as ratios to the model ceiling (worker (a)
>= 0.85, (b) >= 0.70; serve 1-review >= 0.25, 100-review >= 0.70) when the model scored ~6,000
reviews/s per core. A ratio moves with the model: with a model 2.5x faster, the same worker
(the same microseconds of Python and botocore per review) falls from 0.88 to ~0.73, so a ratio
bar set on the old model measures the model's speed, not the worker's. What the worker and the
server control is the time they add per review (or per request) beyond the model's, so the bars
are kept at the allowance the ratio bars gave on the model they were set with, and the ratios
are still reported beside them.

added time per review = 1/rate - 1/ceiling (seconds of the measured CPUs per review), and a
ratio bar r on a ceiling c allows (1/r - 1)/c.
"""

from __future__ import annotations

# The previous model's ceilings in the run the ratio bars were last met with
# (docs/benchmark-log.md, 2026-11-26 `make bench`): one core of the endpoint-isolated layout,
# and both cores (the serve bench measures its ceiling on every CPU).
PREVIOUS_CEILING_ONE_CORE = 5_994.0
PREVIOUS_CEILING_ALL_CORES = 9_695.0


def added_us(ratio: float, ceiling: float, per: int = 1) -> float:
    """Microseconds added per `per` reviews by what runs around the model, from a measured
    ratio to a ceiling of `ceiling` reviews/s."""
    return (1.0 / ratio - 1.0) / ceiling * 1e6 * per


def allowance_us(ratio_bar: float, ceiling: float, per: int = 1) -> float:
    """The added time a ratio bar allowed on a model with this ceiling."""
    return added_us(ratio_bar, ceiling, per)


WORKER_S3_OBJECTS_US = allowance_us(0.85, PREVIOUS_CEILING_ONE_CORE)  # ~29.4 per review
WORKER_INLINE_US = allowance_us(0.70, PREVIOUS_CEILING_ONE_CORE)  # ~71.5 per review
SERVE_ONE_REVIEW_US = allowance_us(0.25, PREVIOUS_CEILING_ALL_CORES)  # ~309 per request
SERVE_HUNDRED_US = allowance_us(0.70, PREVIOUS_CEILING_ALL_CORES)  # ~44.2 per review
