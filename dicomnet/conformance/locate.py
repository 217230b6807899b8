"""Where the conformance data (``conformance/`` at the top of the repository) lives.

The canonical TOML files are in the top-level ``conformance/`` directory of a
source checkout. dicomnet is installed editable (``pip install -e``), so the
package finds them two levels above itself: ``Path(__file__).parents[2]``.
Every loader also accepts an explicit directory or file, for data kept
elsewhere (a deployment's own profiles, tests).
"""

from __future__ import annotations

from pathlib import Path

from dicomnet.errors import ConfigurationError

__all__ = ["default_data_dir", "profiles_dir", "registry_dir"]


def default_data_dir() -> Path:
    """The ``conformance/`` directory next to the ``dicomnet`` package."""
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
