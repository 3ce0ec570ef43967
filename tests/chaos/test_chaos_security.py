"""Security checks: what the worker reads and writes, which keys it builds, what it logs.

The proof comes from the proxy's request log (every S3 request the worker made), not from the
worker's own account: reads only under SCORER_ALLOWED_INPUT_URIS or the model prefix, writes
only under SCORER_OUTPUT_URI, keys only from validated ids, no secret or review text in logs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from chaos.fault_proxy import FaultProxy
from chaos.harness import SECRET_MARKER, ChaosWorker, make_stack, send_all, wait_until
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e

MARK = "SECRVWTXT"
#: job_id / batch_id values that try to climb out of the output prefix or fake a separator.
HOSTILE_IDS = [
    "../escape",
    "..",
    ".",
    "%2e%2e",
    "%2e%2e%2fescape",
    "..%2f..%2fetc",
    "/absolute",
    "a/b",
    "a\\b",
    "\u2024\u2024",  # one dot leader, twice: looks like ..
    "\uff0e\uff0e",  # fullwidth full stops
    "\u2215etc",  # division slash
    "\uff0fetc",  # fullwidth solidus
    "job\x00",
    "job\nline",
    "",
    " ",
    "x" * 129,
    "results/../../x",
    "~root",
    "$(id)",
    "C:\\temp",
    "\u202eevil",  # right-to-left override
]
SAFE_KEY = re.compile(
    r"^results/[A-Za-z0-9._-]{1,128}/[A-Za-z0-9._-]{1,128}\.(errors\.)?jsonl\.gz$"
)


def test_reads_writes_and_keys_stay_inside_their_prefixes(
    moto_endpoint: str, tiny_model_dir: Path, workers: list[ChaosWorker]
) -> None:
    stack = make_stack(moto_endpoint, visibility_timeout=60, max_receives=10)
    for path in sorted(tiny_model_dir.rglob("*")):
        if path.is_file():
            key = f"models/tiny/{path.relative_to(tiny_model_dir).as_posix()}"
            stack.put(key, path.read_bytes())
    stack.put("private/secret.jsonl", b'{"id": "p", "text": "private"}\n')
    good = [{"id": f"g{i}", "text": f"good film {MARK}"} for i in range(3)]
    uri = stack.put("inputs/sec/part.jsonl", "".join(json.dumps(r) + "\n" for r in good).encode())
    bodies = [
        json.dumps({"version": 1, "job_id": "sec", "batch_id": "inline", "records": good}),
        json.dumps(
            {
                "version": 1,
                "job_id": "sec",
                "batch_id": "s3",
                "input": {"uri": uri, "format": "jsonl"},
            }
        ),
        json.dumps(
            {
                "version": 1,
                "job_id": "sec",
                "input": {"uri": f"s3://{stack.bucket}/private/secret.jsonl", "format": "jsonl"},
            }
        ),
    ]
    hostile = []
    for value in HOSTILE_IDS:
        hostile.append(json.dumps({"version": 1, "job_id": value, "records": good}))
        hostile.append(
            json.dumps({"version": 1, "job_id": "sec", "batch_id": value, "records": good})
        )
    assert send_all(stack, bodies + hostile) == len(bodies) + len(hostile)

    with FaultProxy(moto_endpoint) as proxy:
        worker = ChaosWorker(
            {
                "AWS_ENDPOINT_URL": proxy.url,
                "SCORER_QUEUE_URL": stack.queue_url,
                "SCORER_OUTPUT_URI": stack.output_uri,
                "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
                "SCORER_MODEL_URI": f"s3://{stack.bucket}/models/tiny",
            },
            "sec",
        )
        workers.append(worker)
        total = len(bodies) + len(hostile)
        wait_until(
            [worker],
            lambda: (
                worker.count(LogEvent.MESSAGE_DELETED) + worker.count(LogEvent.SENT_TO_DLQ) >= total
            ),
            90,
            "every message settled",
        )
        assert worker.terminate() == 0
        requests = [r for r in proxy.snapshot() if r.service == "s3"]

    # Reads: only the allowed input prefix and the model prefix.
    bucket = f"/{stack.bucket}/"
    reads = [r for r in requests if r.method in ("GET", "HEAD")]
    for request in reads:
        if request.operation == "GET bucket list":
            prefix = request.query.get("prefix", [""])[0]
            assert prefix.startswith("models/tiny"), request.path
            continue
        assert request.key_path.startswith((bucket + "inputs/", bucket + "models/tiny/")), (
            request.path
        )
    # Writes: only under the output prefix; nothing is ever deleted.
    writes = [r for r in requests if r.method not in ("GET", "HEAD")]
    assert writes, "the worker wrote nothing"
    for request in writes:
        assert request.method in ("PUT", "POST"), request.path
        assert request.key_path.startswith(bucket + "results/"), request.path
    assert any(r.key_path.startswith(bucket + "models/tiny/") for r in reads)
    assert not any(r.key_path.startswith(bucket + "private/") for r in requests)

    # Keys: built only from validated ids; every hostile id went to the DLQ instead.
    keys = stack.keys("")
    results = [key for key in keys if key.startswith("results/")]
    assert results == ["results/sec/inline.jsonl.gz", "results/sec/s3.jsonl.gz"]
    assert all(SAFE_KEY.match(key) for key in results)
    others = [k for k in keys if not k.startswith(("results/", "inputs/", "models/", "private/"))]
    assert others == []
    dead = stack.dlq_messages()
    assert len(dead) == len(hostile) + 1
    for message in dead:
        reason = message["MessageAttributes"]["reason"]["StringValue"]
        assert re.search(r"job_id|batch_id|outside SCORER_ALLOWED_INPUT_URIS", reason), reason
    paths = [urllib.parse.unquote(r.path) for r in writes]
    assert not any(".." in path or "\\" in path for path in paths)

    # Logs: no secret, no review text.
    output = worker.all_output()
    assert SECRET_MARKER not in output
    assert MARK not in output
    assert "private" not in "".join(e.get("message", "") for e in worker.logs)


AUDIT_SCRIPT = Path(__file__).parent / "audit.sh"


@pytest.mark.chaos_long
def test_dependencies_have_no_known_vulnerabilities() -> None:
    """pip-audit over the venv; needs its vulnerability service, so CI runs it where it can."""
    if shutil.which("pip-audit", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("pip-audit is not installed in the venv (pip install pip-audit)")
    result = subprocess.run(
        ["bash", str(AUDIT_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHON": sys.executable},
    )
    if result.returncode == 3:
        pytest.skip("vulnerability service unreachable: " + result.stdout.strip()[-300:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
