"""dicomnet's own default Storage SCP policy, from ``conformance/profiles/dicomnet-serve.toml``.

``dicomnet serve`` runs this profile when no other is named; library users get
the same Policy with :func:`storage_policy`. The SOP classes and transfer
syntaxes come from the registry (``conformance/registry/``), never from a list
in code.
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
    """Verification and every storage SOP class (SCP), data sets kept as received."""
    return replace(load_profile(DEFAULT_STORAGE_PROFILE).policy(), ae_title=title)


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
