"""The C-STORE messages made without the frozen __init__ equal the constructor's."""

from __future__ import annotations

import dataclasses

import pytest

from dicomnet.dimse.commands import (
    CStoreRQ,
    CStoreRSP,
    DimseMessage,
    Priority,
    plain_store_rq,
    plain_store_rsp,
)


def same(made: DimseMessage, expected: DimseMessage) -> None:
    assert type(made) is type(expected)
    for field in dataclasses.fields(expected):  # every field set, each to the same value
        assert getattr(made, field.name) == getattr(expected, field.name), field.name
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.has_dataset = not made.has_dataset  # type: ignore[misc]


@pytest.mark.parametrize("priority", list(Priority))
@pytest.mark.parametrize("has_dataset", [True, False])
def test_plain_store_rq(priority: int, has_dataset: bool) -> None:
    made = plain_store_rq(
        message_id=7, sop_class_uid="1.2.3", sop_instance_uid="1.2.3.4",
        priority=priority, has_dataset=has_dataset,
    )  # fmt: skip
    expected = CStoreRQ(
        message_id=7, affected_sop_class_uid="1.2.3", affected_sop_instance_uid="1.2.3.4",
        priority=priority, has_dataset=has_dataset,
    )  # fmt: skip
    same(made, expected)


@pytest.mark.parametrize("uids", [("1.2", "1.2.5"), (None, None)])
@pytest.mark.parametrize("status", [0x0000, 0xB000, 0xA700])
def test_plain_store_rsp(uids: tuple[str | None, str | None], status: int) -> None:
    made = plain_store_rsp(
        responded_to=9, status=status, sop_class_uid=uids[0], sop_instance_uid=uids[1],
        has_dataset=False,
    )  # fmt: skip
    expected = CStoreRSP(
        message_id_being_responded_to=9, status=status, affected_sop_class_uid=uids[0],
        affected_sop_instance_uid=uids[1], has_dataset=False,
    )  # fmt: skip
    same(made, expected)
