"""How a Q/R SCP runs its C-MOVE/C-GET sub-operations, as a profile states it.

* Contexts: a C-MOVE sub-operation association proposes, for each SOP class
  to be sent, the profile's ``[[proposed]]`` rows for that class (e.g. LifeSys
  Table 1.24, Kodak Table 3); a class the profile does not list is proposed in
  each instance's own transfer syntax plus Implicit VR Little Endian (as
  without a profile). An instance whose syntax the destination did not accept
  is converted when it can be, else it is a failed sub-operation.
* A failed sub-operation (``[retrieve] on_failure``): ``continue`` goes on and
  ends with B000 (or A702 when nothing was sent), PS3.4 C.4.2.3;
  ``stop`` ends the sub-operation association at the first failure (A-ABORT),
  counts the rest as failed and answers A702 (Kodak §3.1.2.1.2.1).
* A warning status from the destination (``[retrieve] warning``): counted as a
  ``warning`` sub-operation (default) or as ``success`` (LifeSys Table 1.27:
  "image transmission is considered successful").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from dicomnet.policy import ProposedContext
from dicomnet.storage.scu import policy_contexts_for
from dicomnet.storage.source import InstanceSource

__all__ = ["OnFailure", "RetrieveRules", "WarningIs", "suboperation_contexts"]


class OnFailure(Enum):
    """What a failed sub-operation does to the rest of the retrieve."""

    CONTINUE = "continue"
    STOP = "stop"


class WarningIs(Enum):
    """How a warning status from the destination is counted."""

    WARNING = "warning"
    SUCCESS = "success"


@dataclass(frozen=True, slots=True)
class RetrieveRules:
    """A profile's sub-operation rules (the defaults are PS3.4's)."""

    on_failure: OnFailure = OnFailure.CONTINUE
    warning: WarningIs = WarningIs.WARNING

    @classmethod
    def from_profile(cls, profile: object) -> RetrieveRules:
        """The rules of a :class:`~dicomnet.conformance.profile.Profile`."""
        return cls(
            on_failure=OnFailure(getattr(profile, "retrieve_on_failure", "continue")),
            warning=WarningIs(getattr(profile, "retrieve_warning", "warning")),
        )


def suboperation_contexts(
    sources: Iterable[InstanceSource], proposed: Sequence[ProposedContext]
) -> list[ProposedContext]:
    """The contexts to propose for sending ``sources``: ``proposed``'s rows for their classes.

    Classes with no row in ``proposed`` get each instance's own syntax plus
    Implicit VR Little Endian (:func:`~dicomnet.storage.scu.proposed_contexts_for`).
    """
    return policy_contexts_for(sources, proposed)
