"""The one check of what a UID value may look like (PS3.5 §9.1)."""

from __future__ import annotations

import functools
import re
from typing import Final

__all__ = ["MAX_UID_LENGTH", "is_valid_new_uid", "is_valid_uid"]

#: Longest value of a UI element (PS3.5 §9.1).
MAX_UID_LENGTH: Final = 64

# Components of digits without leading zeros, separated by single dots. The quantifiers
# are possessive: no match is ever found by giving digits back, so the matcher keeps no
# backtracking state (a quarter fewer instructions per UID; it runs several times a message).
_UID_RE: Final = re.compile(r"(?:0|[1-9][0-9]*+)(?:\.(?:0|[1-9][0-9]*+))*+")


def is_valid_uid(value: str) -> bool:
    """Whether ``value`` is a UID by the rules of PS3.5 §9.1."""
    return len(value) <= MAX_UID_LENGTH and _is_uid_text(value)


def is_valid_new_uid(value: str) -> bool:
    """:func:`is_valid_uid` for a value met for the first time (the instance UID of a
    C-STORE-RQ being encoded: a sender sends each instance once), checked without the
    memo: a miss costs the memo's look-up, insertion and eviction on top of the match,
    about two thirds of the match again, for an entry that is not looked up again."""
    return len(value) <= MAX_UID_LENGTH and _UID_RE.fullmatch(value) is not None


# A memo, not state: the answer depends on the text alone. A stored instance's UIDs are
# checked four to seven times (request, response, its encoding, the file name) and a SOP
# class UID on every message; one match each is enough. Bounded in entries and (through
# is_valid_uid) in length, so text from the network cannot grow it.
@functools.lru_cache(maxsize=1024)
def _is_uid_text(value: str) -> bool:
    return _UID_RE.fullmatch(value) is not None
