"""The acceptor's negotiation with the AE's hooks (user identity, extended negotiation).

:class:`NegotiationHooks` runs :func:`dicomnet.negotiation.evaluate_request`
with the AE's identity and SOP class extended negotiation checks, then the
common extended check (:mod:`.common_extended`). Negotiation happens inside a
transport callback and cannot wait, so a hook that returns an awaitable is an
error; any hook that raises refuses the association (1, 1, 1): failing closed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from dicomnet import negotiation
from dicomnet.negotiation.rules import peer_max_length_problem
from dicomnet.policy import Policy
from dicomnet_pdu.codes import RejectReasonUser, RejectResult, RejectSource
from dicomnet_pdu.pdus import AAssociateAC, AAssociateRJ, AAssociateRQ

from .common_extended import CommonExtendedCheck, apply_common_extended
from .memo import NegotiationMemo

if TYPE_CHECKING:
    from dicomnet.log import AssociationLogger
    from dicomnet.negotiation import ExtendedCheck, IdentityCheck, Negotiated

__all__ = ["NegotiationHooks"]

_Hook = TypeVar("_Hook", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class NegotiationHooks:
    """The acceptor-side checks of one AE (each optional)."""

    identity_check: IdentityCheck | None = None
    extended_check: ExtendedCheck | None = None
    common_extended_check: CommonExtendedCheck | None = None

    def evaluate(
        self,
        policy: Policy,
        rq: AAssociateRQ,
        log: AssociationLogger,
        memo: NegotiationMemo | None = None,
    ) -> tuple[AAssociateAC, Negotiated] | AAssociateRJ:
        """The answer to ``rq``: A-ASSOCIATE-AC with the outcome, or A-ASSOCIATE-RJ.

        With ``memo``, an acceptance computed before for an equal ``rq`` and the
        same ``policy`` is reused, unless a hook is set (a hook decides afresh).
        """
        problem = peer_max_length_problem(
            rq.user_information.maximum_length, policy.min_peer_max_pdu
        )
        if problem is not None:
            log.warning("refusing the association: %s", problem)
        elif memo is not None and self == _NO_HOOKS:
            return memo.accepted(policy, rq, lambda: self._evaluate(policy, rq, log))
        return self._evaluate(policy, rq, log)

    def _evaluate(
        self, policy: Policy, rq: AAssociateRQ, log: AssociationLogger
    ) -> tuple[AAssociateAC, Negotiated] | AAssociateRJ:
        try:
            outcome = negotiation.evaluate_request(
                policy,
                rq,
                identity_check=_synchronous(self.identity_check),
                extended_check=_synchronous(self.extended_check),
            )
            common = _synchronous(self.common_extended_check)
            if isinstance(outcome, tuple) and common is not None:
                return apply_common_extended(rq, *outcome, common)
            return outcome
        except Exception:
            log.exception("negotiation hook raised; rejecting")
            return AAssociateRJ(
                result=RejectResult.PERMANENT,
                source=RejectSource.SERVICE_USER,
                reason=RejectReasonUser.NO_REASON_GIVEN,
            )


_NO_HOOKS = NegotiationHooks()


def _synchronous(hook: _Hook | None) -> _Hook | None:
    """``hook``, made to raise if it returns an awaitable (negotiation cannot wait).

    An ``async def`` check would otherwise return a coroutine, which is neither
    ``False`` nor ``None`` and so would silently accept; failing closed rejects.
    """
    if hook is None:
        return None

    def checked(*args: Any) -> Any:
        result = hook(*args)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(f"negotiation hook {hook!r} must not be asynchronous")
        return result

    return cast(_Hook, checked)
