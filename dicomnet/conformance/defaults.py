"""dicomnet's own default Storage SCP policy, from ``conformance/profiles/dicomnet-serve.toml``.

``dicomnet serve`` runs this profile when no other is named (Storage and
Query/Retrieve); library users get its Storage SCP part with
:func:`storage_policy`. The SOP classes and transfer syntaxes come from the
registry (``conformance/registry/``), never from a list in code.
"""

from __future__ import annotations

from dataclasses import replace

from dicomnet.policy import Policy

from .profile import load_profile
from .registry import load_registry

__all__ = [
    "DEFAULT_STORAGE_PROFILE",
    "STORE_AS_RECEIVED",
    "encapsulated_transfer_syntaxes",
    "native_transfer_syntaxes",
    "storage_policy",
    "storage_sop_classes",
]

#: The profile of a general-purpose Verification and Storage SCP.
DEFAULT_STORAGE_PROFILE = "dicomnet-serve"
#: The transfer syntax group a store accepts and keeps as received.
STORE_AS_RECEIVED = "store-as-received"

_UNCOMPRESSED = ("implicit-le", "explicit-le", "explicit-be", "deflated")


def storage_policy(title: str) -> Policy:
    """Verification and every storage SOP class (SCP), data sets kept as received.

    The ``dicomnet-serve`` profile's other contexts (Query/Retrieve, and the
    storage SCU role that its C-GET needs) are left out: this is the policy of
    a Storage SCP alone.
    """
    policy = load_profile(DEFAULT_STORAGE_PROFILE).policy()
    wanted = {"1.2.840.10008.1.1", *storage_sop_classes()}
    contexts = tuple(
        replace(context, scu_role=False)
        for context in policy.accepted_contexts
        if context.abstract_syntax in wanted
    )
    return replace(policy, ae_title=title, accepted_contexts=contexts)


def storage_sop_classes() -> tuple[str, ...]:
    """Every storage SOP class of the registry, retired ones included."""
    return tuple(sop.uid for sop in load_registry().storage_sop_classes(retired=True))


def native_transfer_syntaxes() -> tuple[str, ...]:
    """The uncompressed syntaxes a store accepts: Explicit LE, Implicit LE, Deflated, BE."""
    registry = load_registry()
    return tuple(
        uid
        for uid in registry.transfer_syntax_group(STORE_AS_RECEIVED)
        if registry.transfer_syntaxes[uid].encoding in _UNCOMPRESSED
    )


def encapsulated_transfer_syntaxes() -> tuple[str, ...]:
    """The encapsulated (compressed pixel data) syntaxes a store keeps as received."""
    registry = load_registry()
    return tuple(
        uid
        for uid in registry.transfer_syntax_group(STORE_AS_RECEIVED)
        if registry.transfer_syntaxes[uid].encoding not in _UNCOMPRESSED
    )
