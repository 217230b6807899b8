"""A destination Storage SCP and a TCP proxy in front of it that misbehaves on request.

The proxy's ``mode`` applies to the connections it accepts from then on:

* ``pass``: bytes go both ways untouched;
* ``refuse``: the connection is closed at once (nothing reaches the SCP);
* ``drop``: after ``cut`` bytes from the client, both sides are closed (mid-transfer);
* ``stall``: after ``cut`` bytes from the client, nothing more is forwarded either way
  and the connection stays open (a hung peer).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

from dicomnet.ae import AE, Server
from dicomnet.conformance.defaults import storage_policy
from dicomnet.services.base import IncomingRequest, Reply
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import StoredInstance

HOST = "127.0.0.1"


class Destination:
    """A Storage SCP into ``root`` whose first ``reject`` C-STOREs get ``status``."""

    def __init__(
        self,
        root: Path,
        title: str = "DEST",
        *,
        reject: int = 0,
        status: int = 0xA700,
        syntaxes: tuple[str, ...] | None = None,
    ) -> None:
        self.syntaxes = syntaxes
        self.root = root
        self.title = title
        self.reject = reject
        self.status = status
        self.requests = 0
        self.server: Server | None = None

    async def _decide(self, request: IncomingRequest, stored: StoredInstance) -> int | Reply:
        self.requests += 1
        if self.reject > 0:
            self.reject -= 1
            return self.status
        return 0

    async def start(self) -> int:
        store = FolderStore(self.root, fsync=False)
        policy = storage_policy(self.title)
        if self.syntaxes is not None:  # accept only these transfer syntaxes
            contexts = tuple(
                replace(c, transfer_syntaxes=self.syntaxes) for c in policy.accepted_contexts
            )
            policy = replace(policy, accepted_contexts=contexts)
        ae = AE(self.title, policy)
        ae.registry.add(StorageService(store, decide=self._decide))
        self.server = await ae.serve(HOST, 0)
        return self.server.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class FlakyProxy:
    """Forwards to ``target``; misbehaves as ``mode`` says (see module)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "pass"
        self.cut = 2048
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        mode, cut = self.mode, self.cut
        self._writers.add(writer)
        if mode == "refuse":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        limit = cut if mode in ("drop", "stall") else None
        stalled = asyncio.Event()
        up = asyncio.ensure_future(self._pipe(reader, up_writer, limit, mode, stalled))
        down = asyncio.ensure_future(self._pipe(up_reader, writer, None, "pass", stalled))
        for task in (up, down):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limit: int | None,
        mode: str,
        stalled: asyncio.Event,
    ) -> None:
        sent = 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    data = data[: limit - sent]
                    if data:
                        writer.write(data)
                    if mode == "drop":
                        break
                    stalled.set()
                    await asyncio.Event().wait()  # stall: forward nothing, keep it open
                if stalled.is_set():
                    await asyncio.Event().wait()
                writer.write(data)
                sent += len(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()
