"""``dicomnet serve``: options, policy, the listening line, storing, stopping (in-process)."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from helpers.certs import make_certs

from dicomnet.ae import AE, Server
from dicomnet.cli import serve as cli_serve
from dicomnet.cli.options import verbosity
from dicomnet.conformance.defaults import storage_sop_classes
from dicomnet.dimse.commands import CStoreRQ
from dicomnet.policy import ProposedContext
from dicomnet.transport import client_tls_context
from storage.test_scp_support import CT_IMAGE_STORAGE, EXPLICIT_LE, encoded, make_dataset


def parse(*argv: str) -> argparse.Namespace:
    return cli_serve.build_parser().parse_args(list(argv))


def test_defaults() -> None:
    args = parse()
    assert (args.port, args.host, args.aet, args.output) == (11112, None, None, "dicomnet-store")
    assert (args.profile, args.duplicates, args.max_pdu) == ("dicomnet-serve", "keep-first", None)
    assert args.uvloop
    assert not (args.tls_cert or args.tls_key or args.tls_ca or args.require_client_cert)
    assert args.handler is cli_serve.run_serve and verbosity(args) == 0


def test_registers_as_a_subcommand_without_hiding_the_global_verbose_flag() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-v", "--verbose", action="count", default=0)
    cli_serve.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["-v", "serve", "--port", "104", "-vv"])
    assert (args.command, args.port, args.verbose, verbosity(args)) == ("serve", 104, 1, 3)
    assert args.handler is cli_serve.run_serve


def test_default_policy_accepts_storage_verification_query_retrieve_mwl_commitment() -> None:
    policy = cli_serve.build_policy(parse("--max-pdu", "32768"))
    assert policy.ae_title == "DICOMNET" and policy.max_pdu_receive == 32768
    accepted = {rule.abstract_syntax for rule in policy.accepted_contexts}
    qr = {f"1.2.840.10008.5.1.4.1.2.{model}.{op}" for model in "123" for op in "123"}
    mwl, commitment = "1.2.840.10008.5.1.4.31", "1.2.840.10008.1.20.1"
    assert accepted == {"1.2.840.10008.1.1", *storage_sop_classes(), *qr, mwl, commitment}


def test_profile_supplies_the_policy() -> None:
    pytest.importorskip("dicomnet.conformance.profile")
    policy = cli_serve.build_policy(parse("--profile", "lifesys-storage"))
    assert policy.ae_title == "STORE_SCP" and policy.max_associations == 10
    renamed = cli_serve.build_policy(parse("--profile", "lifesys-storage", "--aet", "OTHER"))
    assert renamed.ae_title == "OTHER"


class Running:
    """``serve()`` running as a task until :meth:`stop`."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.stop_event = asyncio.Event()
        self.ready: asyncio.Future[Server] = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(
            cli_serve.serve(parse(*argv), ready=self.ready.set_result, stop=self.stop_event)
        )

    async def server(self) -> Server:
        done, _ = await asyncio.wait({self.ready, self.task}, return_when=asyncio.FIRST_COMPLETED)
        assert self.ready in done, f"serve() ended with {self.task.result()}"
        return self.ready.result()

    async def stop(self) -> int:
        self.stop_event.set()
        return await self.task


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    serving = Running(["--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "out")])
    yield serving
    if not serving.task.done():
        await serving.stop()


async def store_one(port: int, uid: str, **kwargs: object) -> int:
    data = encoded(make_dataset(sop_instance=uid), EXPLICIT_LE)
    contexts = [ProposedContext(abstract_syntax=CT_IMAGE_STORAGE, transfer_syntaxes=(EXPLICIT_LE,))]
    async with AE("MODALITY").associate(
        "127.0.0.1", port, called_ae="DICOMNET", contexts=contexts, **kwargs
    ) as assoc:
        request = CStoreRQ(
            message_id=1, affected_sop_class_uid=CT_IMAGE_STORAGE, affected_sop_instance_uid=uid
        )
        return (await assoc.send_request(request, data)).status


async def test_serves_until_stopped(
    running: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = await running.server()
    port = server.port
    assert capsys.readouterr().out == f"listening on {port}\n"
    assert await store_one(server.port, "1.2.3.4") == 0
    async with AE("ECHO").associate("127.0.0.1", server.port, called_ae="DICOMNET") as assoc:
        assert (await assoc.echo()).is_success
    assert await running.stop() == cli_serve.EXIT_OK
    assert (tmp_path / "out" / "1.2.3.4.dcm").is_file()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_refuse_duplicates_option(tmp_path: Path) -> None:
    serving = Running(
        ["--port", "0", "--host", "127.0.0.1", "-o", str(tmp_path), "--duplicates", "refuse"]
    )
    server = await serving.server()
    assert await store_one(server.port, "1.2.3.5") == 0
    assert await store_one(server.port, "1.2.3.5") == 0xC111
    assert await serving.stop() == 0


async def test_tls(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    serving = Running(
        [
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "-o",
            str(tmp_path / "out"),
            "--tls-cert",
            str(certs.server_cert),
            "--tls-key",
            str(certs.server_key),
            "--tls-ca",
            str(certs.ca),
            "--require-client-cert",
        ]
    )
    server = await serving.server()
    ctx = client_tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    ctx.check_hostname = False
    assert await store_one(server.port, "1.2.3.6", ssl=ctx) == 0
    assert await serving.stop() == 0
    assert (tmp_path / "out" / "1.2.3.6.dcm").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["--profile", "no-such-profile"],
        ["--tls-cert", "/nonexistent/cert.pem"],
        ["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
        ["--max-pdu", "-1"],
    ],
)
async def test_bad_options_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await cli_serve.serve(parse("--port", "0", "-o", str(tmp_path), *argv))
    assert code == cli_serve.EXIT_USAGE
    assert capsys.readouterr().err.startswith("dicomnet serve: ")


async def test_output_that_is_a_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    code = await cli_serve.serve(parse("--port", "0", "-o", str(tmp_path / "file")))
    assert code == cli_serve.EXIT_USAGE


async def test_port_in_use_exits_6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = await cli_serve.serve(
            parse("--port", str(port), "--host", "127.0.0.1", "-o", str(tmp_path))
        )
    assert code == cli_serve.EXIT_NETWORK
    assert "cannot listen" in capsys.readouterr().err
