"""Peak memory of reading one hostile input, measured as RSS in a subprocess.

Each input goes through the worker's reading path with its default limits
(tests/fuzz/input_rss.py); the bound is on the peak RSS over the process's baseline:
**64 MiB per input**, whatever its shape. Before the row cap, a 65 KB gzip of one CSV row
of 64 Mi commas raised RSS by ~576 MiB, and ~260 KB of gzip without a newline by ~514 MiB.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PEAK_BOUND_MIB = 64
MIB = 1024 * 1024
PROBE = Path(__file__).with_name("input_rss.py")


def repeat(piece: bytes, total: int) -> Iterator[bytes]:
    chunk = piece * max(1, MIB // len(piece))
    for _ in range(total // len(chunk)):
        yield chunk


CASES: dict[str, tuple[str, Callable[[], Iterator[bytes]], str]] = {
    # name: (format, the decompressed bytes, the outcome expected)
    "csv: one row of 64 Mi commas": (
        "csv",
        lambda: iter([b"id,text\n", *repeat(b",", 64 * MIB), b"\n1,after\n"]),
        "1 result, 1 error",
    ),
    "csv: 256 MiB without a newline": (
        "csv",
        lambda: iter([b"id,text\n1,", *repeat(b"a", 256 * MIB)]),
        "0 results, 1 error",
    ),
    "csv: a header of 64 Mi commas": (
        "csv",
        lambda: iter([*repeat(b",", 64 * MIB), b"\n"]),
        "dead-lettered: CSV header is longer",
    ),
    "csv: 160 Ki fields in one row": (
        "csv",
        lambda: iter([b"id,text\n", b"a," * (160 * 1024), b"\n2,ok\n"]),
        "1 result, 1 error",
    ),
    "csv: a quote opened and never closed": (
        "csv",
        lambda: iter([b'id,text\n1,"open\n', b"2,swallowed\n" * 1000]),
        "dead-lettered: CSV: the quote opened on line 2 is never closed",
    ),
    "csv: a quote open for 64 MiB of lines": (
        "csv",
        lambda: iter([b'id,text\n1,"open\n', *repeat(b"swallowed text\n", 64 * MIB)]),
        "dead-lettered: CSV: the quote opened on line 2 is never closed",
    ),
    "jsonl: 256 MiB without a newline": (
        "jsonl",
        lambda: iter([b'{"id":"a","text":"x"}\n', *repeat(b"a", 256 * MIB)]),
        "1 result, 1 error",
    ),
    "jsonl: 64 MiB of newlines": (
        "jsonl",
        lambda: iter([b'{"id":"a","text":"x"}\n', *repeat(b"\n", 64 * MIB)]),
        "dead-lettered: input has more than 5000000 lines",
    ),
    "jsonl: one line nested 800 Ki deep": (
        "jsonl",
        lambda: iter([b"[" * (800 * 1024), b"\n", b'{"id":"a","text":"x"}\n']),
        "1 result, 1 error",
    ),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for number, (name, (_, chunks, _)) in enumerate(CASES.items()):
        path = folder / f"input-{number}.gz"  # gzip, found by its magic bytes
        with gzip.open(path, "wb", compresslevel=1) as out:
            for chunk in chunks():
                out.write(chunk)
        paths[name] = path
    return paths


def measure(path: Path, fmt: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(PROBE), str(path), fmt],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", list(CASES))
def test_one_hostile_input_stays_under_the_memory_bound(
    name: str, inputs: dict[str, Path], record_property: Callable[[str, object], None]
) -> None:
    fmt, _, expected = CASES[name]
    figures = measure(inputs[name], fmt)
    record_property("figures", figures)
    print(f"{name}: {figures}")
    outcome = str(figures["outcome"])
    if outcome == "read":
        outcome = f"{figures['results']} result{'s' * (figures['results'] != 1)}, "
        outcome += f"{figures['errors']} error{'s' * (figures['errors'] != 1)}"
    assert outcome.startswith(expected), figures
    assert float(figures["peak_over_baseline_mib"]) < PEAK_BOUND_MIB, figures  # type: ignore[arg-type]
