"""``dicomnet move``/``get``: failures before any association (exit codes 2 and 6), Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import pytest
from helpers.cli import run_cli
from helpers.peers import SilentPeer

from dicomnet.cli.main import build_parser

Capsys = pytest.CaptureFixture[str]
KEY = ("-k", "StudyInstanceUID=1.2.3")


async def test_move_to_ourselves_on_a_port_in_use_is_exit_6(tmp_path: Path, capsys: Capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = await run_cli(
            capsys, "move", "127.0.0.1", "1", "--store-to", str(tmp_path / "in"),
            "--listen-host", "127.0.0.1", "--listen-port", str(port), *KEY,
        )  # fmt: skip
    assert code == 6 and f"cannot listen on port {port}" in err
    assert not (tmp_path / "in" / ".incoming").exists()


async def test_an_output_folder_that_is_a_file_is_exit_2(tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = await run_cli(
        capsys, "get", "127.0.0.1", "1", "--output", str(tmp_path / "file"), *KEY
    )
    assert code == 2 and "cannot store into" in err


async def test_get_sop_class_arguments_are_checked(capsys: Capsys) -> None:
    code, _, err = await run_cli(capsys, "get", "127.0.0.1", "1", "--sop-class", "CT", *KEY)
    assert code == 2 and "not a SOP class UID: 'CT'" in err
    many = [arg for n in range(128) for arg in ("--sop-class", f"1.2.3.{n}")]
    code, _, err = await run_cli(capsys, "get", "127.0.0.1", "1", *many, *KEY)
    assert code == 2 and "128 SOP classes" in err


def test_move_needs_a_destination(capsys: Capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["move", "h", "1", *KEY])
    assert exit_info.value.code == 2
    assert "one of the arguments --dest --store-to is required" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "extra"), [("find", ("-k", "PatientID")), ("move", ("--dest", "ELSEWHERE"))]
)
async def test_ctrl_c_aborts_and_exits_130(command: str, extra: tuple[str, str]) -> None:
    async with SilentPeer() as peer:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dicomnet.cli.main", command, "127.0.0.1", str(peer.port),
            *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            # The A-ASSOCIATE-RQ has arrived: the command is waiting for the answer.
            await asyncio.wait_for(peer.connected.wait(), 60)
            while len(peer.received) < 6:
                await asyncio.sleep(0.01)
            process.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await asyncio.wait_for(peer.closed.wait(), 60)
    assert process.returncode == 130, err
    assert f"dicomnet {command}: interrupted; association aborted" in err.decode()
