"""Options every ``dicomnet`` command shares: ``-v`` after the verb, AE-title option names and
checks, ``--version``; and how ``serve`` refuses what it cannot do (in-process)."""

from __future__ import annotations

import importlib.metadata
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomnet.cli import serve as cli_serve
from dicomnet.cli.main import build_parser, main
from dicomnet.cli.options import verbosity

#: One command line per command whose options include AE titles; ``{port}`` is filled in.
AE_COMMANDS: dict[str, list[str]] = {
    "echo": ["echo", "127.0.0.1", "{port}"],
    "store": ["store", "127.0.0.1", "{port}", "no-such-file.dcm"],
    "check": ["conformance", "check", "flux-find-scu", "--host", "127.0.0.1", "--port", "{port}"],
    "serve": ["serve", "--host", "127.0.0.1", "--port", "{port}", "--output", "{output}"],
}
REQUESTORS = ("echo", "store", "check")


# ---------------------------------------------------------------- -v before or after the verb


@pytest.mark.parametrize(
    "argv",
    [
        ["echo", "h", "1"],
        ["store", "h", "1", "f"],
        ["serve"],
        ["conformance", "list"],
        ["conformance", "render", "lifesys-mwl"],
        ["conformance", "check", "p", "--host", "h", "--port", "1"],
        ["index", "rebuild", "d"],
        ["index", "delete", "d", "--study", "1.2"],
    ],
)
def test_every_command_takes_v_before_or_after_the_verb(argv: list[str]) -> None:
    parser = build_parser()
    assert verbosity(parser.parse_args(argv)) == 0
    assert verbosity(parser.parse_args(["-v", *argv])) == 1
    assert verbosity(parser.parse_args([*argv, "-v"])) == 1
    assert verbosity(parser.parse_args([*argv, "-vv"])) == 2
    assert verbosity(parser.parse_args(["-v", *argv, "-v"])) == 2


def test_v_between_conformance_and_its_action_counts_too() -> None:
    args = build_parser().parse_args(["-v", "conformance", "-v", "list", "-v"])
    assert verbosity(args) == 3


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dicomnet {importlib.metadata.version('dicomnet')}"


# ---------------------------------------------------------------- AE-title option names


@pytest.mark.parametrize("command", REQUESTORS)
@pytest.mark.parametrize(("ours", "theirs"), [("--aet", "--called-ae"), ("-aet", "-aec")])
def test_requestors_spell_ae_title_options_alike(command: str, ours: str, theirs: str) -> None:
    argv = [part.format(port=104) for part in AE_COMMANDS[command]]
    args = build_parser().parse_args([*argv, ours, "ME", theirs, "THEM"])
    assert (args.aet, args.called_ae) == ("ME", "THEM")


@pytest.mark.parametrize("spelling", ["--aet", "-aet"])
def test_serve_spells_aet_alike(spelling: str) -> None:
    assert build_parser().parse_args(["serve", spelling, "ME"]).aet == "ME"


def test_padding_spaces_are_not_part_of_a_title() -> None:
    args = build_parser().parse_args(["echo", "--aet", "  ME ", "-aec", "THEM  ", "h", "1"])
    assert (args.aet, args.called_ae) == ("ME", "THEM")


# ---------------------------------------------------------------- AE titles checked up front


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket nobody accepts on: a connection attempt would queue here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


BAD_TITLES = {
    "17 characters": ("A" * 17, "longer than 16 characters"),
    "backslash": ("A\\B", "forbidden character"),
    "control character": ("A\tB", "forbidden character"),
    "all spaces": ("    ", "empty or all spaces"),
    "empty": ("", "empty or all spaces"),
}


@pytest.mark.parametrize("bad", sorted(BAD_TITLES))
@pytest.mark.parametrize(
    "where",
    [f"{c} --aet" for c in AE_COMMANDS] + [f"{c} -aec" for c in REQUESTORS],
)
def test_a_bad_ae_title_is_a_usage_error_before_any_connection(
    where: str,
    bad: str,
    listener: socket.socket,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    command, option = where.split()
    title, reason = BAD_TITLES[bad]
    port = listener.getsockname()[1]
    output = tmp_path / "out"
    argv = [part.format(port=port, output=output) for part in AE_COMMANDS[command]]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, option, title])
    assert exit_info.value.code == 2
    assert reason in capsys.readouterr().err
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    assert not output.exists()


def test_serve_checks_the_title_of_a_destination(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--destination", f"{'A' * 17}=127.0.0.1:104"])
    assert exit_info.value.code == 2
    assert "longer than 16 characters" in capsys.readouterr().err
    args = build_parser().parse_args(["serve", "--destination", " WS1 =127.0.0.1:104"])
    assert args.destinations == [("WS1", ("127.0.0.1", 104))]


# ---------------------------------------------------------------- serve refuses what it cannot do


def test_serve_refuses_a_requestor_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out"
    argv = ["--port", "0", "--host", "127.0.0.1", "--output", str(output)]
    assert cli_serve.main([*argv, "--profile", "flux-store-scu"]) == cli_serve.EXIT_USAGE
    err = capsys.readouterr().err
    assert "flux-store-scu" in err and "accepts no presentation context as SCP" in err
    assert "Traceback" not in err
    assert not output.exists()


def test_serve_that_cannot_bind_says_so_in_one_line_and_makes_no_folder(
    listener: socket.socket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = listener.getsockname()[1]
    output = tmp_path / "new" / "store"
    argv = ["--host", "127.0.0.1", "--port", str(port), "--output", str(output), "--no-uvloop"]
    assert cli_serve.main(argv) == cli_serve.EXIT_NETWORK
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on port {port}" in err, err
    assert not (tmp_path / "new").exists()


def test_serve_refuses_an_output_path_that_is_a_file_before_binding(
    listener: socket.socket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    port = listener.getsockname()[1]
    argv = ["--host", "127.0.0.1", "--port", str(port), "--output", str(blocker / "store")]
    # The port is taken, yet the answer is about the folder: it is checked first.
    assert cli_serve.main(argv) == cli_serve.EXIT_USAGE
    assert "is not a folder" in capsys.readouterr().err
