"""Conformance statements as data: registry, profiles, Policy, rendering.

``conformance/`` at the top of the repository holds the TOML data (schema in
its README.md): ``registry/`` (SOP classes, transfer syntaxes, named groups)
and ``profiles/`` (one file per Application Entity of the seed statements).
No SOP class or transfer syntax list lives in Python code.

Typical use::

    from dicomnet.conformance import load_profile, registry, render

    profile = load_profile("lifesys-storage")
    policy = profile.policy()                 # a dicomnet.policy.Policy
    storage = registry().storage_sop_classes()
    text = render(profile, "md")

The data directory is found at ``Path(__file__).parents[2] / "conformance"``
(a source checkout or an editable install); every loader also takes an
explicit ``data_dir`` (or, for a profile, a path to its TOML file).
"""

from __future__ import annotations

from pathlib import Path

from .locate import default_data_dir
from .profile import (
    ContextRule,
    Parameter,
    Profile,
    QueryKey,
    StatusRule,
    list_profiles,
    load_profile,
)
from .registry import (
    Registry,
    SopClass,
    SopClassGroup,
    TransferSyntax,
    TransferSyntaxGroup,
    load_registry,
)
from .render import FORMATS, render

__all__ = [
    "FORMATS",
    "ContextRule",
    "Parameter",
    "Profile",
    "QueryKey",
    "Registry",
    "SopClass",
    "SopClassGroup",
    "StatusRule",
    "TransferSyntax",
    "TransferSyntaxGroup",
    "default_data_dir",
    "list_profiles",
    "load_profile",
    "load_registry",
    "registry",
    "render",
]


def registry(data_dir: Path | None = None) -> Registry:
    """The registry of SOP classes, transfer syntaxes and groups (read from TOML each call)."""
    return load_registry(data_dir)
