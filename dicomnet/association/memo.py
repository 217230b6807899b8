"""Negotiation outcomes of one AE kept for reuse: equal PDUs and policy, equal outcome.

An AE that serves (or opens) association after association with the same peer
sees the same A-ASSOCIATE-RQ each time. :class:`NegotiationMemo` keeps the last
few outcomes computed from them: the acceptor's A-ASSOCIATE-AC and
:class:`~dicomnet.negotiation.Negotiated` for an A-ASSOCIATE-RQ, the requestor's
A-ASSOCIATE-RQ for a called AE title and contexts, and the requestor's
:class:`~dicomnet.negotiation.Negotiated` for an RQ and the AC that answered it.
Every outcome is a pure function of those PDUs (immutable values, compared by
value) and of the Policy, so a kept one is exactly what negotiating afresh
would give. The memo forgets everything when it is asked with another Policy
object, and it is used only where nothing else decides: not for an acceptor
with identity or extended-negotiation hooks (they may answer differently each
time), not for rejections (they are logged each time), and never for a failed
evaluation.

It also holds the AE's :class:`~dicomnet_pdu.associate_cache.AssociateCache`,
which spares the decoding and encoding of those PDUs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from dicomnet import negotiation
from dicomnet.policy import Policy
from dicomnet_pdu.associate_cache import ASSOCIATE_CACHE_ENTRIES, AssociateCache
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRQ

if TYPE_CHECKING:
    from dicomnet.negotiation import Negotiated

__all__ = ["NegotiationMemo", "evaluate_accept"]

_T = TypeVar("_T")


class NegotiationMemo:
    """A bounded memo of negotiation outcomes for one AE and its Policy."""

    __slots__ = ("_entries", "_last", "_outcomes", "_policy", "pdus")

    def __init__(self, entries: int = ASSOCIATE_CACHE_ENTRIES) -> None:
        self._entries = entries
        self._policy: Policy | None = None
        self._outcomes: dict[Hashable, Any] = {}
        # Per kind of outcome, the one kept last with the key it was asked for by: the
        # AE's caches give equal PDUs as the same objects, and a PDU's hash (in the key
        # of ``_outcomes``) walks all of its items, where this is a test per PDU.
        self._last: dict[object, tuple[tuple[object, ...], Any]] = {}
        #: The PDU codec cache for this AE's connections.
        self.pdus = AssociateCache(entries)

    def __len__(self) -> int:
        return len(self._outcomes)

    def accepted(
        self,
        policy: Policy,
        rq: AAssociateRQ,
        evaluate: Callable[[], tuple[AAssociateAC, Negotiated] | _T],
    ) -> tuple[AAssociateAC, Negotiated] | _T:
        """The acceptor's answer to ``rq``: kept, or ``evaluate()`` (kept when it accepts)."""
        return self._get(policy, ("accept", rq), evaluate, lambda value: isinstance(value, tuple))

    def request(
        self, policy: Policy, key: Hashable, build: Callable[[], AAssociateRQ]
    ) -> AAssociateRQ:
        """The requestor's A-ASSOCIATE-RQ for ``key`` (called AE, contexts), or ``build()``."""
        return self._get(policy, ("request", key), build, lambda value: True)

    def confirmed(
        self,
        policy: Policy,
        rq: AAssociateRQ,
        ac: AAssociateAC,
        evaluate: Callable[[], Negotiated],
    ) -> Negotiated:
        """The requestor's outcome of ``rq`` answered by ``ac``: kept, or ``evaluate()``."""
        return self._get(policy, ("confirm", rq, ac), evaluate, lambda value: True)

    def _get(
        self,
        policy: Policy,
        key: tuple[Hashable, ...],
        compute: Callable[[], _T],
        keep: Callable[[_T], bool],
    ) -> _T:
        if policy is not self._policy:
            self._policy = policy
            self._outcomes.clear()
            self._last.clear()
        last = self._last.get(key[0])
        if last is not None and _same(last[0], key):
            kept: _T = last[1]
            return kept
        try:
            found = self._outcomes.get(key)
        except TypeError:  # a value in the PDU that is not hashable: no memo
            return compute()
        if found is not None:
            value: _T = found
            self._last[key[0]] = (key, value)
            return value
        value = compute()  # an exception propagates and nothing is kept
        if keep(value):
            if len(self._outcomes) >= self._entries:
                del self._outcomes[next(iter(self._outcomes))]
            self._outcomes[key] = value
            self._last[key[0]] = (key, value)
        return value


def _same(kept: tuple[object, ...], key: tuple[object, ...]) -> bool:
    """Whether ``key`` holds the very objects of ``kept`` (a kept key: all hashable)."""
    return len(kept) == len(key) and all(map(operator.is_, kept, key))


def evaluate_accept(
    memo: NegotiationMemo | None, policy: Policy, rq: AAssociateRQ, ac: AAssociateAC
) -> Negotiated:
    """:func:`dicomnet.negotiation.evaluate_accept`, through ``memo`` when there is one."""
    if memo is None:
        return negotiation.evaluate_accept(policy, rq, ac)
    return memo.confirmed(policy, rq, ac, lambda: negotiation.evaluate_accept(policy, rq, ac))
