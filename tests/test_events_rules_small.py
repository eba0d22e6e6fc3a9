"""The write rules' two passes (row by row for a few rows, vectorized for many) accept and refuse the same rows,
with the same error."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.events import ConcurrencyError, EventStoreError, rules

ids = st.sampled_from(["a", "b", "c"])
kinds = st.sampled_from(["Order", "Customer"])
rows = st.lists(st.tuples(ids, kinds, st.integers(min_value=0, max_value=4)), min_size=1, max_size=8)
heads = st.dictionaries(ids, st.builds(rules.StreamHead, st.integers(min_value=1, max_value=3), kinds), max_size=3)


def outcome(check, *args, **kwargs) -> tuple[str, str] | None:
    try:
        check(*args, **kwargs)
    except Exception as exc:  # the outcome to compare: type and message
        return type(exc).__name__, str(exc)
    return None


@settings(max_examples=400, deadline=None)
@given(rows=rows, heads=heads, expected=st.booleans(), base=st.sampled_from([0, rules.MAX_VERSION - 3]))
def test_both_passes_agree(rows, heads, expected, base) -> None:
    """`base`: streams near their last version too, where a row past it is refused."""
    aggregate_ids, types, versions = (list(column) for column in zip(*rows, strict=True))
    versions = [base + v for v in versions]
    heads = {aggregate_id: rules.StreamHead(base + h.version, h.aggregate_type) for aggregate_id, h in heads.items()}
    few = outcome(rules.check_write, aggregate_ids, types, versions, heads=heads, expected=expected)
    many = outcome(
        rules.check_write,
        pa.array(aggregate_ids),  # Arrow input always takes the vectorized pass
        pa.array(types),
        pa.array(versions, pa.int64()),
        heads=heads,
        expected=expected,
    )
    assert few == many


def test_a_valid_batch_passes_and_a_moved_stream_is_named() -> None:
    rules.check_write(
        ["a", "a", "b"], ["Order", "Order", "Order"], [3, 4, 1], heads={"a": rules.StreamHead(2, "Order")}
    )
    with pytest.raises(ConcurrencyError) as refused:
        rules.check_write(["a"], ["Order"], [2], heads={"a": rules.StreamHead(2, "Order")})
    assert (refused.value.aggregate_id, refused.value.expected, refused.value.actual) == ("a", 1, 2)


def test_no_version_follows_the_last_one_a_stream_holds() -> None:
    top = rules.MAX_VERSION
    rules.check_write(["a"], ["Order"], [top], heads={"a": rules.StreamHead(top - 1, "Order")})
    for ids, versions, heads in (
        (["a"], [top + 1], {"a": rules.StreamHead(top, "Order")}),
        (["b", "a", "a"], [1, top, top + 1], {"a": rules.StreamHead(top - 1, "Order")}),
    ):
        for given_ids in (ids, pa.array(ids)):  # both passes
            with pytest.raises(EventStoreError) as refused:
                rules.check_write(given_ids, ["Order"] * len(ids), versions, heads=heads)
            assert type(refused.value) is EventStoreError and str(top) in str(refused.value)
            assert str(refused.value).startswith("a ")
