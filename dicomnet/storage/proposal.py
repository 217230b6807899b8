"""Presentation contexts a Storage SCU proposes for a set of instances.

Per SOP class, every transfer syntax an instance is stored in gets a
presentation context of its own, listing that syntax alone: a peer that
accepts it cannot pick anything else there, so the instance goes out as it
is on disk. The fallbacks (syntaxes the instances can be converted to, e.g.
uncompressed ones) go in one further context for the SOP class, used only
for instances whose own context was rejected. Were a compressed syntax and
an uncompressed fallback listed in one context, a peer that prefers
uncompressed data (DCMTK's storescp does by default) would pick the
fallback, and every compressed instance would be decompressed to send it.

An A-ASSOCIATE-RQ carries at most :data:`MAX_CONTEXTS` contexts. When the
separate contexts do not fit, SOP classes give up separation in two steps,
the last SOP classes first: first their native (uncompressed) syntaxes share
one context with the fallbacks (conversions among those are lossless), then,
only if still too many, all their syntaxes share one context. Each step is
written down in :attr:`ContextPlan.notes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from dicomnet.errors import LocalError
from dicomnet.policy import ProposedContext

from .source import InstanceSource
from .transcode import can_transcode, is_native, syntax_name

__all__ = ["MAX_CONTEXTS", "ContextPlan", "plan_contexts"]

#: Presentation contexts one A-ASSOCIATE-RQ can carry (odd IDs 1-255, PS3.8 §9.3.2.2).
MAX_CONTEXTS: Final = 128

# How far a SOP class's syntaxes are kept apart (see the module docstring).
_SEPARATE: Final = 0
_NATIVE_SHARED: Final = 1
_ALL_SHARED: Final = 2


@dataclass(frozen=True, slots=True)
class ContextPlan:
    """Contexts to propose, and what had to give way to fit :data:`MAX_CONTEXTS`.

    ``notes`` has one sentence per SOP class whose syntaxes share a context
    (empty when every syntax has a context of its own).
    """

    contexts: list[ProposedContext]
    notes: list[str] = field(default_factory=list)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


@dataclass(slots=True)
class _ClassPlan:
    sop_class: str
    own: list[str]
    fallbacks: list[str]
    level: int = _SEPARATE

    def contexts(self, level: int | None = None) -> list[tuple[str, ...]]:
        """Transfer syntax lists of this class's contexts at ``level``."""
        level = self.level if level is None else level
        if level == _ALL_SHARED:
            return [_unique([*self.own, *self.fallbacks])]
        if level == _NATIVE_SHARED:
            alone: list[tuple[str, ...]] = [(ts,) for ts in self.own if not is_native(ts)]
            shared = _unique([*(ts for ts in self.own if is_native(ts)), *self.fallbacks])
            return [*alone, shared] if shared else alone
        separate: list[tuple[str, ...]] = [(ts,) for ts in self.own]
        return [*separate, tuple(self.fallbacks)] if self.fallbacks else separate

    def note(self) -> str:
        if self.level == _NATIVE_SHARED:
            shared = [ts for ts in self.own if is_native(ts)]
            what = "native syntaxes " + ", ".join(map(syntax_name, shared))
            consequence = "converted between native syntaxes"
        else:
            what = "syntaxes " + ", ".join(map(syntax_name, self.own))
            consequence = "converted (compressed ones decompressed)"
        return (
            f"SOP class {self.sop_class}: {what} share a presentation context with"
            f" the fallbacks (more than {MAX_CONTEXTS} contexts otherwise); instances"
            f" may be {consequence} if the peer picks another syntax there"
        )


def _fallbacks(own: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``extra`` syntaxes not proposed on their own that some instance can be converted to."""
    return [
        ts
        for ts in _unique(extra)
        if ts not in own and any(can_transcode(syntax, ts) for syntax in own)
    ]


def plan_contexts(
    sources: Iterable[InstanceSource],
    extra_syntaxes: Sequence[str],
    *,
    only_extra: bool = False,
    limit: int = MAX_CONTEXTS,
) -> ContextPlan:
    """The contexts to propose for ``sources`` (see the module docstring).

    ``extra_syntaxes`` are the fallbacks, in order of preference; syntaxes
    none of a class's instances can be converted to are left out, and an
    empty sequence proposes each instance's own syntax only. ``only_extra``
    proposes exactly ``extra_syntaxes`` in one context per SOP class instead.
    Raises :class:`~dicomnet.errors.LocalError` when the SOP classes alone
    are more than ``limit``.
    """
    own_by_class: dict[str, list[str]] = {}
    for source in sources:
        own = own_by_class.setdefault(source.sop_class_uid, [])
        if source.transfer_syntax_uid not in own:
            own.append(source.transfer_syntax_uid)
    if len(own_by_class) > limit:
        raise LocalError(
            f"{len(own_by_class)} SOP classes do not fit in one association"
            f" (at most {limit} presentation contexts); split them with batches()"
        )
    if only_extra:
        if not extra_syntaxes:
            raise LocalError("no transfer syntaxes to propose")
        return ContextPlan(
            [
                ProposedContext(
                    abstract_syntax=sop_class, transfer_syntaxes=_unique(extra_syntaxes)
                )
                for sop_class in own_by_class
            ]
        )
    plans = [
        _ClassPlan(sop_class, own, _fallbacks(own, extra_syntaxes))
        for sop_class, own in own_by_class.items()
    ]
    total = sum(len(plan.contexts()) for plan in plans)
    for level in (_NATIVE_SHARED, _ALL_SHARED):
        for plan in reversed(plans):
            if total <= limit:
                break
            saved = len(plan.contexts()) - len(plan.contexts(level))
            if saved > 0:
                plan.level = level
                total -= saved
    contexts = [
        ProposedContext(abstract_syntax=plan.sop_class, transfer_syntaxes=syntaxes)
        for plan in plans
        for syntaxes in plan.contexts()
    ]
    return ContextPlan(contexts, [plan.note() for plan in plans if plan.level != _SEPARATE])
