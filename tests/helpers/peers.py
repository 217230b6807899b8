"""Small network peers for tests: a silent TCP server, raw clients, free ports."""

from __future__ import annotations

import asyncio
import functools
import socket
from types import TracebackType


def free_port(family: int = socket.AF_INET, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class SilentPeer:
    """A TCP server that accepts connections and never sends a byte.

    ``received`` collects what each connection sent; ``closed`` is set when a
    connection is closed by the other side.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self.connected.set()
        while chunk := await reader.read(65536):
            self.received += chunk
        self.closed.set()

    async def __aenter__(self) -> SilentPeer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for writer in self._writers:
            writer.close()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def read_until_eof(reader: asyncio.StreamReader) -> bytes:
    """Everything the peer sends until it closes the connection."""
    data = bytearray()
    while chunk := await reader.read(65536):
        data += chunk
    return bytes(data)


async def wait_port_open(host: str, port: int, *, attempts: int = 200) -> None:
    """Wait until something accepts TCP connections on ``host:port`` (an external
    program starting up gives no other signal; attempts are 50 ms apart)."""
    last: OSError | None = None
    for _ in range(attempts):
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            last = exc
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise TimeoutError(f"nothing listens on {host}:{port}: {last}")


def dcmtk_program(name: str) -> str:
    """Path of DCMTK's ``name``; skip locally / fail in CI when it is missing.

    pynetdicom installs console scripts with the same names (``echoscu``,
    ``storescp``) that may come first on PATH, so each candidate is asked for
    its version and only DCMTK's is taken (the answer is remembered per run).
    """
    import os

    import pytest
    from conftest import require_program

    require_program(name)
    found = _find_dcmtk(name, os.environ.get("PATH", ""))
    if found is not None:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"DCMTK's {name} is required in CI but only other programs of that name exist")
    pytest.skip(f"DCMTK's {name} not installed")


@functools.cache
def _find_dcmtk(name: str, path: str) -> str | None:
    """The first ``name`` on ``path`` whose ``--version`` says it is DCMTK's."""
    import os
    import subprocess

    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory, name)
        if not os.access(candidate, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "dcmtk" in out.lower():
            return candidate
    return None
