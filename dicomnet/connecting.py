"""Opening a connection with a timeout, and running a program's event loop (uvloop if installed).

Both are re-exported by :mod:`dicomnet.transport`, where callers import them from.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import TimeoutExpired

if TYPE_CHECKING:
    from .transport import ULProtocol

__all__ = ["connect", "run"]

_T = TypeVar("_T")


async def connect(
    protocol_factory: Callable[[], ULProtocol],
    host: str,
    port: int,
    *,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout: float | None = None,
    family: int = 0,
) -> ULProtocol:
    """Open a TCP (or TLS) connection; ``TimeoutExpired("connect")`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    kwargs: dict[str, Any] = {"family": family}
    if ssl is not None:
        kwargs["ssl"] = ssl
        kwargs["server_hostname"] = server_hostname if server_hostname is not None else host
    try:
        async with asyncio.timeout(timeout):
            _, protocol = await loop.create_connection(protocol_factory, host, port, **kwargs)
    except TimeoutError:
        raise TimeoutExpired("connect", timeout or 0.0, f"{host}:{port}") from None
    return protocol


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up, imported only when running)
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, _T] | Awaitable[_T], *, use_uvloop: bool = True) -> _T:
    """Run ``main`` to completion on a new loop, uvloop's when installed.

    Nothing is installed globally: the loop factory is used for this run only.
    """
    factory = _loop_factory() if use_uvloop else None

    async def _wrap() -> _T:
        return await main

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_wrap())
