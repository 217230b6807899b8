"""Give freed heap memory back to the system after a burst of connections.

Each connection allocates a few thousand small objects. When a burst of
connections ends they are freed, but glibc keeps the freed heap pages in the
process (only the top of the heap is trimmed on ``free``), so the resident
size stays at the burst's peak. :func:`release_free_memory` collects the
garbage cycles the connections left (an association and its protocol refer to
each other) and asks glibc to return every free page (``malloc_trim(0)``);
elsewhere it only collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    function: Callable[[int], int] = trim
    return function


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> bool:
    """Free unreachable objects and return free heap pages to the system.

    False where the C library cannot return pages. Takes milliseconds: call it
    when a server has gone idle, not per connection.
    """
    gc.collect()
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
