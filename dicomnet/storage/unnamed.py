"""Unnamed files (Linux ``O_TMPFILE``): a received instance that has no name until it is whole.

A :class:`~dicomnet.storage.folder.FolderStore` receives each instance into a
file opened with ``O_TMPFILE`` in its ``.incoming`` folder where the system
allows it: the file has no name while its data set arrives, and is given its
final name in one step when it is complete (``linkat`` of ``/proc/self/fd/N``
with ``AT_SYMLINK_FOLLOW``), which fails atomically if that name exists. No
reader ever sees a partial instance, a discarded instance is gone when its
descriptor is closed (nothing to remove), and a crash leaves nothing behind
in ``.incoming``. Compared with a named temporary file that is linked into
place and then removed, each instance costs one system call and one
directory entry less.

Where ``O_TMPFILE`` or ``/proc`` is missing (another system, a file system
without it), :func:`can_link_unnamed` says so and the store uses named
temporary files.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import weakref
from typing import Final

__all__ = ["FolderHandle", "can_link_unnamed", "open_unnamed"]

_O_TMPFILE: Final = getattr(os, "O_TMPFILE", 0)
_FLAGS: Final = os.O_WRONLY | _O_TMPFILE | getattr(os, "O_CLOEXEC", 0)
_PROC_FD: Final = "/proc/self/fd/"


def open_unnamed(folder: str) -> int:
    """A new, unnamed file on ``folder``'s file system, open for writing."""
    return os.open(folder, _FLAGS, 0o644)


class FolderHandle:
    """An open descriptor of a folder, to link unnamed files into it by name.

    The descriptor is closed when the handle is collected (or by :meth:`close`).
    """

    __slots__ = ("__weakref__", "_finalizer", "fd")

    def __init__(self, folder: str) -> None:
        self.fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        self._finalizer = weakref.finalize(self, os.close, self.fd)

    def link(self, fd: int, name: str) -> None:
        """Give the unnamed file open as ``fd`` the ``name`` in this folder.

        Raises :class:`FileExistsError` if the name exists (nothing is replaced).
        """
        # A directory descriptor makes os.link call linkat(..., AT_SYMLINK_FOLLOW),
        # which links the file the /proc entry stands for, not the entry itself.
        os.link(f"{_PROC_FD}{fd}", name, dst_dir_fd=self.fd)

    def close(self) -> None:
        """Close the folder's descriptor."""
        self._finalizer()


def can_link_unnamed(folder: str, into: str) -> bool:
    """Whether unnamed files opened in ``folder`` can be linked by name into ``into``."""
    if not _O_TMPFILE or not os.path.isdir(_PROC_FD):
        return False
    name = f"{uuid.uuid4().hex}.probe"
    try:
        handle = FolderHandle(into)
    except OSError:
        return False
    try:
        fd = open_unnamed(folder)
    except OSError:
        handle.close()
        return False
    try:
        handle.link(fd, name)
    except OSError:
        return False
    else:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(into, name))
        return True
    finally:
        os.close(fd)
        handle.close()
