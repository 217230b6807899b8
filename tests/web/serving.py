"""``dicomnet serve --http 0`` in-process, with its DIMSE and HTTP ports."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import pytest

from dicomnet.ae import Server
from dicomnet.cli import serve as cli_serve


class HttpServing:
    """``serve()`` with ``--http 0`` as a task until :meth:`stop`."""

    def __init__(
        self, argv: Sequence[str], capsys: pytest.CaptureFixture[str], *, https: bool = False
    ) -> None:
        self.capsys = capsys
        self.scheme = "https" if https else "http"
        self.stop_event = asyncio.Event()
        self.ready: asyncio.Future[Server] = asyncio.get_running_loop().create_future()
        args = cli_serve.build_parser().parse_args(
            ["--port", "0", "--host", "127.0.0.1", "--http", "0", *argv]
        )
        self.task = asyncio.ensure_future(
            cli_serve.serve(args, ready=self.ready.set_result, stop=self.stop_event)
        )
        self.output = ""

    async def start(self) -> tuple[int, int]:
        """(DIMSE port, HTTP port) once both listen."""
        done, _ = await asyncio.wait({self.ready, self.task}, return_when=asyncio.FIRST_COMPLETED)
        assert self.ready in done, f"serve() ended with {self.task.result()}"
        self.output += self.capsys.readouterr().out
        found = re.search(rf"{self.scheme} listening on (\d+)", self.output)
        assert found, self.output
        return self.ready.result().port, int(found.group(1))

    async def stop(self) -> int:
        self.stop_event.set()
        return await self.task
