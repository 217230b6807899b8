"""``dicomnet echo``: argument parsing, output and exit codes (run in-process)."""

from __future__ import annotations

import argparse
import asyncio
import socket

import pytest
from helpers.peers import SilentPeer, free_port
from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.cli import echo as cli_echo
from dicomnet.cli import options
from dicomnet.cli.main import build_parser
from dicomnet.errors import (
    AssociationAborted,
    AssociationRejected,
    ConfigurationError,
    DicomNetError,
    TimeoutExpired,
)
from dicomnet.policy import AETitlePolicy
from dicomnet_pdu.codes import AbortReason, AbortSource, RejectResult, RejectSource


async def run_cli(*argv: str) -> int:
    args = build_parser().parse_args(["echo", *argv])
    assert args.handler is cli_echo.run_echo
    # The handler starts its own loop; inside a test the coroutine is awaited instead.
    return await cli_echo._echo(args)


def test_parser_defaults_mirror_echoscu() -> None:
    args = build_parser().parse_args(["echo", "pacs", "104"])
    assert (args.aet, args.called_ae, args.max_pdu, args.repeat) == ("ECHOSCU", "ANY-SCP", 16384, 1)
    args = build_parser().parse_args(
        [
            "echo",
            "-aet",
            "ME",
            "-aec",
            "YOU",
            "-pdu",
            "32768",
            "-to",
            "1",
            "-ta",
            "2",
            "-td",
            "3",
            "-6",
            "--tls",
            "--no-verify",
            "h",
            "1",
        ]
    )
    assert (args.aet, args.called_ae, args.max_pdu) == ("ME", "YOU", 32768)
    assert (args.timeout, args.acse_timeout, args.dimse_timeout) == (1, 2, 3)
    assert args.ipv6 and args.tls and args.no_verify


async def test_success_prints_each_response(capsys: pytest.CaptureFixture[str]) -> None:
    async with await AE("ANY-SCP").serve("127.0.0.1", 0) as server:
        code = await run_cli("--repeat", "3", "127.0.0.1", str(server.port))
    assert code == 0
    assert capsys.readouterr().out.count("C-ECHO response: 0x0000 (Success)") == 3


async def test_rejection_is_printed_like_echoscu(capsys: pytest.CaptureFixture[str]) -> None:
    policy = make_policy("SCP", ae_titles=AETitlePolicy(called_ae_titles=("SCP",)))
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        code = await run_cli("-aec", "WRONG", "127.0.0.1", str(server.port))
    assert code == cli_echo.EXIT_REJECTED
    err = capsys.readouterr().err
    assert "Association Rejected" in err
    assert "Result: Rejected Permanent (1), Source: Service User (1)" in err
    assert "Reason: Called AE Title Not Recognized (7)" in err


async def test_connection_refused_and_timeout_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run_cli("127.0.0.1", str(free_port())) == cli_echo.EXIT_NETWORK
    async with SilentPeer() as peer:
        code = await run_cli("-ta", "0.2", "127.0.0.1", str(peer.port))
        await asyncio.wait_for(peer.closed.wait(), 5)
    assert code == cli_echo.EXIT_TIMEOUT
    assert "associate timeout expired" in capsys.readouterr().err


# ---------------------------------------------------------------- shared options (cli.options)


def test_options_become_policy_family_and_no_tls() -> None:
    args = build_parser().parse_args(
        ["echo", "-aet", "ME", "-pdu", "4096", "-to", "1", "-ta", "2", "-td", "3", "-4", "h", "1"]
    )
    policy = options.requestor_policy(args, max_operations_invoked=7)
    assert (policy.ae_title, policy.max_pdu_receive, policy.max_operations_invoked) == (
        "ME",
        4096,
        7,
    )
    assert (policy.timers.connect, policy.timers.associate, policy.timers.dimse) == (1, 2, 3)
    assert options.family_from(args) == socket.AF_INET
    assert options.tls_context_from(args, server=False) is None
    either = build_parser().parse_args(["echo", "h", "1"])
    assert options.family_from(either) == 0


def test_server_tls_needs_certificate_and_key_together() -> None:
    parser = argparse.ArgumentParser()
    options.add_tls_options(parser, server=True)
    assert options.tls_context_from(parser.parse_args([]), server=True) is None
    with pytest.raises(ConfigurationError, match="go together"):
        options.tls_context_from(parser.parse_args(["--tls-key", "k.pem"]), server=True)


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (
            AssociationRejected(RejectResult(1), RejectSource(1), 3),
            options.EXIT_REJECTED,
            "Association Rejected: association rejected: result=1",
        ),
        (
            AssociationAborted(AbortSource(0), AbortReason(0)),
            options.EXIT_ABORTED,
            "Association Aborted: association aborted",
        ),
        (TimeoutExpired("dimse", 2.0), options.EXIT_TIMEOUT, "Timeout: dimse timeout expired"),
        (
            ConnectionRefusedError("refused"),
            options.EXIT_NETWORK,
            "Association Request Failed: refused",
        ),
    ],
)
def test_association_errors_map_to_exit_codes(
    capsys: pytest.CaptureFixture[str], error: Exception, code: int, text: str
) -> None:
    assert isinstance(error, OSError | DicomNetError)
    assert options.report_association_error(error) == code
    assert capsys.readouterr().err.startswith(text)
