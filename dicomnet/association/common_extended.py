"""The acceptor's decision on SOP class common extended negotiation (PS3.7 D.3.3.6).

Common extended negotiation has no answer item: the requestor says which
service class a SOP class belongs to and which general SOP classes it
specialises, and the acceptor can only act on it by accepting or refusing the
presentation contexts of that SOP class. :func:`apply_common_extended` asks a
:data:`CommonExtendedCheck` about each item whose SOP class was accepted and
turns a refusal into result 1 (user-rejection, PS3.8 Table 9-18) for every
context of that SOP class, in the A-ASSOCIATE-AC and in the outcome alike (and
drops any SOP class extended negotiation answer for it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dicomnet.negotiation import Negotiated
from dicomnet_pdu.codes import PresentationContextResult
from dicomnet_pdu.items import (
    PresentationContextAC,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
)
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ

__all__ = ["CommonExtendedCheck", "apply_common_extended"]

#: Decides on one common extended negotiation item: True keeps the SOP class's
#: accepted contexts, False refuses them.
CommonExtendedCheck = Callable[[SOPClassCommonExtendedNegotiation], bool]


def apply_common_extended(
    rq: AAssociateRQ,
    ac: AAssociateAC,
    negotiated: Negotiated,
    check: CommonExtendedCheck,
) -> tuple[AAssociateAC, Negotiated]:
    """The AC and outcome with the contexts of refused SOP classes rejected (result 1)."""
    accepted = {context.abstract_syntax for context in negotiated.contexts}
    refused: set[str] = set()
    for item in rq.user_information.sop_class_common_extended:
        uid = item.sop_class_uid
        if uid in accepted and uid not in refused and not check(item):
            refused.add(uid)
    if not refused:
        return ac, negotiated
    dropped = {c.context_id for c in negotiated.contexts if c.abstract_syntax in refused}
    results = tuple(
        PresentationContextAC(
            context_id=result.context_id, result=PresentationContextResult.USER_REJECTION
        )
        if result.context_id in dropped
        else result
        for result in ac.presentation_contexts
    )
    # SOP class extended negotiation is answered only for accepted SOP classes.
    items = tuple(
        item
        for item in ac.user_information.items
        if not (isinstance(item, SOPClassExtendedNegotiation) and item.sop_class_uid in refused)
    )
    new_ac = replace(
        ac,
        presentation_contexts=results,
        user_information=replace(ac.user_information, items=items),
    )
    new_negotiated = replace(
        negotiated,
        contexts=tuple(c for c in negotiated.contexts if c.context_id not in dropped),
        results=results,
        extended={uid: v for uid, v in negotiated.extended.items() if uid not in refused},
    )
    return new_ac, new_negotiated
