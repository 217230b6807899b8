"""pynetdicom as a Print SCU (grayscale and colour) → dicomnet's Print SCP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import require_module
from helpers.printer import PRINTER_TITLE, running_printer
from helpers.programs import run_program

pytestmark = pytest.mark.interop

#: How both pynetdicom Print SCU children (in a child process: their calls block, the
#: test's loop serves) begin: argv port, called AE title, "gray" or "color"; an
#: association on that meta SOP class, a ``statuses`` dict they print as JSON at the
#: end (``CHILD_END``), and helpers that N-CREATE a film session or a film box.
CHILD_START = r"""
import json, sys
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom import sop_class as sc

port, title, color = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "color"
meta = sc.BasicColorPrintManagementMeta if color else sc.BasicGrayscalePrintManagementMeta
ae = AE(ae_title="PYNETPRINT")
ae.add_requested_context(meta)
assoc = ae.associate("127.0.0.1", port, ae_title=title)
assert assoc.is_established
statuses = {}


def create(sop_class, name, **attrs):
    # N-CREATE with attributes attrs: the new UID and the reply; its status in statuses
    ds = Dataset()
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    uid = generate_uid()
    status, reply = assoc.send_n_create(ds, sop_class, uid, meta_uid=meta)
    statuses[name] = status.Status
    return uid, reply


def film_session(**attrs):
    return create(sc.BasicFilmSession, "session", **attrs)[0]


def film_box(session_uid, **attrs):
    ref = Dataset()
    ref.ReferencedSOPClassUID = sc.BasicFilmSession
    ref.ReferencedSOPInstanceUID = session_uid
    return create(sc.BasicFilmBox, "film", ReferencedFilmSessionSequence=[ref], **attrs)
"""
CHILD_END = """
assoc.release()
print(json.dumps(statuses))
"""

#: Prints a three-box film (grayscale or colour).
CHILD = (
    CHILD_START
    + r"""
session_uid = film_session(
    NumberOfCopies=3, PrintPriority="HIGH", MediumType="CLEAR FILM", FilmSessionLabel="PYNETDICOM"
)
film_uid, attrs = film_box(
    session_uid,
    ImageDisplayFormat="ROW\\1,2",
    FilmOrientation="PORTRAIT",
    FilmSizeID="8INX10IN",
    MagnificationType="REPLICATE",
    BorderDensity="WHITE",
)
boxes = [
    (i.ReferencedSOPClassUID, i.ReferencedSOPInstanceUID)
    for i in attrs.ReferencedImageBoxSequence
]
statuses["boxes"] = len(boxes)

values = [(200, 40, 40), (40, 200, 40), (40, 40, 200)] if color else [60, 140, 220]
for position, ((box_class, box_uid), value) in enumerate(zip(boxes, values), start=1):
    item = Dataset()
    item.Rows = item.Columns = 32
    item.PixelRepresentation = 0
    item.BitsAllocated = item.BitsStored = 8
    item.HighBit = 7
    if color:
        item.SamplesPerPixel = 3
        item.PhotometricInterpretation = "RGB"
        item.PlanarConfiguration = 1
        pixels = np.empty((3, 32, 32), np.uint8)
        for channel in range(3):
            pixels[channel] = value[channel]
    else:
        item.SamplesPerPixel = 1
        item.PhotometricInterpretation = "MONOCHROME2"
        pixels = np.full((32, 32), value, np.uint8)
    item.PixelData = pixels.tobytes()
    box = Dataset()
    box.ImageBoxPosition = position
    if color:
        box.BasicColorImageSequence = [item]
    else:
        box.BasicGrayscaleImageSequence = [item]
    status, _ = assoc.send_n_set(box, box_class, box_uid, meta_uid=meta)
    statuses[f"box{position}"] = status.Status

status, _ = assoc.send_n_get([0x21100010], sc.Printer, sc.PrinterInstance, meta_uid=meta)
statuses["printer"] = status.Status
status, _ = assoc.send_n_action(None, 1, sc.BasicFilmSession, session_uid, meta_uid=meta)
statuses["print"] = status.Status
status = assoc.send_n_delete(sc.BasicFilmSession, session_uid, meta_uid=meta)
statuses["delete"] = status.Status
"""
    + CHILD_END
)


async def print_with_pynetdicom(
    tmp_path: Path, script: str, kind: str, dpi: int
) -> tuple[dict[str, int], dict[str, Any], np.ndarray[Any, Any]]:
    """Run ``script`` against a dicomnet printer; its statuses, the one film's
    description (its JSON) and picture."""
    require_module("pynetdicom")
    async with running_printer(tmp_path, dpi=dpi) as printer:
        code, out = await run_program(
            sys.executable, "-c", script, str(printer.port), PRINTER_TITLE, kind, timeout=120
        )
        assert code == 0, out
        statuses = json.loads(out.strip().splitlines()[-1])
        (png,) = printer.films()
        picture = printer.picture()
    info = json.loads(png.with_suffix(".json").read_text())
    return statuses, info, picture


@pytest.mark.parametrize("kind", ["gray", "color"])
async def test_pynetdicom_prints_a_film(tmp_path: Path, kind: str) -> None:
    statuses, info, picture = await print_with_pynetdicom(tmp_path, CHILD, kind, dpi=40)
    assert statuses == {
        "session": 0,
        "film": 0,
        "boxes": 3,
        "box1": 0,
        "box2": 0,
        "box3": 0,
        "printer": 0,
        "print": 0,
        "delete": 0,
    }
    assert (info["copies"], info["priority"], info["medium"]) == (3, "HIGH", "CLEAR FILM")
    assert info["label"] == "PYNETDICOM" and info["calling_ae"] == "PYNETPRINT"
    assert info["image_display_format"] == "ROW\\1,2" and info["color"] is (kind == "color")
    # 8 x 10 inches at 40 dpi: one box across the top row, two below.
    assert picture.shape[:2] == (400, 320)
    top, bottom_left, bottom_right = picture[100, 160], picture[300, 80], picture[300, 240]
    if kind == "gray":
        assert (int(top), int(bottom_left), int(bottom_right)) == (60, 140, 220)
    else:
        expected = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
        for pixel, colour in zip((top, bottom_left, bottom_right), expected, strict=True):
            assert np.all(np.abs(pixel.astype(int) - colour) <= 2), (pixel, colour)


#: pynetdicom sets a film box (N-SET, PS3.4 H.4.2.2.2) before printing it (grayscale).
FILM_BOX_SET_CHILD = (
    CHILD_START
    + r"""
session_uid = film_session(NumberOfCopies=1)
film_uid, _ = film_box(
    session_uid,
    ImageDisplayFormat="STANDARD\\1,1",
    FilmSizeID="8INX10IN",
    BorderDensity="WHITE",
    EmptyImageDensity="WHITE",
)
change = Dataset()
change.BorderDensity = "BLACK"
change.EmptyImageDensity = "BLACK"
change.Trim = "YES"
status, _ = assoc.send_n_set(change, sc.BasicFilmBox, film_uid, meta_uid=meta)
statuses["set"] = status.Status
bad = Dataset()
bad.MagnificationType = "ZOOM"
status, _ = assoc.send_n_set(bad, sc.BasicFilmBox, film_uid, meta_uid=meta)
statuses["bad"] = status.Status
status, _ = assoc.send_n_action(None, 1, sc.BasicFilmBox, film_uid, meta_uid=meta)
statuses["print"] = status.Status
"""
    + CHILD_END
)


async def test_pynetdicom_sets_a_film_box(tmp_path: Path) -> None:
    statuses, info, picture = await print_with_pynetdicom(
        tmp_path, FILM_BOX_SET_CHILD, "gray", dpi=20
    )
    # Set (0000), a refused value (0106), printed with an empty box (B603).
    assert statuses == {"session": 0, "film": 0, "set": 0, "bad": 0x0106, "print": 0xB603}
    assert (info["border_density"], info["empty_image_density"], info["trim"]) == (
        "BLACK",
        "BLACK",
        True,
    )
    # Created white, set black: the whole film is dark.
    assert int(picture.max()) < 60
