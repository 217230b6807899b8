"""Policies for tests: the Verification default with changes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dicomnet.ae import default_policy
from dicomnet.policy import Policy, Timers

#: CT Image Storage, for tests that need a second SOP class (PS3.4 Annex B.5).
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def make_policy(title: str, **changes: Any) -> Policy:
    """The Verification-only default policy for ``title`` with ``changes`` applied.

    ``timers`` may be given as a dict of the :class:`Timers` fields to change.
    """
    timers = changes.pop("timers", None)
    if timers is not None:
        changes["timers"] = replace(Timers(), **timers)
    return replace(default_policy(title), **changes)
