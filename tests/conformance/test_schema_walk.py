"""Every key of the profile schema is consumed by code or marked informational with a reason.

The walk records each key the profile reader asks for while it loads every
profile of ``conformance/profiles`` (the reader asks for every key of each table
it reads, present or not, so the walk covers the schema, not only the keys the
files happen to use). ``dicomnet.conformance.schema.FIELDS`` must have an entry
for each; a ``Consumed`` entry's modules must exist and use its attribute name.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from dicomnet.conformance import list_profiles, load_profile, tomlcheck
from dicomnet.conformance.locate import profiles_dir
from dicomnet.conformance.schema import FIELDS, FREE_FORM, UPCOMING, Consumed, Informational

ROOT = Path(__file__).resolve().parents[2]


def walk_profile_keys() -> set[str]:
    """Dotted keys (no array indexes) the reader asks for in profile files."""
    asked: set[str] = set()
    profiles = profiles_dir(None).resolve()

    class Recording(set[str]):
        def __init__(self, section: tomlcheck.Section) -> None:
            super().__init__()
            self.section = section

        def add(self, name: str) -> None:
            if Path(self.section.path).resolve().parent == profiles:
                asked.add(re.sub(r"\[\d+\]", "", self.section.key(name)))
            super().add(name)

    original_init = tomlcheck.Section.__init__
    original_has = tomlcheck.Section.has

    def init(self: tomlcheck.Section, data: dict[str, Any], path: Path, prefix: str) -> None:
        original_init(self, data, path, prefix)
        self._used = Recording(self)

    def has(self: tomlcheck.Section, name: str) -> bool:
        self._used.add(name)
        return original_has(self, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tomlcheck.Section, "__init__", init)
        patch.setattr(tomlcheck.Section, "has", has)
        for name in list_profiles():
            load_profile(name)
    # Collapse free-form tables; drop the tables themselves (containers, not fields).
    keys = set()
    for key in asked:
        free = next((f for f in FREE_FORM if key == f or key.startswith(f + ".")), None)
        keys.add(free or key)
    return {k for k in keys if k in FREE_FORM or not any(o.startswith(k + ".") for o in keys)}


@functools.cache
def walked_keys() -> frozenset[str]:
    return frozenset(walk_profile_keys())


def module_source(name: str) -> str:
    if name.startswith("examples."):
        return (ROOT / (name.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    return inspect.getsource(importlib.import_module(name))


def test_every_profile_key_is_consumed_or_informational() -> None:
    walked = walk_profile_keys()
    assert "association.max_pdu_receive" in walked and "status.code" in walked  # the walk works
    unaccounted = sorted(walked - set(FIELDS))
    assert not unaccounted, f"add these keys to dicomnet.conformance.schema.FIELDS: {unaccounted}"
    stale = sorted(set(FIELDS) - walked - UPCOMING)
    assert not stale, f"FIELDS names keys the profile reader does not have: {stale}"
    landed = sorted(UPCOMING & walked)
    assert not landed, f"these keys have landed: drop them from schema.UPCOMING: {landed}"
    assert set(FIELDS) >= UPCOMING


@pytest.mark.parametrize("key", sorted(k for k, v in FIELDS.items() if isinstance(v, Consumed)))
def test_consumed_keys_are_used_by_the_modules_named(key: str) -> None:
    entry = FIELDS[key]
    assert isinstance(entry, Consumed)
    assert entry.modules
    if key in UPCOMING and key not in walked_keys():
        pytest.skip("the profile reader does not have this key yet (schema.UPCOMING)")
    for module in entry.modules:
        assert not module.startswith("dicomnet.conformance.render"), "rendering is not consuming"
        source = module_source(module)
        assert re.search(rf"\b{re.escape(entry.attribute)}\b", source), (
            f"{key}: {module} does not use {entry.attribute!r}"
        )


def test_informational_keys_give_a_reason() -> None:
    for key, entry in FIELDS.items():
        if isinstance(entry, Informational):
            assert len(entry.reason.split()) >= 3, key


def test_a_new_unlisted_key_fails_the_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The walk is not vacuous: drop one entry and the same walk names it.
    monkeypatch.delitem(FIELDS, "association.tcp_nodelay")
    walked = walk_profile_keys()
    assert "association.tcp_nodelay" in walked - set(FIELDS)
