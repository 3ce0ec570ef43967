"""The chaos suite's switch and shared fixtures.

Short versions run in every `pytest` (they are part of `make test`); the long versions are
marked `chaos_long` and run only with `--chaos-long` (when tests/chaos is given on the
command line) or `SCORER_CHAOS_LONG=1`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.harness import ChaosWorker, long_runs_enabled


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-long",
        action="store_true",
        default=False,
        help="run the long chaos scenarios (tests/chaos, marker chaos_long)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos_long: long chaos scenario, run with --chaos-long or SCORER_CHAOS_LONG=1"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if long_runs_enabled(config):
        return
    skip = pytest.mark.skip(reason="long chaos run: pass --chaos-long or SCORER_CHAOS_LONG=1")
    for item in items:
        if "chaos_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def workers() -> Iterator[list[ChaosWorker]]:
    """Every worker a test starts; whatever is still running at the end is killed."""
    started: list[ChaosWorker] = []
    yield started
    for worker in started:
        worker.close()


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """True for the chaos_long parametrisation of a scenario."""
    return request.node.get_closest_marker("chaos_long") is not None
