"""The errors of labkit.events show the value at fault: whole up to 80 characters of its repr, cut to 77 and '...'
beyond, so a caller passing anything (a whole document, say) still gets a one-line refusal naming it."""

from __future__ import annotations

from labkit.events import StoreArgumentError


def test_a_value_is_shown_whole_up_to_80_characters_and_cut_beyond() -> None:
    fits = "a" * 78  # its repr, quotes included, is 80 characters
    assert repr(fits) in str(StoreArgumentError("limit", fits, "a whole number"))
    longer = "b" * 79  # 81 characters: cut to its first 77 and '...'
    refused = StoreArgumentError("limit", longer, "a whole number")
    assert (refused.parameter, refused.value) == ("limit", longer)  # the value itself is kept whole
    assert f"limit={repr(longer)[:77]}... is not a whole number" in str(refused)
    assert repr(longer)[:78] not in str(refused)
