"""`scorer serve` under load: throughput against the model ceiling, latency, framework, naive.

All in one run, on the same cores, load from `wrk` (throughput) and `hey` (paced latency),
both Debian packages (`apt-get install wrk hey`), never Python threads:

- the model ceiling (signature alone, one thread per core, batch 256), before and after;
- `scorer serve` (Starlette on uvicorn): 1-review requests at 32 connections, 100-review
  requests at 8, then 1-review requests paced at a quarter of the first rate on 2 connections
  (p50/p99); the server's CPU per request split into its event-loop thread (HTTP, JSON,
  checks: the per-request Python cost) and the rest (scoring threads, TensorFlow); its GC
  collections and pauses (from its `stopped` log line);
- the same server with FastAPI in place of Starlette (bench/serve_fastapi.py);
- the original pattern: Flask, one Keras `predict` per request (bench/naive_flask.py).

Both servers stay loaded side by side (the idle one costs nothing) and their runs alternate in
rounds, each round between two ceiling measurements: this machine's speed drifts by tens of
percent within minutes, so every run is divided by the ceiling around it, and the figures are
medians over the rounds. CPU per request (from /proc, not wall time) is the steadiest figure.

    python -m bench.serve_speed [--model models/default] [--data ...] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.bars import SERVE_HUNDRED_US, SERVE_ONE_REVIEW_US, added_us
from bench.common import (
    bench_arguments,
    free_port,
    load_reviews,
    print_table,
    write_result,
)
from bench.scoring_speed import CeilingProcess
from worker.log_events import LogEvent

SCORER = str(Path(sys.executable).parent / "scorer")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Cycles through pre-built bodies (one per line of the file given after `--`), and prints
#: the figures as one JSON line at the end.
WRK_SCRIPT = """
local bodies, n, i = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do n = n + 1; bodies[n] = line end
end
function request()
  i = i % n + 1
  return wrk.format("POST", "/v1/score", {["Content-Type"] = "application/json"}, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,'
    .. '"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is needed: apt-get install -y {tool}")
    return path


def write_bodies(path: Path, reviews: list[dict[str, str]], per_request: int) -> Path:
    """One `{"records": [...]}` body per line, each with `per_request` distinct reviews."""
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, len(reviews) - per_request + 1, per_request):
            records = [
                {"id": f"{start + n}", "text": review["text"]}
                for n, review in enumerate(reviews[start : start + per_request])
            ]
            out.write(json.dumps({"records": records}) + "\n")
    return path


def run_wrk(url: str, script: Path, bodies: Path, connections: int, seconds: float) -> dict:
    """wrk with one thread (the server needs the cores more); rates count 2xx answers only."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [_require("wrk"), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["-s", str(script), url, "--", str(bodies)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in output.splitlines() if line.startswith("{"))
    figures = json.loads(line)
    seconds_run = figures["duration_us"] / 1e6
    ok = figures["requests"] - figures["non_2xx"]
    figures["ok_per_second"] = ok / seconds_run
    figures["load_cpu_share"] = (
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    ) / seconds_run
    return figures


def run_hey(url: str, body: Path, rate: float, connections: int, seconds: float) -> dict:
    """Requests paced at `rate` per second in all (hey's -q is per connection)."""
    per_connection = max(1.0, rate / connections)
    command = [_require("hey"), "-z", f"{seconds:g}s", "-c", str(connections)]
    command += ["-q", f"{per_connection:.1f}", "-m", "POST", "-T", "application/json"]
    command += ["-D", str(body), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = {
        int(p): float(s) * 1000 for p, s in re.findall(r"(\d+)%+ in ([\d.]+) secs", output)
    }
    statuses = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", output)}
    rate_done = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return {
        "target_per_second": rate,
        "requests_per_second": rate_done,
        "p50_ms": percentiles.get(50),
        "p90_ms": percentiles.get(90),
        "p99_ms": percentiles.get(99),
        "statuses": statuses,
    }


def _stat_cpu_seconds(path: str) -> float:
    """utime + stime of a /proc stat file (a process's includes its ended threads)."""
    values = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(values[11]) + int(values[12])) / CLOCK_TICKS


def measure_ceiling(ceiling: CeilingProcess) -> tuple[float, float]:
    """(reviews/s, reviews per CPU-second) of one ceiling measurement."""
    pid = ceiling._process.pid
    cpu_before, started = _stat_cpu_seconds(f"/proc/{pid}/stat"), time.perf_counter()
    rate = ceiling.measure()
    wall = time.perf_counter() - started
    cpu = _stat_cpu_seconds(f"/proc/{pid}/stat") - cpu_before
    return rate, rate * wall / max(cpu, 1e-9)


class ServerProcess:
    """A server under test: started, waited for, its CPU read per thread, stopped by SIGTERM."""

    def __init__(self, command: Sequence[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1/score"
        self.logs: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            list(command),
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.logs.append(json.loads(line))

    def wait_ready(self, probe: bytes, timeout: float = 180.0) -> None:
        """Until a one-review request is answered 200 (the model is loaded and warm)."""
        deadline = time.monotonic() + timeout
        while True:
            request = urllib.request.Request(
                self.url, data=probe, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"server did not become ready: {self.logs[-5:]}")
            time.sleep(0.2)

    def cpu_seconds(self) -> tuple[float, float]:
        """(the main thread's CPU seconds: the event loop, the rest of the process's)."""
        pid = self.process.pid
        main = _stat_cpu_seconds(f"/proc/{pid}/task/{pid}/stat")
        return main, _stat_cpu_seconds(f"/proc/{pid}/stat") - main

    def stop(self) -> dict[str, Any]:
        """SIGTERM; the `stopped` log line (counts and GC pauses) when the server prints one."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        self._reader.join(timeout=10)
        return next((e for e in self.logs if e.get("message") == LogEvent.STOPPED), {})


@contextlib.contextmanager
def server(kind: str, model: Path, port: int, probe: bytes) -> Iterator[ServerProcess]:
    env = {"SCORER_MODEL_URI": str(model), "SCORER_LOG_LEVEL": "INFO"}
    if kind == "starlette":
        command = [SCORER, "serve", "--host", "127.0.0.1", "--port", str(port)]
    elif kind == "fastapi":
        command = [sys.executable, "-m", "bench.serve_fastapi", "--port", str(port)]
    else:
        command = [sys.executable, "-m", "bench.naive_flask", "--port", str(port)]
        command += ["--model", str(model)]
    process = ServerProcess(command, env, port)
    try:
        process.wait_ready(probe)
        yield process
    finally:
        if process.process.poll() is None:
            process.stop()


def measured(
    process: ServerProcess, script: Path, bodies: Path, connections: int, seconds: float
) -> dict[str, Any]:
    """A wrk run with the server's CPU per answered request, split by thread."""
    main_before, other_before = process.cpu_seconds()
    figures = run_wrk(process.url, script, bodies, connections, seconds)
    main_after, other_after = process.cpu_seconds()
    answered = max(1, figures["requests"])
    figures["event_loop_cpu_us_per_request"] = 1e6 * (main_after - main_before) / answered
    figures["other_threads_cpu_us_per_request"] = 1e6 * (other_after - other_before) / answered
    figures["cpu_seconds"] = main_after - main_before + other_after - other_before
    return figures


LOADS = {"one_review_32": (1, 32), "hundred_reviews_8": (100, 8)}  # reviews a request, conns.


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def run(
    model: Path,
    data: Path,
    seconds: float = 8.0,
    rounds: int = 3,
    include_naive: bool = True,
) -> dict[str, Any]:
    """Both servers loaded side by side; each round runs every load on each, between two
    ceiling measurements, and divides by their mean (this machine's speed drifts within
    minutes). Figures are medians over the rounds."""
    _require("wrk")
    _require("hey")
    reviews = load_reviews(data, 20_000)
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    script = work / "bodies.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    bodies = {
        "one_review_32": write_bodies(work / "one.jsonl", reviews[:5000], 1),
        "hundred_reviews_8": write_bodies(work / "hundred.jsonl", reviews[:10_000], 100),
    }
    single = work / "single.json"
    first = bodies["one_review_32"].read_text(encoding="utf-8").splitlines()[0]
    single.write_text(first, encoding="utf-8")
    probe = single.read_bytes()
    cpus = set(os.sched_getaffinity(0))
    kinds = ("starlette", "fastapi")

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        k: {load: [] for load in LOADS} for k in kinds
    }
    result: dict[str, Any] = {"seconds_per_run": seconds, "rounds": rounds, "cpus": len(cpus)}
    ceilings: list[tuple[float, float]] = []
    ceiling_process = CeilingProcess(model, data, cpus)
    try:
        with contextlib.ExitStack() as stack:
            servers = {k: stack.enter_context(server(k, model, free_port(), probe)) for k in kinds}
            for process in servers.values():
                run_wrk(process.url, script, bodies["one_review_32"], 32, 2)  # warm-up
            ceilings.append(measure_ceiling(ceiling_process))
            for number in range(rounds):
                round_runs = []
                for kind in kinds if number % 2 == 0 else kinds[::-1]:  # neither always first
                    for load, (per_request, connections) in LOADS.items():
                        figures = measured(
                            servers[kind], script, bodies[load], connections, seconds
                        )
                        figures["reviews_per_second"] = figures["ok_per_second"] * per_request
                        runs[kind][load].append(figures)
                        round_runs.append(figures)
                ceilings.append(measure_ceiling(ceiling_process))
                around = (ceilings[-2][0] + ceilings[-1][0]) / 2
                per_cpu = (ceilings[-2][1] + ceilings[-1][1]) / 2
                for figures in round_runs:
                    figures["ceiling"] = around
                    figures["ratio_to_ceiling"] = figures["reviews_per_second"] / around
                    # Steadier on a shared machine: reviews per CPU-second of the server
                    # against the ceiling's reviews per CPU-second (all cores).
                    reviews = figures["reviews_per_second"] * figures["duration_us"] / 1e6
                    reviews_per_cpu = reviews / max(figures["cpu_seconds"], 1e-9)
                    figures["cpu_efficiency"] = reviews_per_cpu / per_cpu
            one_rate = _median([r["ok_per_second"] for r in runs["starlette"]["one_review_32"]])
            result["latency_quarter_rate_2"] = run_hey(
                servers["starlette"].url, single, one_rate / 4, 2, seconds
            )
            result["stopped"] = {kind: servers[kind].stop() for kind in kinds}
        if include_naive:
            with server("naive", model, free_port(), probe) as process:
                run_wrk(process.url, script, bodies["one_review_32"], 32, 2)
                naive = measured(process, script, bodies["one_review_32"], 32, seconds)
                naive["reviews_per_second"] = naive["ok_per_second"]
                result["naive_flask"] = naive
    finally:
        ceiling_process.close()
        shutil.rmtree(work, ignore_errors=True)

    result["ceilings"] = [rate for rate, _ in ceilings]
    result["ceilings_reviews_per_cpu_second"] = [per_cpu for _, per_cpu in ceilings]
    mean_ceiling = sum(rate for rate, _ in ceilings) / len(ceilings)
    rows = []
    for kind in kinds:
        result[kind] = {}
        for load, (per_request, connections) in LOADS.items():
            load_runs = runs[kind][load]
            summary = {
                key: _median([r[key] for r in load_runs])
                for key in (
                    "reviews_per_second",
                    "ratio_to_ceiling",
                    "p50_us",
                    "p99_us",
                    "event_loop_cpu_us_per_request",
                    "other_threads_cpu_us_per_request",
                    "load_cpu_share",
                    "cpu_efficiency",
                )
            }
            summary["ratios"] = [round(r["ratio_to_ceiling"], 3) for r in load_runs]
            summary["non_2xx"] = sum(r["non_2xx"] for r in load_runs)
            summary["runs"] = load_runs
            result[kind][load] = summary
            rows.append(
                [
                    f"{kind}: {per_request}-review requests, {connections} connections",
                    summary["reviews_per_second"],
                    summary["ratio_to_ceiling"],
                    " ".join(f"{r:.2f}" for r in summary["ratios"]),
                    summary["cpu_efficiency"],
                    summary["p99_us"] / 1000,
                    summary["event_loop_cpu_us_per_request"],
                    summary["other_threads_cpu_us_per_request"],
                    summary["non_2xx"],
                ]
            )
    starlette = result["starlette"]
    result["one_review_ratio"] = starlette["one_review_32"]["ratio_to_ceiling"]
    result["hundred_reviews_ratio"] = starlette["hundred_reviews_8"]["ratio_to_ceiling"]
    if include_naive:
        naive = result["naive_flask"]
        rows.append(
            [
                "naive Flask + Keras predict: 1-review requests, 32 connections",
                naive["reviews_per_second"],
                naive["reviews_per_second"] / mean_ceiling,
                "",
                "",
                naive["p99_us"] / 1000,
                naive["event_loop_cpu_us_per_request"],
                naive["other_threads_cpu_us_per_request"],
                naive["non_2xx"],
            ]
        )
        result["speedup_one_review"] = (
            starlette["one_review_32"]["reviews_per_second"] / naive["reviews_per_second"]
        )
        result["speedup_reviews_per_second"] = (
            starlette["hundred_reviews_8"]["reviews_per_second"] / naive["reviews_per_second"]
        )
    print_table(
        f"scorer serve under wrk: medians of {rounds} rounds of {seconds:g} s runs; ceilings "
        + ", ".join(f"{rate:,.0f}" for rate, _ in ceilings)
        + f" reviews/s; {len(cpus)} CPUs shared with the load generator",
        [
            "server: load",
            "reviews/s",
            "/ ceiling",
            "rounds",
            "per CPU-s / ceiling's",
            "p99 ms",
            "loop CPU us/req",
            "other CPU us/req",
            "non-2xx",
        ],
        rows,
    )
    latency = result["latency_quarter_rate_2"]
    ceiling = sum(result["ceilings"]) / len(result["ceilings"])
    one_us = added_us(result["one_review_ratio"], ceiling)
    hundred_us = added_us(result["hundred_reviews_ratio"], ceiling)
    print(
        f"  bars: 1-review requests add {one_us:.0f} us each (<= {SERVE_ONE_REVIEW_US:.0f}; "
        f"{result['one_review_ratio']:.2f} of the ceiling), 100-review requests "
        f"{hundred_us:.1f} us per review (<= {SERVE_HUNDRED_US:.1f}; "
        f"{result['hundred_reviews_ratio']:.2f}); latency at a quarter of the 1-review "
        f"rate ({latency['requests_per_second']:,.0f}/s of {latency['target_per_second']:,.0f} "
        f"asked, 2 connections): p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
        "(< 50 ms)"
    )
    for kind in kinds:
        stopped = result["stopped"][kind]
        if not stopped:
            continue
        requests = max(1, stopped.get("requests", 0))
        pauses = stopped.get("gc_pause_ms", [0, 0, 0])
        texts_per_call = stopped.get("texts_scored", 0) / max(1, stopped.get("model_calls", 1))
        print(
            f"  GC in the {kind} server ({stopped.get('gc_frozen_objects', 0):,} objects frozen "
            f"at start): collections {stopped.get('gc_collections')} by generation, pauses "
            f"{pauses} ms, longest {stopped.get('gc_longest_pause_ms')} ms, "
            f"{1000 * sum(pauses) / requests:.1f} us per request over {requests:,} requests; "
            f"mean {texts_per_call:.1f} texts per model call"
        )
    if include_naive:
        print(
            f"  speed-up over the naive pattern: {result['speedup_one_review']:,.0f}x in "
            f"1-review requests/s, {result['speedup_reviews_per_second']:,.0f}x in reviews/s "
            "(100-review requests)"
        )
    write_result("serve_speed", result)
    return result


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-naive", action="store_true", help="skip the Flask baseline")
    args = parser.parse_args()
    run(args.model, args.data, args.seconds, args.rounds, include_naive=not args.no_naive)


if __name__ == "__main__":
    main()
