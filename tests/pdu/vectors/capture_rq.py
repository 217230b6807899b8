"""Record the first PDU that DCMTK ``echoscu`` and a pynetdicom AE send (run by hand).

    python tests/pdu/vectors/capture_rq.py

Listens on an ephemeral loopback port, points each requestor at it, keeps the
bytes of the first PDU, answers with an A-ABORT and prints the bytes as hex. The
output was pasted into ``captured.py``; tests never run this.
"""

from __future__ import annotations

import asyncio
import sys

ABORT = bytes.fromhex("07 00 00000004 0000 0000")


async def _capture(run_peer: str) -> bytes:
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(6)
        body = await reader.readexactly(int.from_bytes(header[2:6], "big"))
        if not got.done():
            got.set_result(header + body)
        writer.write(ABORT)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    if run_peer == "echoscu":
        args = ["/usr/bin/echoscu", "-aet", "ECHOSCU", "-aec", "ANY-SCP", "127.0.0.1", str(port)]
    else:
        code = (
            "from pynetdicom import AE\n"
            "from pynetdicom.sop_class import Verification\n"
            "ae = AE(ae_title='PYNETDICOM')\n"
            "ae.add_requested_context(Verification)\n"
            f"a = ae.associate('127.0.0.1', {port}, ae_title='ANY-SCP')\n"
            "a.is_established and a.release()\n"
        )
        args = [sys.executable, "-c", code]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    data = await asyncio.wait_for(got, 30)
    await proc.wait()
    server.close()
    await server.wait_closed()
    return data


async def _main() -> None:
    for peer in ("echoscu", "pynetdicom"):
        data = await _capture(peer)
        print(f"{peer}: {len(data)} bytes")
        print(data.hex())


if __name__ == "__main__":
    asyncio.run(_main())
