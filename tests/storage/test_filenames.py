"""File names for stored instances: valid UIDs as they are, anything else hashed."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from dicomnet.storage.filenames import (
    INVALID_UID_PREFIX,
    MAX_UID_LENGTH,
    instance_filename,
    is_valid_uid,
)

UNSAFE = [
    "../../etc/passwd",
    "1.2/3",
    "1.2\\3",
    "..",
    ".",
    "",
    "1..2",
    "1.02",
    ".1.2",
    "1.2.",
    "1.2\x00",
    "1.2 3",
    "1." + "2" * MAX_UID_LENGTH,
    "1.2.\u00e9",
    "C:\\windows",
    "/absolute",
]


def test_valid_uids_are_the_file_name() -> None:
    for uid in ("1.2.3", "0", "1.2.840.10008.5.1.4.1.1.2", "2.25." + "9" * 59):
        assert is_valid_uid(uid)
        assert instance_filename(uid) == uid + ".dcm"


def test_unsafe_uids_get_a_hashed_name_without_separators() -> None:
    names = set()
    for uid in UNSAFE:
        assert not is_valid_uid(uid), uid
        name = instance_filename(uid)
        assert name.startswith(INVALID_UID_PREFIX) and name.endswith(".dcm")
        assert "/" not in name and "\\" not in name and os.sep not in name
        assert len(name) == len(INVALID_UID_PREFIX) + 64 + 4
        names.add(name)
    assert len(names) == len(UNSAFE)  # no two unsafe UIDs share a file


@given(st.text(max_size=80))
def test_any_text_gives_a_plain_file_name(uid: str) -> None:
    name = instance_filename(uid, suffix="")
    assert name not in ("", ".", "..")
    assert os.path.basename(name) == name
    assert "\x00" not in name
    if is_valid_uid(uid):
        assert name == uid
    else:
        assert name.startswith(INVALID_UID_PREFIX)


@given(st.text(max_size=40), st.text(max_size=40))
def test_different_uids_never_share_a_name(a: str, b: str) -> None:
    if a != b:
        assert instance_filename(a) != instance_filename(b)
