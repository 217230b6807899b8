"""draft_class: a frozen, slotted dataclass's object made by plain stores is the constructor's."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from dicomnet.dimse.drafts import draft_class


@dataclasses.dataclass(frozen=True, slots=True)
class Base:
    one: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Frozen(Base):
    two: str
    three: tuple[int, ...] = ()


def _made(one: int, two: str, three: tuple[int, ...]) -> Frozen:
    draft = draft_class(Frozen)()
    draft.one, draft.two, draft.three = one, two, three
    draft.__class__ = Frozen
    made: Frozen = draft
    return made


def test_a_filled_draft_becomes_the_frozen_object() -> None:
    made = _made(1, "x", (2, 3))
    expected = Frozen(1, two="x", three=(2, 3))
    assert type(made) is Frozen
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.one = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.two  # type: ignore[misc]
    assert dataclasses.replace(made, two="y") == Frozen(1, two="y", three=(2, 3))
    assert copy.copy(made) == expected
    assert pickle.loads(pickle.dumps(made)) == expected


def test_the_draft_is_not_the_class_and_stores_plainly() -> None:
    twin = draft_class(Frozen)
    assert twin is not Frozen and not issubclass(twin, Frozen)
    assert issubclass(twin, Base)
    draft = twin()
    draft.one = 1
    draft.one = 2  # a draft is mutable until it becomes the frozen object
    assert draft.one == 2
    with pytest.raises(AttributeError):
        draft.other = 3  # slots only: no field the class lacks


@pytest.mark.parametrize(
    "kind",
    [
        dataclasses.dataclass(frozen=True)(type("NoSlots", (), {"__annotations__": {"a": int}})),
        dataclasses.dataclass(slots=True)(type("NotFrozen", (), {"__annotations__": {"a": int}})),
        type("Plain", (), {"__slots__": ("a",)}),
    ],
)
def test_only_frozen_slotted_dataclasses_have_drafts(kind: type) -> None:
    with pytest.raises(TypeError):
        draft_class(kind)
