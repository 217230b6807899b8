"""C-ECHO a peer: ``python examples/echo_scu.py HOST PORT [CALLED_AE]``.

The smallest requestor: the default Verification-only policy, one association,
one C-ECHO, released on leaving the ``async with`` block.
"""

from __future__ import annotations

import sys

from dicomnet.ae import AE
from dicomnet.transport import run


async def main(host: str, port: int, called_ae: str) -> int:
    """Echo once and print the status; exit code 0 on Success."""
    async with AE("ECHOSCU").associate(host, port, called_ae=called_ae) as assoc:
        status = await assoc.echo()
    print(f"C-ECHO status 0x{status.code:04X} ({status.category.name.lower()})")
    return 0 if status.is_success else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        sys.exit(__doc__)
    sys.exit(run(main(args[0], int(args[1]), args[2] if len(args) == 3 else "ANY-SCP")))
