"""Hypothesis strategies for DIMSE messages, shared by the tests in this folder."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from dicomnet.dimse import commands as c

ALL_CLASSES: tuple[type[c.DimseMessage], ...] = (
    c.CEchoRQ,
    c.CEchoRSP,
    c.CStoreRQ,
    c.CStoreRSP,
    c.CFindRQ,
    c.CFindRSP,
    c.CGetRQ,
    c.CGetRSP,
    c.CMoveRQ,
    c.CMoveRSP,
    c.CCancelRQ,
    c.NEventReportRQ,
    c.NEventReportRSP,
    c.NGetRQ,
    c.NGetRSP,
    c.NSetRQ,
    c.NSetRSP,
    c.NActionRQ,
    c.NActionRSP,
    c.NCreateRQ,
    c.NCreateRSP,
    c.NDeleteRQ,
    c.NDeleteRSP,
)

# UID components: "0" or a number without leading zero (PS3.5 §9.1).
uids = (
    st.lists(st.integers(0, 10**12), min_size=2, max_size=12)
    .map(lambda parts: ".".join(map(str, parts)))
    .filter(lambda uid: len(uid) <= 64)
)
_printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\\")
ae_titles = st.text(_printable, min_size=1, max_size=16).filter(lambda s: s == s.strip() != "")
comments = st.text(_printable, min_size=1, max_size=64).filter(lambda s: s == s.strip() != "")
us_values = st.integers(0, 0xFFFF)
tags = st.lists(st.integers(0, 0xFFFFFFFF), max_size=5).map(tuple)


def value_strategy(name: str) -> st.SearchStrategy[Any]:
    """The strategy for one message field, chosen by its name."""
    if name == "has_dataset":
        return st.booleans()
    if name.endswith("_uid"):
        return uids
    if name in ("move_destination", "move_originator_ae_title"):
        return ae_titles
    if name == "error_comment":
        return comments
    if name in ("offending_element", "attribute_identifier_list"):
        return tags
    return us_values


def messages(
    cls: type[c.DimseMessage], overrides: dict[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[c.DimseMessage]:
    """Instances of ``cls``; optional fields are sometimes left at their default.

    ``overrides`` replaces the strategy of the named fields outright.
    """
    overrides = overrides or {}
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for field in dataclasses.fields(cls):
        if field.name in overrides:
            kwargs[field.name] = overrides[field.name]
            continue
        strategy = value_strategy(field.name)
        if field.default is None:
            strategy = st.none() | strategy
        elif field.default == ():
            strategy = st.just(()) | strategy
        kwargs[field.name] = strategy
    return st.builds(cls, **kwargs)
