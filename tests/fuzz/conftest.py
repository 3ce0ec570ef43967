"""Hypothesis profiles for the fuzz suite: `short` in every `pytest` run (`make test`), `long`
in `make chaos` (`SCORER_FUZZ_PROFILE=long`, or `--hypothesis-profile=long` when tests/fuzz is
given on the command line)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Deadlines off: two shared cores make per-example timings meaningless. `short` is derandomized
# so CI is reproducible; `long` explores with fresh randomness and keeps its example database.
settings.register_profile(
    "short",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("SCORER_FUZZ_PROFILE", "short"))
