"""Conformance statements as data: registry, profiles, Policy, rendering.

``conformance/`` at the top of the repository holds the TOML data (see its
README.md): ``registry/`` (SOP classes, transfer syntaxes, named groups) and
``profiles/`` (one file per Application Entity of the seed statements).
"""

from __future__ import annotations

from pathlib import Path

from .registry import (
    Registry,
    SopClass,
    SopClassGroup,
    TransferSyntax,
    TransferSyntaxGroup,
    load_registry,
)

__all__ = [
    "Registry",
    "SopClass",
    "SopClassGroup",
    "TransferSyntax",
    "TransferSyntaxGroup",
    "load_registry",
    "registry",
]


def registry(data_dir: Path | None = None) -> Registry:
    """The registry of SOP classes, transfer syntaxes and groups (read from TOML each call)."""
    return load_registry(data_dir)
