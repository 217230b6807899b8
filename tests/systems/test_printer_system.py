"""The printer system (conformance/systems/printer.toml): films printed into its films folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.printer import flux_policy

from dicomnet.ae import AE
from dicomnet.errors import ConfigurationError
from dicomnet.services.print_scu import PrintSession
from dicomnet.systems import load_system, start_system


async def test_printer_system_writes_films(tmp_path: Path) -> None:
    running = await start_system(
        load_system("printer"), host="127.0.0.1", root=tmp_path, any_port=True, fsync=False
    )
    try:
        policy = flux_policy()
        ae = AE(policy.ae_title, policy)
        async with (
            ae.associate("127.0.0.1", running.ports["printer"], called_ae="PRINTSCP") as assoc,
            PrintSession(assoc, NumberOfCopies=1) as session,
        ):
            status = await session.printer_status()
            film = await session.new_film_box("STANDARD\\1,1", film_size="8INX10IN")
            await film.set_image(0, np.full((16, 16), 77, np.uint8))
            await film.print()
    finally:
        await running.close()
    assert status.name == "PRINTSCP"
    (png,) = (tmp_path / "films").glob("*.png")
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["film_size"] == "8INX10IN" and info["calling_ae"] == "FLUX_PRINT"


def test_print_service_needs_a_films_folder(tmp_path: Path) -> None:
    path = tmp_path / "printer.toml"
    path.write_text(
        '[system]\nname = "p"\n[[ae]]\nname = "printer"\nprofile = "dicomnet-printer"\n'
        'services = ["print"]\n'
    )
    with pytest.raises(ConfigurationError, match="films"):
        load_system(str(path))
