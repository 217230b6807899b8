"""Kodak DirectView Web Software, Memory-Server AE: Storage SCP keeping instances in memory.

Plays the Memory-Server of the Kodak DirectView conformance statement (seed
``004_10981dd9c438091f.txt``, §3.2): the target of the Memory-Manager's
C-MOVE requests. The ``kodak-memory-server`` profile gives the AE title
(``MEMORY_SERVER``, the only called AE title answered), the accepted SOP
classes and the statement's transfer syntax preference: Explicit VR Big
Endian, then Explicit VR Little Endian, then Implicit VR Little Endian,
whatever order the sender proposes them in. Instances are held in a
:class:`~dicomnet.storage.memory.MemoryStore`; on exit the program prints
one line per instance held (SOP Instance UID, SOP class, transfer syntax,
size). ``--memory-limit BYTES`` bounds what is held: a C-STORE past it is
answered A700 (§3.2.3.2.2: a failure status when the image cannot be stored
in memory). The store keeps an index of what it holds; a system file AE with
``services = ["memory-storage", "qr"]`` (and a profile accepting the Q/R SOP
classes) answers C-FIND and C-MOVE from memory while it runs.

It runs the ``memory`` AE of ``conformance/systems/kodak.toml`` alone
(``dicomnet serve --system kodak`` runs it beside the Disk-Server).

Run::

    python examples/kodak_memory_server.py --port 11113
    python examples/kodak_memory_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse

from common import example_parser, run_main, serve_system_ae

from dicomnet.storage.memory import MemoryStore
from dicomnet.systems import RunningSystem

SYSTEM = "kodak"  # conformance/systems/kodak.toml: its "memory" AE (kodak-memory-server)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = example_parser(__doc__, port=11113, aet="MEMORY_SERVER", server=True)
    parser.add_argument(
        "--memory-limit",
        type=int,
        default=None,
        metavar="BYTES",
        help="hold at most BYTES of data sets; a C-STORE past it fails (A700)",
    )
    return parser


def print_holdings(store: MemoryStore) -> None:
    """What the server holds: a count, then one line per instance."""
    print(f"holding {len(store)} instance(s)")
    for uid, instance in store.instances.items():
        info = instance.info
        print(f"{uid} {info.sop_class_uid} {info.transfer_syntax_uid} {len(instance.dataset)}")


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal, then print what is held."""

    def stopped(running: RunningSystem) -> None:
        print_holdings(running.memory_store("memory"))

    return await serve_system_ae(args, SYSTEM, "memory", on_stop=stopped, store=None)


if __name__ == "__main__":
    run_main(build_parser(), main)
