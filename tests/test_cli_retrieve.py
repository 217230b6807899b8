"""``dicomnet move``/``get``: failures before any association (exit codes 2 and 6)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from helpers.cli import run_cli

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
