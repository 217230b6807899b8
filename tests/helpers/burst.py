"""Opening many TCP connections at once, to see whether a listener queues them."""

from __future__ import annotations

import select
import socket


def connect_all(port: int, count: int) -> int:
    """Open ``count`` connections at once (blocking this thread); how many completed."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        pending, done = set(socks), 0
        for _ in range(40):  # until every handshake completed or was dropped (SYN retried later)
            _, writable, _ = select.select([], list(pending), [], 0.05)
            for sock in writable:
                pending.discard(sock)
                done += sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            if not pending:
                break
        return done
    finally:
        for sock in socks:
            sock.close()
