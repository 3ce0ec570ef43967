"""The benchmark's CPU layout: the emulated AWS can be kept off the worker's CPUs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.common import pin_process, split_cores

needs_two = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 or more CPUs")


@needs_two
def test_split_cores_gives_the_worker_all_but_one_cpu_and_the_endpoint_the_last() -> None:
    worker, endpoint = split_cores()
    assert worker and endpoint and not worker & endpoint
    assert worker | endpoint == os.sched_getaffinity(0)
    assert len(endpoint) == 1 and max(worker) < min(endpoint)


@needs_two
def test_pin_process_moves_every_thread_of_a_running_process() -> None:
    code = (
        "import threading, time\n"
        "for _ in range(3): threading.Thread(target=time.sleep, args=(30,)).start()\n"
        "print('up', flush=True)\n"
        "time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "up"
        _, endpoint = split_cores()
        pin_process(child.pid, endpoint)
        tasks = os.listdir(f"/proc/{child.pid}/task")
        assert len(tasks) >= 4
        assert all(os.sched_getaffinity(int(task)) == endpoint for task in tasks)
    finally:
        child.kill()
        child.wait()
