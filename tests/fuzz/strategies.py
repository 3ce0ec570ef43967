"""Hypothesis strategies both fuzz suites draw from: producers' text and any JSON value."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def unicode_text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Text as producers write it: any Unicode scalar (no lone surrogates: not UTF-8)."""
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=min_size, max_size=max_size)


def json_scalars(texts: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    finite = st.floats(allow_nan=False, allow_infinity=False)
    return st.one_of(st.none(), st.booleans(), st.integers(), finite, texts)


def json_values(
    texts: st.SearchStrategy[str], max_size: int, max_leaves: int
) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, and lists and objects of up to `max_size` items, nested."""
    return st.recursive(
        json_scalars(texts),
        lambda children: st.one_of(
            st.lists(children, max_size=max_size),
            st.dictionaries(texts, children, max_size=max_size),
        ),
        max_leaves=max_leaves,
    )
