"""Scratch folders whose subfolders the file system spreads out (ext4's "top directory").

ext4 without a journal (this machine's disk) will not reuse an inode freed in
the last minute (five, while its inode table block is not yet written back):
creating a file in a block group where thousands of files were just removed
walks past each of those inodes, in the kernel, on the creating process's CPU
time. A benchmark case that writes many files next to the ones the previous
case removed (a folder made beside the last one lands in the same group)
pays for the previous case's clean-up: tens of microseconds per file, enough
to change a server's CPU per instance by half.

:func:`scratch_folder` makes a temporary folder flagged as a top directory
(``chattr +T``, ``FS_TOPDIR_FL``): ext4 places each folder made in it in a
block group of its own choosing (the Orlov allocator's spreading), away from
the groups the earlier cases filled and emptied. Elsewhere (another file
system, no permission) the flag is simply not set. :func:`retire_files`
empties a finished run's files instead of deleting them, so that their
inodes are not freed until the suite removes its folder at the end.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Final

__all__ = [
    "CLEAN_UP_NOTE",
    "last_clean_up",
    "memory_folder",
    "remove_scratch",
    "retire_files",
    "scratch_folder",
]

#: ioctl requests and the flag of <linux/fs.h> (the flags are a C long on 64-bit Linux).
_FS_IOC_GETFLAGS: Final = 0x80086601
_FS_IOC_SETFLAGS: Final = 0x40086602
_FS_TOPDIR_FL: Final = 0x00020000
#: The time (``time.time()``, as text) a suite last removed its scratch folder, in the
#: temporary folder: a suite that writes files waits for the freed inodes to be
#: forgotten (see benchmarks.settle).
CLEAN_UP_NOTE: Final = "dicomnet-bench-clean-up"


def spread_subfolders(folder: Path) -> bool:
    """Flag ``folder`` as a top directory (its new subfolders spread out); False if not done."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        flags = array.array("l", [0])
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
            if not flags[0] & _FS_TOPDIR_FL:
                flags[0] |= _FS_TOPDIR_FL
                fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags)
            return True
        return False
    finally:
        os.close(fd)


def memory_folder() -> str | None:
    """Where a tool's in-process scratch files go: ``/dev/shm`` (no disk) when the system
    has it, else ``None`` (the temporary folder's default)."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


def scratch_folder(prefix: str) -> Path:
    """A new temporary folder (``tempfile.mkdtemp``) whose subfolders spread out."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    spread_subfolders(folder)
    return folder


def retire_files(root: Path) -> None:
    """Empty the files a run wrote under ``root``, keeping them (removed with the suite's folder).

    Truncating frees the files' blocks (and drops their unwritten pages, so no
    run pays for an earlier run's writeback) but not their inodes. Deleting
    them would: ext4 without a journal skips every inode freed in the last one
    to six minutes when it allocates a new one, reading an inode-table block
    for each, so a run right after the deletion of another run's 2000 files
    paid about 0.1-0.2 ms more CPU per file created (openat), and later runs
    and rows paid more than earlier ones.
    """
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                os.truncate(os.path.join(folder, name), 0)
            except OSError:
                continue


def remove_scratch(folder: Path, note_folder: Path | None = None) -> None:
    """Remove a suite's scratch ``folder`` and note when (see :data:`CLEAN_UP_NOTE`)."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        _clean_up_note(note_folder).write_text(f"{time.time():.3f}\n", encoding="ascii")


def last_clean_up(note_folder: Path | None = None) -> float | None:
    """When a suite last removed its scratch folder (``time.time()``), if noted."""
    try:
        return float(_clean_up_note(note_folder).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None


def _clean_up_note(note_folder: Path | None) -> Path:
    """The :data:`CLEAN_UP_NOTE` file, in ``note_folder`` or the temporary folder."""
    return Path(note_folder or tempfile.gettempdir()) / CLEAN_UP_NOTE
