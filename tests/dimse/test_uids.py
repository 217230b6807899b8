"""is_valid_uid and is_valid_new_uid against the rules of PS3.5 §9.1 written out component
by component."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse.uids import MAX_UID_LENGTH, is_valid_new_uid, is_valid_uid


def reference(value: str) -> bool:
    """PS3.5 §9.1: at most 64 characters; components of the digits 0-9 separated by
    single dots; no component empty; no leading zero in a component of several digits."""
    if len(value) > MAX_UID_LENGTH:
        return False
    for component in value.split("."):
        if not component or any(c not in "0123456789" for c in component):
            return False
        if len(component) > 1 and component[0] == "0":
            return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="0123456789..0x\u0663", max_size=70))
def test_agrees_with_the_rules_for_any_text(value: str) -> None:
    assert is_valid_uid(value) == reference(value)
    assert is_valid_new_uid(value) == reference(value)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=12))
def test_well_formed_uids_are_valid_up_to_64_characters(parts: list[int]) -> None:
    uid = ".".join(map(str, parts))
    assert is_valid_uid(uid) == (len(uid) <= MAX_UID_LENGTH)
    assert is_valid_new_uid(uid) == (len(uid) <= MAX_UID_LENGTH)


def test_examples() -> None:
    for good in ("0", "1.2.840.10008.5.1.4.1.1.2", "1.0.0", "10.0.10", "2.25." + "9" * 59):
        assert is_valid_uid(good), good
        assert is_valid_new_uid(good), good
    for bad in ("", ".", "1.", ".1", "1..2", "01", "1.02", "1.00", "1.2x", "1.2.\u0663", "1 .2"):
        assert not is_valid_uid(bad), bad
        assert not is_valid_new_uid(bad), bad


def test_the_memo_is_bounded_and_keeps_no_text_longer_than_a_uid() -> None:
    from dicomnet.dimse.uids import _is_uid_text

    assert _is_uid_text.cache_info().maxsize == 1024
    before = _is_uid_text.cache_info().currsize
    assert not is_valid_uid("1" * 100_000)
    assert not is_valid_uid("1." * 40)
    assert _is_uid_text.cache_info().currsize == before
    for _ in range(3):  # the same answer from the memo as from the pattern
        assert is_valid_uid("1.2.840.10008.1.2.1") and not is_valid_uid("1.2.08")


def test_a_new_uid_is_checked_without_the_memo() -> None:
    from dicomnet.dimse.uids import _is_uid_text

    before = _is_uid_text.cache_info()
    assert is_valid_new_uid("1.2.826.0.1.3680043.8.498.1234567890")
    assert not is_valid_new_uid("1.2.826.0.1.3680043.8.498.01")
    assert not is_valid_new_uid("1" * 65)
    after = _is_uid_text.cache_info()
    assert (after.hits, after.misses, after.currsize) == (
        before.hits,
        before.misses,
        before.currsize,
    )
