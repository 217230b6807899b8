"""What the Print SCP holds for an association is freed when the association ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.print_session import (
    association,
    new_film,
    new_session,
    one_image_film,
)
from helpers.printer import running_printer

from dicomnet.association import Association


async def _ended(printer_server_hooks: list[object]) -> asyncio.Event:
    event = asyncio.Event()
    printer_server_hooks.append(lambda _association: event.set())
    return event


@pytest.mark.parametrize("how", ["release", "abort", "drop"])
async def test_association_end_frees_the_film_session(tmp_path: Path, how: str) -> None:
    async with running_printer(tmp_path) as printer:
        ended = await _ended(printer.server.ended_hooks)  # type: ignore[arg-type]
        async with association(printer) as assoc:
            await one_image_film(assoc, "STANDARD\\2,1")
            assert printer.scp.associations_held == 1
            await _end(assoc, how)
        await ended.wait()
        # Nothing of the association is held, and ending it printed nothing (an end
        # is an N-DELETE of the film session, PS3.4 H.4.1).
        assert printer.scp.associations_held == 0
        assert printer.scp.printed == 0
        assert printer.films() == []


async def _end(assoc: Association, how: str) -> None:
    if how == "release":
        await assoc.release()
    elif how == "abort":
        await assoc.abort()
    else:
        assoc.protocol.abort_transport()
        await assoc.wait_closed()


async def test_one_association_ending_leaves_the_others(tmp_path: Path) -> None:
    async with running_printer(tmp_path) as printer:
        ended = await _ended(printer.server.ended_hooks)  # type: ignore[arg-type]
        async with association(printer) as staying:
            session = await new_session(staying)
            async with association(printer) as leaving:
                await new_session(leaving)
                assert printer.scp.associations_held == 2
            await ended.wait()
            assert printer.scp.associations_held == 1
            # The staying association's session is still there and usable.
            film, _, _ = await new_film(staying, session)
            assert film
