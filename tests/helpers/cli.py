"""Running the ``dicomnet`` requestor commands in-process from async tests."""

from __future__ import annotations

import pytest

from dicomnet.cli import commit, find, retrieve
from dicomnet.cli.main import build_parser


async def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Parse ``argv`` as the command line and await the command; (exit code, stdout, stderr).

    The handlers start a loop of their own; inside a test their coroutine is awaited.
    """
    args = build_parser().parse_args(list(argv))
    capsys.readouterr()
    command = argv[0]
    if command in ("find", "mwl"):
        code = await find.query(args, command)
    elif command in ("move", "get"):
        code = await retrieve.retrieve(args, command)
    elif command == "commit":
        code = await commit.commit(args)
    else:
        raise AssertionError(f"not a requestor command: {command}")
    out, err = capsys.readouterr()
    return code, out, err
