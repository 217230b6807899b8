"""Requested Resolution ID (2020,0050): HIGH prints the film at the printer's high resolution."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers.print_session import (
    BASIC_FILM_BOX,
    action,
    association,
    call,
    create,
    film_box_attrs,
    image_set,
    new_film,
    new_session,
    set_box,
)
from helpers.printer import running_printer
from PIL import Image


async def test_high_resolution_film_over_the_network(tmp_path: Path) -> None:
    image = np.tile(np.linspace(0, 255, 200).astype(np.uint8), (200, 1))
    statuses = {}
    async with running_printer(tmp_path, dpi=20) as printer, association(printer) as assoc:
        session = await new_session(assoc)
        for resolution in ("STANDARD", "HIGH"):
            uid, boxes, reply = await new_film(
                assoc, session, FilmSizeID="8INX10IN", RequestedResolutionID=resolution
            )
            assert reply.RequestedResolutionID == resolution
            sop_class, box = boxes[0]
            # 200 image pixels: more than a STANDARD box has (demagnified, B604H),
            # fewer than a HIGH one.
            response, _ = await call(assoc, set_box(sop_class, box), image_set(1, image))
            statuses[resolution] = response.status
            response, _ = await call(assoc, action(BASIC_FILM_BOX, uid))
            assert response.status == 0
        response, _ = await call(
            assoc, create(BASIC_FILM_BOX), film_box_attrs(session, RequestedResolutionID="ULTRA")
        )
        assert response.status == 0x0106
        standard, high = printer.films()
    assert statuses == {"STANDARD": 0xB604, "HIGH": 0x0000}
    with Image.open(standard) as picture:
        assert picture.size == (160, 200)
        assert round(picture.info["dpi"][0]) == 20
    with Image.open(high) as picture:
        assert picture.size == (320, 400)
        assert round(picture.info["dpi"][0]) == 40
    assert json.loads(high.with_suffix(".json").read_text())["resolution"] == "HIGH"
