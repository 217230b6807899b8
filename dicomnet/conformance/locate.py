"""Where the conformance data (``conformance/`` at the top of the repository) lives.

The canonical TOML files are in the top-level ``conformance/`` directory of a
source checkout. ``dicomnet/data/conformance`` is a symbolic link to it, which
the wheel build follows, so an installed (non-editable) package carries a copy
of the data at that place; a source checkout or an editable install reads the
directory through the link. Every loader also accepts an explicit directory or file, for data kept
elsewhere (a deployment's own profiles, tests).
"""

from __future__ import annotations

from pathlib import Path

from dicomnet.errors import ConfigurationError

__all__ = ["default_data_dir", "profiles_dir", "registry_dir"]


def default_data_dir() -> Path:
    """``dicomnet/data/conformance`` (the repository's ``conformance/`` or its installed copy)."""
    packaged = Path(__file__).resolve().parents[1] / "data" / "conformance"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "conformance"


def _existing(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise ConfigurationError(
            f"{path}: {what} directory not found (pass the conformance data directory explicitly)"
        )
    return path


def registry_dir(data_dir: Path | None = None) -> Path:
    """``<data_dir>/registry``: SOP classes, transfer syntaxes and their groups."""
    return _existing((data_dir or default_data_dir()) / "registry", "registry")


def profiles_dir(data_dir: Path | None = None) -> Path:
    """``<data_dir>/profiles``: one TOML file per Application Entity."""
    return _existing((data_dir or default_data_dir()) / "profiles", "profiles")
