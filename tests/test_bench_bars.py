"""The throughput bars: time added to the model's own, at the allowance the ratio bars gave."""

from __future__ import annotations

import pytest

from bench import bars


def test_added_time_is_recovered_from_a_measured_rate_and_its_ceiling() -> None:
    # A model at 60 us per review and a worker adding 20 us: 12,500/s against 16,667/s.
    ceiling = 1e6 / 60
    rate = 1e6 / (60 + 20)
    assert bars.added_us(rate / ceiling, ceiling) == pytest.approx(20.0)
    assert bars.added_us(rate / ceiling, ceiling, per=100) == pytest.approx(2000.0)


def test_the_bars_allow_what_the_ratio_bars_allowed_on_the_previous_model() -> None:
    # The run the ratio bars were last met with: (a) 0.88, (b) 0.79 on a 5,994/s core.
    assert bars.added_us(0.88, bars.PREVIOUS_CEILING_ONE_CORE) <= bars.WORKER_S3_OBJECTS_US
    assert bars.added_us(0.79, bars.PREVIOUS_CEILING_ONE_CORE) <= bars.WORKER_INLINE_US
    # A worker at exactly the old ratio bars sits exactly on the new ones.
    assert pytest.approx(29.44, abs=0.01) == bars.WORKER_S3_OBJECTS_US
    assert pytest.approx(71.50, abs=0.01) == bars.WORKER_INLINE_US
    assert pytest.approx(309.4, abs=0.1) == bars.SERVE_ONE_REVIEW_US
    assert pytest.approx(44.2, abs=0.1) == bars.SERVE_HUNDRED_US


def test_a_faster_model_does_not_fail_an_unchanged_worker() -> None:
    # The same 25 us per review beside a model 2.5x faster: the ratio falls below 0.85, the
    # added time, which is what the worker controls, does not move.
    for model_us in (166.8, 66.7):
        ratio = model_us / (model_us + 25)
        assert bars.added_us(ratio, 1e6 / model_us) == pytest.approx(25.0)
    assert 66.7 / (66.7 + 25) < 0.85 < 166.8 / (166.8 + 25)
