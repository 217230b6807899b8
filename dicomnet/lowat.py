"""A receiving socket's low-water mark (``SO_RCVLOWAT``), for whole-PDU reads.

A connection receiving a large PDU may ask the kernel to report its socket
readable only once the rest of that PDU is there, so one read takes it whole
(:class:`~dicomnet.transport.ULProtocol` decides when). This module holds the
socket side of that: whether the kernel can be trusted with a high mark, which
sockets take one, setting it, and whether bytes wait below it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import sys
import termios
from typing import Any

from .run_writer import plain_stream_socket

__all__ = ["bytes_below_mark", "kernel_fits_lowat", "lowat_socket", "set_lowat"]


def kernel_fits_lowat() -> bool:
    """Linux 4.18 or later: it grows a socket's receive buffer (and window) to hold its
    ``SO_RCVLOWAT`` and still wakes readers when memory runs short; elsewhere a low-water
    mark above what the socket may hold could wait forever, so it is never set."""
    if sys.platform != "linux" or not hasattr(socket, "SO_RCVLOWAT"):
        return False
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (4, 18)


_LOWAT_WORKS = kernel_fits_lowat()


def lowat_socket(transport: asyncio.BaseTransport) -> Any:
    """The transport's socket when its ``SO_RCVLOWAT`` may be set: plain TCP only (with
    TLS the bytes still missing from a PDU say little about those still to be read)."""
    if not _LOWAT_WORKS:
        return None
    sock = plain_stream_socket(transport)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return sock


def set_lowat(sock: Any, mark: int) -> bool:
    """Set ``sock``'s low-water mark to ``mark`` bytes; ``False`` if the socket refused."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, mark)
    except (OSError, AttributeError):
        return False
    return True


def bytes_below_mark(sock: Any) -> bool:
    """Whether ``sock`` holds received bytes not yet reported readable."""
    try:
        queued = fcntl.ioctl(sock.fileno(), termios.FIONREAD, bytes(4))
    except (OSError, AttributeError, ValueError):
        return False
    return int.from_bytes(queued, sys.byteorder, signed=True) > 0
