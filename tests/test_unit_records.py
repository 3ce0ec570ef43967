"""RecordChecker: each record is judged on its own, so one bad record is one error line."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.records import MAX_ID_CHARS
from worker.record_checks import Record, RecordChecker, Rejected, check_id

LIMIT = 64 * 1024


def check(raw: Any, index: int = 0, max_text_bytes: int = LIMIT) -> Record | Rejected:
    return RecordChecker(max_text_bytes).check(index, raw)


def rejected(raw: Any, index: int = 0, max_text_bytes: int = LIMIT) -> Rejected:
    result = check(raw, index, max_text_bytes)
    assert isinstance(result, Rejected), f"{raw!r} should have been rejected, got {result!r}"
    assert result.index == index
    return result


def test_good_record_keeps_index_id_and_text() -> None:
    assert check({"id": "r-1", "text": "Loved it."}, index=4) == Record(4, "r-1", "Loved it.")


def test_extra_fields_of_a_record_are_ignored() -> None:
    assert check({"id": "a", "text": "b", "lang": "en"}) == Record(0, "a", "b")


def test_text_is_kept_exactly_as_given() -> None:
    text = "  café ☕ \n second line  "
    result = check({"id": "a", "text": text})
    assert isinstance(result, Record) and result.text == text


@pytest.mark.parametrize("raw", ["a string", 17, None, ["id", "text"], True])
def test_non_object_record_is_rejected(raw: Any) -> None:
    result = rejected(raw, index=3)
    assert result.id is None
    assert "must be an object" in result.error
    assert type(raw).__name__ in result.error


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_id", "expected"), [(7, "7"), (0, "0"), (-3, "-3"), (2**70, str(2**70))]
)
def test_integer_id_is_accepted_and_stringified(raw_id: int, expected: str) -> None:
    assert check({"id": raw_id, "text": "t"}) == Record(0, expected, "t")


@pytest.mark.parametrize("raw_id", [True, False])
def test_boolean_id_is_rejected(raw_id: bool) -> None:
    result = rejected({"id": raw_id, "text": "t"})
    assert result.id is None
    assert "id must be a string" in result.error


@pytest.mark.parametrize(
    ("raw_id", "kind"), [(1.5, "float"), ([1], "list"), ({"a": 1}, "dict"), (float("nan"), "float")]
)
def test_non_string_id_is_rejected(raw_id: Any, kind: str) -> None:
    result = rejected({"id": raw_id, "text": "t"})
    assert result.id is None
    assert f"id must be a string, not {kind}" in result.error


def test_missing_id_is_rejected() -> None:
    result = rejected({"text": "t"})
    assert result.id is None
    assert "'id' is missing" in result.error


def test_null_id_is_rejected() -> None:
    assert "id is missing" in rejected({"id": None, "text": "t"}).error


@pytest.mark.parametrize("raw_id", ["", " ", "\u3000"])
def test_empty_id_is_rejected(raw_id: str) -> None:
    assert "id is empty" in rejected({"id": raw_id, "text": "t"}).error


@pytest.mark.parametrize("raw_id", ["a\nb", "a\x00", "\tx", "x\x1b[31m", "a\x7f", "a\x85b", "a\r"])
def test_id_with_control_characters_is_rejected(raw_id: str) -> None:
    result = rejected({"id": raw_id, "text": "t"})
    assert result.id is None
    assert "control characters" in result.error


def test_id_of_max_length_is_accepted() -> None:
    raw_id = "x" * MAX_ID_CHARS
    assert check({"id": raw_id, "text": "t"}) == Record(0, raw_id, "t")


def test_id_over_max_length_is_rejected() -> None:
    assert MAX_ID_CHARS == 512
    result = rejected({"id": "x" * (MAX_ID_CHARS + 1), "text": "t"})
    assert result.id is None
    assert "longer than 512" in result.error


def test_id_with_a_lone_surrogate_is_rejected() -> None:
    result = rejected({"id": "a\ud800", "text": "t"})
    assert result.id is None
    assert "not valid Unicode" in result.error


def test_unicode_id_is_accepted() -> None:
    assert check({"id": "répondre-☕", "text": "t"}) == Record(0, "répondre-☕", "t")


# -- duplicates -----------------------------------------------------------------------------


def test_later_record_repeating_an_id_is_rejected_and_the_first_kept() -> None:
    checker = RecordChecker(LIMIT)
    first = checker.check(0, {"id": "a", "text": "one"})
    other = checker.check(1, {"id": "b", "text": "two"})
    repeat = checker.check(2, {"id": "a", "text": "three"})
    assert first == Record(0, "a", "one")
    assert other == Record(1, "b", "two")
    assert isinstance(repeat, Rejected)
    assert (repeat.index, repeat.id) == (2, "a")
    assert "duplicate id" in repeat.error


def test_integer_id_and_its_string_are_duplicates() -> None:
    checker = RecordChecker(LIMIT)
    assert isinstance(checker.check(0, {"id": 5, "text": "t"}), Record)
    repeat = checker.check(1, {"id": "5", "text": "t"})
    assert isinstance(repeat, Rejected) and "duplicate id" in repeat.error


def test_ids_are_only_unique_within_one_batch() -> None:
    assert isinstance(RecordChecker(LIMIT).check(0, {"id": "a", "text": "t"}), Record)
    assert isinstance(RecordChecker(LIMIT).check(0, {"id": "a", "text": "t"}), Record)


def test_rejected_id_does_not_count_as_seen() -> None:
    checker = RecordChecker(LIMIT)
    assert isinstance(checker.check(0, {"id": "a\n", "text": "t"}), Rejected)
    assert isinstance(checker.check(1, {"id": "a", "text": "t"}), Record)


# -- text -----------------------------------------------------------------------------------


def test_missing_text_is_rejected_with_the_id() -> None:
    result = rejected({"id": "a"})
    assert result.id == "a"
    assert "'text' is missing" in result.error


@pytest.mark.parametrize(
    ("text", "kind"), [(None, "null"), (5, "int"), (["x"], "list"), (True, "bool")]
)
def test_non_string_text_is_rejected(text: Any, kind: str) -> None:
    result = rejected({"id": "a", "text": text})
    assert result.id == "a"
    assert f"text must be a string, not {kind}" in result.error


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n"])
def test_empty_or_whitespace_text_is_rejected(text: str) -> None:
    assert "text is empty" in rejected({"id": "a", "text": text}).error


def test_text_exactly_at_the_byte_limit_passes() -> None:
    text = "x" * LIMIT
    assert check({"id": "a", "text": text}) == Record(0, "a", text)


def test_text_one_byte_over_the_limit_is_rejected() -> None:
    result = rejected({"id": "a", "text": "x" * (LIMIT + 1)})
    assert result.id == "a"
    assert f"{LIMIT + 1} bytes" in result.error
    assert f"limit of {LIMIT}" in result.error


def test_text_limit_counts_utf8_bytes_not_characters() -> None:
    assert isinstance(check({"id": "a", "text": "é" * 5}, max_text_bytes=10), Record)
    too_long = rejected({"id": "a", "text": "é" * 6}, max_text_bytes=10)  # 6 chars, 12 bytes
    assert "12 bytes" in too_long.error
    assert isinstance(check({"id": "a", "text": "€" * 3 + "x"}, max_text_bytes=10), Record)
    assert isinstance(check({"id": "a", "text": "😀" * 3}, max_text_bytes=10), Rejected)


@pytest.mark.parametrize("text", ["bad \ud800 half", "\udcff", "a\udfffb"])
def test_text_with_lone_surrogates_is_rejected(text: str) -> None:
    result = rejected({"id": "a", "text": text})
    assert result.id == "a"
    assert "not valid UTF-8" in result.error


# -- custom field names ---------------------------------------------------------------------


def test_custom_field_names_are_used() -> None:
    checker = RecordChecker(LIMIT, id_field="review_id", text_field="body")
    raw = {"review_id": 9, "body": "meh", "id": "ignored", "text": "ignored"}
    assert checker.check(0, raw) == Record(0, "9", "meh")


def test_custom_field_names_are_named_when_missing() -> None:
    checker = RecordChecker(LIMIT, id_field="review_id", text_field="body")
    no_id = checker.check(0, {"id": "a", "body": "x"})
    no_text = checker.check(1, {"review_id": "a", "text": "x"})
    assert isinstance(no_id, Rejected) and "'review_id' is missing" in no_id.error
    assert isinstance(no_text, Rejected) and "'body' is missing" in no_text.error


# -- the usual id takes a shorter path (record_checks._is_plain_id): the same verdict ------


@given(raw_id=st.text(max_size=600) | st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_shortcut_for_plain_ids_gives_check_ids_verdict(raw_id: str) -> None:
    from worker.record_checks import _is_plain_id

    if _is_plain_id(raw_id):
        assert check_id(raw_id) == (raw_id, None)
    assert check({"id": raw_id, "text": "t"}) == _verdict_by_check_id(raw_id)


def _verdict_by_check_id(raw_id: str) -> Record | Rejected:
    record_id, problem = check_id(raw_id)
    return Rejected(0, None, problem) if problem else Record(0, record_id, "t")  # type: ignore[arg-type]


@given(text=st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000ab")))
def test_whitespace_text_is_empty_exactly_when_strip_leaves_nothing(text: str) -> None:
    result = check({"id": "a", "text": text})
    assert isinstance(result, Rejected) == (not text.strip())
