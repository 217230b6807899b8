"""Folder operations of a :class:`~dicomnet.storage.folder.FolderStore`: sync, probe, tidy."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "can_link",
    "fsync_directory",
    "fsync_folders",
    "make_folders",
    "remove_empty_folders",
]


def remove_empty_folders(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to (not including) ``root``."""
    try:
        folder.relative_to(root)
    except ValueError:
        return
    while folder not in (root, folder.parent):
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone, or not ours): stop here
            return
        folder = folder.parent


def make_folders(folder: Path, root: Path | None = None) -> list[Path]:
    """Make ``folder`` and its missing parents (below ``root``, if given); those made, top first.

    A folder another process makes at the same time counts as there, not as made.
    """
    missing: list[Path] = []
    while folder != root and not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    made = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        made.append(path)
    return made


def can_link(folder: Path) -> bool:
    """Whether hard links can be made in ``folder``."""
    probe = folder / f"{uuid.uuid4().hex}.probe"
    try:
        probe.touch()
        os.link(probe, probe.with_suffix(".probe2"))
    except OSError:
        return False
    finally:
        probe.unlink(missing_ok=True)
        probe.with_suffix(".probe2").unlink(missing_ok=True)
    return True


def fsync_folders(folders: Iterable[str | os.PathLike[str]]) -> None:
    """Make the renames and links in ``folders`` durable (each folder synced once)."""
    for folder in dict.fromkeys(Path(f) for f in folders):
        fsync_directory(folder)


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Make a rename in ``path`` durable (POSIX); ignored where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
