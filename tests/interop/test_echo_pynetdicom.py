"""C-ECHO against pynetdicom, both directions, plain TCP and TLS.

pynetdicom's blocking SCU runs in a child process (so this event loop stays
free to serve it); its SCP runs in its own threads via ``start_server(block=False)``.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module
from helpers.certs import CertSet, make_certs

from dicomnet.ae import AE
from dicomnet.transport import client_tls_context, server_tls_context

pytestmark = pytest.mark.interop

VERIFICATION = "1.2.840.10008.1.1"

SCU_SCRIPT = """
import sys, ssl
from pynetdicom import AE
host, port, use_tls = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tls"
kwargs = {}
if use_tls:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=sys.argv[4])
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    kwargs["tls_args"] = (ctx, "localhost")
ae = AE(ae_title="PYNETDICOM")
ae.add_requested_context("1.2.840.10008.1.1")
assoc = ae.associate(host, port, ae_title="DICOMNET", **kwargs)
if not assoc.is_established:
    print("not established")
    sys.exit(2)
status = assoc.send_c_echo()
print("status", hex(status.Status))
assoc.release()
sys.exit(0 if status.Status == 0 else 1)
"""


async def run_scu(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCU_SCRIPT,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


@pytest.fixture
def certs(tmp_path: Path) -> CertSet:
    return make_certs(tmp_path)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_pynetdicom_scu_to_dicomnet(host: str) -> None:
    require_module("pynetdicom")
    async with await AE("DICOMNET").serve(host, 0) as server:
        code, out = await run_scu(host, str(server.port), "tcp")
    assert code == 0, out
    assert "status 0x0" in out


async def test_pynetdicom_scu_to_dicomnet_over_tls(certs: CertSet) -> None:
    require_module("pynetdicom")
    ctx = server_tls_context(
        str(certs.server_cert), str(certs.server_key), str(certs.ca), require_client_cert=True
    )
    async with await AE("DICOMNET").serve("127.0.0.1", 0, ssl=ctx) as server:
        code, out = await run_scu(
            "127.0.0.1",
            str(server.port),
            "tls",
            str(certs.ca),
            str(certs.client_cert),
            str(certs.client_key),
        )
    assert code == 0, out


def _pynetdicom_scp(
    ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> Iterator[tuple[Any, int]]:
    from pynetdicom import AE as PynetdicomAE

    ae = PynetdicomAE(ae_title="PYSCP")
    ae.add_supported_context(VERIFICATION)
    server = ae.start_server((host, 0), block=False, ssl_context=ssl_context)
    assert server is not None  # not blocking: the server object is returned
    try:
        yield server, server.server_address[1]
    finally:
        server.shutdown()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_dicomnet_scu_to_pynetdicom(host: str) -> None:
    require_module("pynetdicom")
    for _, port in _pynetdicom_scp(host=host):
        async with AE("DICOMNET").associate(host, port, called_ae="PYSCP") as assoc:
            assert assoc.peer_ae_title == "PYSCP"
            status = await assoc.echo()
            assert status.is_success


async def test_dicomnet_scu_to_pynetdicom_over_tls(certs: CertSet) -> None:
    require_module("pynetdicom")
    server_ctx = server_tls_context(
        str(certs.server_cert), str(certs.server_key), str(certs.ca), require_client_cert=True
    )
    client_ctx = client_tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    for _, port in _pynetdicom_scp(server_ctx):
        async with AE("DICOMNET").associate(
            "localhost", port, called_ae="PYSCP", ssl=client_ctx
        ) as assoc:
            assert (await assoc.echo()).is_success
