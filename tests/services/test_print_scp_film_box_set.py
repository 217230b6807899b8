"""Basic Film Box N-SET (PS3.4 H.4.2.2.2): checked as N-CREATE is, and printed as set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.print_session import (
    BASIC_FILM_BOX,
    action,
    association,
    call,
    new_film,
    new_session,
    one_image_film,
    set_box,
)
from helpers.printer import running_printer
from pydicom.dataset import Dataset

from dicomnet.print.attributes import AttributeProblem, film_box_update
from dicomnet.print.layout import parse_display_format
from dicomnet.print.model import FilmBox, PrinterSettings
from dicomnet.services.print_scu import PrintSession


def attrs(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


async def test_film_box_n_set_changes_what_is_printed(tmp_path: Path) -> None:
    async with running_printer(tmp_path, dpi=20) as printer, association(printer) as assoc:
        _, film = await one_image_film(
            assoc, "STANDARD\\2,1", FilmSizeID="8INX10IN", BorderDensity="WHITE"
        )
        response, _ = await call(
            assoc,
            set_box(BASIC_FILM_BOX, film),
            attrs(
                BorderDensity="BLACK",
                EmptyImageDensity="WHITE",
                MagnificationType="REPLICATE",
                Trim="YES",
                MaxDensity=250,
                Illumination=2000,
                ReflectedAmbientLight=10,
                ConfigurationInformation="LINEAR",
            ),
        )
        assert response.status == 0, hex(response.status)
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0, hex(response.status)
        (png,) = printer.films()
        picture = printer.picture()
    info = json.loads(png.with_suffix(".json").read_text())
    assert (info["border_density"], info["empty_image_density"]) == ("BLACK", "WHITE")
    assert (info["magnification"], info["trim"], info["max_density"]) == ("REPLICATE", True, 250)
    # The border (a film corner) is black now, and the empty right box white.
    assert int(picture[0, 0]) < 40
    assert int(picture[100, 120]) > 200


async def test_film_box_n_set_statuses(tmp_path: Path) -> None:
    settings = PrinterSettings(dpi=20, min_density=20, max_density=320)
    async with (
        running_printer(tmp_path, settings=settings) as printer,
        association(printer) as assoc,
    ):
        session = await new_session(assoc)
        film, _, _ = await new_film(assoc, session, MinDensity=50, MaxDensity=200)
        target = set_box(BASIC_FILM_BOX, film)
        # Outside the printer's range: its own limit is used, B605H.
        response, _ = await call(assoc, target, attrs(MinDensity=5))
        assert response.status == 0xB605
        # Refused values: 0106H, nothing changes.
        for bad in (
            attrs(MagnificationType="ZOOM"),
            attrs(BorderDensity="GREY"),
            attrs(Trim="MAYBE"),
            attrs(MinDensity=250),  # above the film box's Max Density 200
            attrs(ReferencedPresentationLUTSequence=[attrs(ReferencedSOPInstanceUID="1.2.9")]),
        ):
            response, _ = await call(assoc, target, bad)
            assert response.status == 0x0106, bad
        # N-CREATE-only attributes are ignored and named: 0107H.
        response, _ = await call(
            assoc, target, attrs(ImageDisplayFormat="STANDARD\\2,2", Trim="YES")
        )
        assert response.status == 0x0107
        assert response.attribute_identifier_list == (0x20100010,)  # type: ignore[attr-defined]
        # A film box that does not exist: 0112H.
        response, _ = await call(assoc, set_box(BASIC_FILM_BOX, "1.2.3"), attrs(Trim="NO"))
        assert response.status == 0x0112
        response, _ = await call(assoc, action(BASIC_FILM_BOX, film))
        assert response.status == 0xB603  # printed, but no image box was set
        (png,) = printer.films()
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["image_display_format"] == "STANDARD\\1,1"
    assert (info["min_density"], info["max_density"], info["trim"]) == (20, 200, True)
    assert info["magnification"] != "ZOOM" and info["border_density"] != "GREY"


def _film() -> FilmBox:
    return FilmBox(
        uid="1.2.3",
        display=parse_display_format("STANDARD\\1,1"),
        color=False,
        orientation="PORTRAIT",
        film_size="8INX10IN",
        magnification="BILINEAR",
        smoothing=None,
        border_density="BLACK",
        empty_density="BLACK",
        min_density=None,
        max_density=100,
        trim=False,
    )


def test_a_refused_update_changes_nothing() -> None:
    film = _film()
    before = (film.magnification, film.border_density, film.trim, film.min_density)
    with pytest.raises(AttributeProblem) as raised:
        film_box_update(
            film,
            attrs(MagnificationType="CUBIC", Trim="YES", MinDensity=150),
            PrinterSettings(),
            {},
        )
    assert raised.value.status == 0x0106
    assert (film.magnification, film.border_density, film.trim, film.min_density) == before
    warnings = film_box_update(film, attrs(SmoothingType="SHARP"), PrinterSettings(), {})
    assert warnings.status == 0 and film.smoothing == "SHARP"
    assert film.attributes.SmoothingType == "SHARP"


async def test_print_scu_film_box_update_reaches_the_printed_film(tmp_path: Path) -> None:
    """dicomnet's Print SCU against its Print SCP: FilmBox.update is the film box N-SET."""
    pixels = (np.arange(32 * 24).reshape(32, 24) % 251).astype(np.uint8)
    async with (
        running_printer(tmp_path, dpi=20) as printer,
        association(printer) as assoc,
        PrintSession(assoc) as session,
    ):
        film = await session.new_film_box("STANDARD\\1,1", BorderDensity="WHITE")
        await film.set_image(0, pixels)
        await film.update(BorderDensity="BLACK", Trim="YES")
        await film.print()
        (png,) = printer.films()
    info = json.loads(png.with_suffix(".json").read_text())
    assert (info["border_density"], info["trim"]) == ("BLACK", True)
