"""pynetdicom Storage SCP for the store suite.

``python -m benchmarks.pynetdicom_scp PORT [--output DIR] [--max-pdu N]``
listens on 127.0.0.1:PORT for CT Image Storage (and Verification). Without
``--output`` a C-STORE handler answers Success without touching the data set
(discarding); with it each instance is written as a Part 10 file from the
received bytes (``event.encoded_dataset()``, no decode). TCP_NODELAY is set on
every accepted socket. Runs until killed.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt

VERIFICATION = "1.2.840.10008.1.1"


def set_nodelay(event: Any) -> None:
    """EVT_CONN_OPEN handler: disable Nagle on the association's socket."""
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def discard(event: Any) -> int:
    """C-STORE handler that drops the data set."""
    return 0x0000


def writer(folder: Path) -> Any:
    """C-STORE handler that writes each instance to ``folder/<SOP Instance UID>.dcm``."""

    def handle(event: Any) -> int:
        uid = event.request.AffectedSOPInstanceUID
        with (folder / f"{uid}.dcm").open("wb") as handle_file:
            handle_file.write(event.encoded_dataset())
        return 0x0000

    return handle


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pynetdicom_scp")
    parser.add_argument("port", type=int)
    parser.add_argument("--output", type=Path, help="write instances here (else discard)")
    parser.add_argument("--max-pdu", type=int, default=16384)
    args = parser.parse_args(argv)

    ae = AE(ae_title="BENCH-SCP")
    ae.maximum_pdu_size = args.max_pdu
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_supported_context(CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    ae.add_supported_context(VERIFICATION)
    handler = discard if args.output is None else writer(args.output)
    ae.start_server(
        ("127.0.0.1", args.port),
        block=True,
        evt_handlers=[(evt.EVT_C_STORE, handler), (evt.EVT_CONN_OPEN, set_nodelay)],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
