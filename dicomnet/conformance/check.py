"""Check a profile against a live peer: propose its contexts, report what the peer accepted.

The contexts proposed are the profile's proposed contexts; for an acceptor-only
profile they are its accepted contexts turned around (this AE as SCU), which
answers "would this peer accept what we accept?". At most 128 contexts fit in
one A-ASSOCIATE-RQ (PS3.8 §9.3.2.2, odd IDs 1-255), so longer lists are
checked over several associations, each released at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from dicomnet.policy import Policy, ProposedContext
from dicomnet_pdu.codes import PresentationContextResult

from .profile import Profile

__all__ = ["MAX_CONTEXTS", "CheckedContext", "check_profile", "contexts_to_check"]

MAX_CONTEXTS = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedContext:
    """The peer's answer to one proposed presentation context."""

    context_id: int
    abstract_syntax: str
    proposed: tuple[str, ...]
    result: int
    result_name: str
    transfer_syntax: str

    @property
    def accepted(self) -> bool:
        """The peer accepted the context."""
        return self.result == 0


def contexts_to_check(
    profile: Profile, policy: Policy | None = None
) -> tuple[ProposedContext, ...]:
    """The contexts ``check`` proposes for ``profile`` (see the module docstring)."""
    policy = policy or profile.policy()
    if policy.proposed_contexts:
        return policy.proposed_contexts
    return tuple(
        ProposedContext(abstract_syntax=c.abstract_syntax, transfer_syntaxes=c.transfer_syntaxes)
        for c in policy.accepted_contexts
    )


def _batches(contexts: Sequence[ProposedContext]) -> list[tuple[ProposedContext, ...]]:
    return [
        tuple(contexts[start : start + MAX_CONTEXTS])
        for start in range(0, len(contexts), MAX_CONTEXTS)
    ]


def _result_name(result: int) -> str:
    try:
        return PresentationContextResult(result).name.lower().replace("_", "-")
    except ValueError:
        return f"result {result}"


async def check_profile(
    profile: Profile,
    host: str,
    port: int,
    *,
    called_ae: str = "ANY-SCP",
    calling_ae: str | None = None,
) -> list[CheckedContext]:
    """Propose ``profile``'s contexts to ``host:port``; one :class:`CheckedContext` each.

    Raises what :meth:`dicomnet.ae.AE.associate` raises (rejection, abort,
    timeouts, ``OSError``).
    """
    from dicomnet.ae import AE  # noqa: PLC0415 (keeps the data layer free of the network stack)

    policy = profile.policy()
    title = calling_ae or profile.ae_title
    ae = AE(title, replace(policy, ae_title=title))
    checked: list[CheckedContext] = []
    for batch in _batches(contexts_to_check(profile, policy)):
        async with ae.associate(host, port, called_ae=called_ae, contexts=batch) as assoc:
            answers = {r.context_id: r for r in assoc.negotiated.results}
        for index, context in enumerate(batch):
            # dicomnet.negotiation.build_request numbers contexts 1, 3, 5... in order.
            context_id = 2 * index + 1
            answer = answers.get(context_id)
            result = int(answer.result) if answer is not None else -1
            checked.append(
                CheckedContext(
                    context_id=context_id,
                    abstract_syntax=context.abstract_syntax,
                    proposed=context.transfer_syntaxes,
                    result=result,
                    result_name=_result_name(result) if answer is not None else "no answer",
                    transfer_syntax=answer.transfer_syntax if answer is not None else "",
                )
            )
    return checked
