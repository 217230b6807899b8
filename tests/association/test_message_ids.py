"""MessageIds: 1..65535 in turn, wrapping, never one still in use."""

from __future__ import annotations

import pytest

from dicomnet.association.requests import MessageIds
from dicomnet.errors import LocalError


def test_ids_come_in_turn_and_skip_those_in_use() -> None:
    ids = MessageIds()
    assert [ids.allocate() for _ in range(3)] == [1, 2, 3]
    ids.release(2)
    assert ids.allocate() == 4  # in turn, not the freed one first
    ids._next = 1  # back at the start: 1 and 3 are still in use
    assert ids.allocate() == 2
    assert ids.allocate() == 5
    assert 1 in ids and 3 in ids and 4 in ids


def test_ids_wrap_after_65535() -> None:
    ids = MessageIds()
    ids._next = 0xFFFF
    assert ids.allocate() == 0xFFFF
    assert ids.allocate() == 1
    ids.release(1)
    ids._next = 0xFFFF  # in use: the search wraps to 1
    assert ids.allocate() == 1


def test_every_id_in_use_is_an_error() -> None:
    ids = MessageIds()
    for _ in range(0xFFFF):
        ids.allocate()
    with pytest.raises(LocalError, match="every Message ID is in use"):
        ids.allocate()
    ids.release(40000)
    assert ids.allocate() == 40000
