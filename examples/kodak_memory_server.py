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
size).

Run::

    python examples/kodak_memory_server.py --port 11113
    python examples/kodak_memory_server.py --help

Prints ``listening on PORT`` when ready; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from common import add_common_arguments, configure_logging, profile_policy, serve_until_signal

from dicomnet.ae import AE
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.memory import MemoryStore
from dicomnet.transport import run

PROFILE = "kodak-memory-server"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_arguments(parser, port=11113, aet="MEMORY_SERVER")
    return parser


def print_holdings(store: MemoryStore) -> None:
    """What the server holds: a count, then one line per instance."""
    print(f"holding {len(store)} instance(s)")
    for uid, instance in store.instances.items():
        info = instance.info
        print(f"{uid} {info.sop_class_uid} {info.transfer_syntax_uid} {len(instance.dataset)}")


async def main(args: argparse.Namespace) -> int:
    """Serve until a signal, then print what is held."""
    policy = profile_policy(PROFILE, args.aet)
    store = MemoryStore()
    ae = AE(policy.ae_title, policy, handlers=[StorageService(store)])
    server = await ae.serve(args.host, args.port)
    await serve_until_signal(server, on_stop=lambda: print_holdings(store))
    return 0


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    configure_logging(arguments.verbose)
    sys.exit(run(main(arguments)))
