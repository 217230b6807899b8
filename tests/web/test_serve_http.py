"""``dicomnet serve --http``: DIMSE and DICOMweb from one process over one index."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from helpers.burst import connect_all
from helpers.peers import dcmtk_program
from helpers.programs import run_program
from query.fixtures import STUDY_A, write_archive

from dicomnet.cli import serve as cli_serve

from .serving import HttpServing


@pytest.mark.interop
async def test_storescu_stored_is_found_by_qido_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storescu = dcmtk_program("storescu")
    files = write_archive(tmp_path / "files")
    running = HttpServing(["--output", str(tmp_path / "store")], capsys)
    port, http_port = await running.start()
    try:
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", str(port), str(files[0])
        )
        assert code == 0, out
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:
            response = await client.get("/dicomweb/studies", params={"PatientID": "P1"})
            assert response.status_code == 200
            [study] = response.json()
            assert study["0020000D"]["Value"] == [STUDY_A]
            assert study["00201208"]["Value"] == [1]
    finally:
        assert await running.stop() == 0


async def test_http_is_off_by_default_and_loopback_by_default() -> None:
    args = cli_serve.build_parser().parse_args([])
    assert args.http is None
    assert args.http_config is None


async def test_busy_http_port_exits_6_and_makes_no_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    busy = blocker.sockets[0].getsockname()[1]
    try:
        args = cli_serve.build_parser().parse_args(
            ["--port", "0", "--output", str(tmp_path / "store"), "--http", str(busy)]
        )
        assert await cli_serve.serve(args) == 6
        assert not (tmp_path / "store").exists()
        assert "HTTP port" in capsys.readouterr().err
    finally:
        blocker.close()
        await blocker.wait_closed()


async def test_http_without_index_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli_serve.build_parser().parse_args(
        ["--port", "0", "--output", str(tmp_path / "s"), "--no-index", "--http", "0"]
    )
    assert await cli_serve.serve(args) == 2
    assert "--no-index" in capsys.readouterr().err


@pytest.mark.parametrize("bind", ["bind_socket", "shared_listener"])
def test_http_listeners_queue_a_burst_of_connections(bind: str) -> None:
    """The HTTP port (alone, or shared by serve workers) asks for the kernel's largest
    accept queue: with a backlog of 128 a burst past it loses handshakes (retried 1 s later)."""
    from dicomnet.cli.workers import shared_listener
    from dicomnet.web.server import bind_socket

    sock = {"bind_socket": bind_socket, "shared_listener": shared_listener}[bind]("127.0.0.1", 0)
    try:  # nothing accepts: every completed handshake waits in the queue
        assert connect_all(sock.getsockname()[1], 300) == 300
    finally:
        sock.close()
