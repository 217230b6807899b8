"""Fixtures for association tests: a running Verification SCP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dicomnet.ae import AE, Server


@pytest.fixture
async def scp() -> AsyncIterator[Server]:
    """A Verification SCP with AE title SCP on an ephemeral loopback port."""
    server = await AE("SCP").serve("127.0.0.1", 0)
    async with server:
        yield server
