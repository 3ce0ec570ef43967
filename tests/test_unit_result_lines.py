"""The result and error line rule (schemas/records.py): the bytes every reader gets.

The golden lines were written by the worker before the rule moved to schemas/ (commit
7a3af2f): the same ids and scores must keep giving the same bytes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.json_text import json_line
from schemas.records import ErrorRecord, ResultRecord, error_line, result_lines

VERSION = "imdb-ngram-20261128.26e8c6da"
IDS = ["plain-1", 'quo"te\\é', "ünï\u2028x\u2029", "a\x7fb", "12345", "small"]
SCORES = np.array([0.5, 1e-7, 0.99999994, 0.0, 1.0, 1.2e-6], dtype=np.float32)
GOLDEN = [
    '{"id":"plain-1","label":"positive","score":0.5,"model_version":"%s"}',
    '{"id":"quo\\"te\\\\é","label":"negative","score":0.0,"model_version":"%s"}',
    '{"id":"ünï\\u2028x\\u2029","label":"positive","score":1.0,"model_version":"%s"}',
    '{"id":"a\x7fb","label":"negative","score":0.0,"model_version":"%s"}',
    '{"id":"12345","label":"positive","score":1.0,"model_version":"%s"}',
    '{"id":"small","label":"negative","score":1e-06,"model_version":"%s"}',
]


def test_result_lines_are_the_bytes_the_worker_always_wrote() -> None:
    lines = result_lines(IDS, SCORES.tolist(), VERSION, 0.5)
    assert lines == [golden % VERSION for golden in GOLDEN]


def test_the_threshold_itself_is_positive() -> None:
    (line,) = result_lines(["a"], [0.25], VERSION, 0.25)
    assert json.loads(line)["label"] == "positive"


@given(
    record_id=st.text(min_size=1, max_size=40),
    score=st.floats(0.0, 1.0, width=32),
    version=st.text(min_size=1, max_size=20),
)
def test_a_result_line_is_the_contracts_json_for_any_id(
    record_id: str, score: float, version: str
) -> None:
    """Any string id (also ones the record checker refuses: control characters, U+2028)."""
    try:
        record_id.encode("utf-8")
        version.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates never reach a result line (the checker refuses them)
    (line,) = result_lines([record_id], [score], version, 0.5)
    parsed = ResultRecord.model_validate_json(line)
    assert (parsed.id, parsed.model_version) == (record_id, version)
    assert parsed.score == round(score, 6)
    assert line == json_line(parsed.model_dump())
    # One line for JSON Lines readers and JavaScript: no raw newline, U+2028 or U+2029.
    assert not {"\n", "\r", "\u2028", "\u2029"} & set(line)


def test_scores_must_match_ids_one_for_one() -> None:
    with pytest.raises(ValueError):
        result_lines(["a", "b"], [0.5], VERSION, 0.5)


def test_error_lines_are_the_bytes_the_worker_always_wrote() -> None:
    assert error_line("a\u2028b", "text is empty", 3) == (
        '{"id":"a\\u2028b","error":"text is empty","index":3}'
    )
    assert error_line(None, "line 1 is not valid JSON", 0) == (
        '{"id":null,"error":"line 1 is not valid JSON","index":0}'
    )
    ErrorRecord.model_validate_json(error_line(None, "x", 0))
