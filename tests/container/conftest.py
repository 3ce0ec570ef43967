"""Fixtures for the container tests: the built images, docker, moto on the host.

These tests run the real images under a real Docker engine: `make image-test` (which builds
them first and sets SCORER_CONTAINER_TESTS=1). Elsewhere, plain `make test` included, they are
skipped; with SCORER_CONTAINER_TESTS=1 a missing engine or image is a failure, not a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from container.dockerutil import REQUIRED, Container, docker_problem


@pytest.fixture(scope="session")
def docker_ready() -> None:
    if not REQUIRED:
        pytest.skip("container tests run with `make image-test` (SCORER_CONTAINER_TESTS=1)")
    problem = docker_problem()
    if problem:
        pytest.fail(problem)


@pytest.fixture(autouse=True)
def _container_tests_need_docker(docker_ready: None) -> None:
    """Every test here needs the engine and the images."""


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


@pytest.fixture(scope="session")
def host_moto() -> Iterator[str]:
    """moto with the project's fixes on the host's 127.0.0.1 (containers use --network host)."""
    from worker.local.moto_server import start_threaded

    server, endpoint = start_threaded("127.0.0.1", 0)
    yield endpoint
    server.stop()
