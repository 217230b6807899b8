"""``dicomnet store`` stopped with Ctrl-C (SIGINT) while the SCP holds back its response."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.association import Association
from dicomnet.dimse.commands import CommandField
from dicomnet.errors import AssociationAborted
from dicomnet.policy import AcceptedContext
from dicomnet.services.base import Binding, IncomingRequest, Reply
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet_pdu.codes import AbortSource

EXPLICIT_LE = "1.2.840.10008.1.2.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

#: Runs ``dicomnet`` with Python's own SIGINT handler, even when the test runner was
#: started with SIGINT ignored (as a background job of a non-interactive shell is).
RUNNER = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from dicomnet.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


class StallingSCP:
    """Reads each C-STORE's data set, then never answers (until the association ends)."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.requests = 0
        self.association: Association | None = None

    def binding(self) -> Binding:
        async def handle(request: IncomingRequest) -> Reply:
            self.requests += 1
            self.association = request.association
            await request.dataset_bytes()
            self.arrived.set()
            await asyncio.Event().wait()  # cancelled when the association goes
            raise AssertionError("unreachable")  # pragma: no cover

        return Binding(command_field=CommandField.C_STORE_RQ, handler=handle)


async def test_ctrl_c_aborts_prints_the_summary_and_exits_130(tmp_path: Path) -> None:
    files = [
        str(write_part10(tmp_path / f"{n}.dcm", make_image(rows=8, columns=8), EXPLICIT_LE))
        for n in range(3)
    ]
    scp = StallingSCP()
    policy = make_policy(
        "SLOW-SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(EXPLICIT_LE,)),
        ),
    )
    server = await AE("SLOW-SCP", policy).serve("127.0.0.1", 0, handlers=[scp.binding()])
    async with server:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, "store", "--no-progress", "-td", "120",
            "127.0.0.1", str(server.port), *files,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.wait_for(scp.arrived.wait(), 60)
            process.send_signal(signal.SIGINT)
            out_bytes, err_bytes = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        # The SCU sent an A-ABORT (source: service user), not just a closed socket.
        assert scp.association is not None
        await asyncio.wait_for(scp.association.wait_closed(), 60)
        error = scp.association.error
        assert isinstance(error, AssociationAborted), error
        assert error.source == AbortSource.SERVICE_USER
    out, err = out_bytes.decode(), err_bytes.decode()
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err
    assert "Stored 0 of 3 instance(s)" in out
    assert "3 not sent or not confirmed (interrupted)" in out
    assert scp.requests == 1
