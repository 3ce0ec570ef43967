"""Read one input file as the worker reads an S3 object and print what it cost, as JSON.

Run as a subprocess (`python tests/fuzz/input_rss.py FILE FORMAT`) so the peak RSS
(`VmHWM`) is this input's alone: the worker's reading path (`decoded_input`, the format's
reader with the default caps, `RecordChecker`), with the worker's default limits.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from worker.inputs import InputError, iter_input
from worker.record_checks import RecordChecker, Rejected
from worker.s3 import decoded_input
from worker.settings import WorkerSettings


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main(path: str, fmt: str) -> dict[str, object]:
    defaults = WorkerSettings.model_fields
    max_text = defaults["max_text_bytes"].default
    max_lines = defaults["max_records_per_input"].default
    max_bytes = defaults["max_input_bytes"].default
    baseline = _status_mib("VmRSS")
    started = time.process_time()
    results = errors = 0
    outcome = "read"
    checker = RecordChecker(max_text)
    try:
        with open(path, "rb") as raw, decoded_input(raw, max_bytes, path) as stream:
            for item in iter_input(stream, fmt, "id", "text", max_text, max_lines):
                checked = item if isinstance(item, Rejected) else checker.check(*item)
                if isinstance(checked, Rejected):
                    errors += 1
                else:
                    results += 1
    except InputError as error:
        outcome = f"dead-lettered: {error}"[:200]
    return {
        "outcome": outcome,
        "results": results,
        "errors": errors,
        "baseline_mib": round(baseline, 1),
        "peak_rss_mib": round(_status_mib("VmHWM"), 1),
        "peak_over_baseline_mib": round(_status_mib("VmHWM") - baseline, 1),
        "cpu_seconds": round(time.process_time() - started, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
