"""Rendering films straight from the model: densities, cropping, decimation, PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dicomnet.print.layout import parse_display_format
from dicomnet.print.model import FilmBox, ImageBox, PrintedFilm, PrinterSettings
from dicomnet.print.render import FilmRenderer, density_to_level, render_film
from dicomnet.services.print_scu import BASIC_GRAYSCALE_IMAGE_BOX, image_sequence_item

SETTINGS = PrinterSettings(dpi=20)  # 8 x 10 inch film: 160 x 200 pixels


def film(
    pixels: np.ndarray[Any, Any] | None, box: dict[str, Any] | None = None, **changes: Any
) -> PrintedFilm:
    """A one-box film of ``pixels``; ``box`` changes the image box, ``changes`` the film box."""
    values: dict[str, Any] = {
        "uid": "1.2.3",
        "display": parse_display_format("STANDARD\\1,1"),
        "color": False,
        "orientation": "PORTRAIT",
        "film_size": "8INX10IN",
        "magnification": "REPLICATE",
        "smoothing": None,
        "border_density": "BLACK",
        "empty_density": "WHITE",
        "min_density": None,
        "max_density": None,
        "trim": False,
    }
    values.update(changes)
    film_box = FilmBox(**values)
    image: Dataset | None = None if pixels is None else image_sequence_item(pixels)
    film_box.image_boxes.append(
        ImageBox(
            uid="1.2.4", sop_class=BASIC_GRAYSCALE_IMAGE_BOX, position=1, image=image, **(box or {})
        )
    )
    return PrintedFilm(
        job_uid="1.2.5",
        session_uid="1.2.6",
        session_label="",
        copies=1,
        priority="MED",
        medium="PAPER",
        destination="MAGAZINE",
        film=film_box,
        luts={},
    )


def picture(printed: PrintedFilm) -> np.ndarray[Any, Any]:
    return np.asarray(render_film(printed, SETTINGS))


def test_densities_map_to_brightness() -> None:
    assert density_to_level(20, SETTINGS) == 255 and density_to_level(320, SETTINGS) == 0
    assert density_to_level(170, SETTINGS) == 128
    empty = picture(film(None, border_density="170"))
    assert empty.shape == (200, 160)
    assert empty[0, 0] == 128 and empty[100, 80] == 255  # border 1.70 OD, empty box WHITE
    white = np.full((10, 10), 255, np.uint8)
    # Min Density 1.00: the brightest pixel prints at 1.00 OD, not the printer's 0.20.
    dimmed = picture(film(white, min_density=100))
    assert dimmed[100, 80] == density_to_level(100, SETTINGS) == 187
    # An image box's own Max Density overrides the film box's.
    black = np.zeros((10, 10), np.uint8)
    assert picture(film(black, max_density=200))[100, 80] == density_to_level(200, SETTINGS)
    overridden = picture(film(black, {"max_density": 300}, max_density=200))
    assert overridden[100, 80] == density_to_level(300, SETTINGS) == 17


def test_crop_prints_the_middle_one_to_one_and_decimate_all_of_it() -> None:
    big = np.zeros((400, 400), np.uint8)
    big[150:250, 150:250] = 200  # a bright middle square
    big[:20, :20] = 100  # a mid-grey top-left corner
    cropped = picture(film(big, {"decimate_crop": "CROP"}))
    inside = cropped[4:-4, 4:-4]
    # One film pixel per image pixel: the 100-pixel square is 100 pixels, no corner visible.
    assert (inside == 200).sum(axis=1).max() == 100
    assert not (cropped == 100).any()
    decimated = picture(film(big, {"decimate_crop": "DECIMATE"}))
    assert (decimated == 100).any()  # the whole image, corner included, shrunk
    assert (decimated == 200).sum(axis=1).max() < 50


def test_trim_frames_the_image() -> None:
    framed = picture(film(np.full((50, 50), 255, np.uint8), trim=True, border_density="BLACK"))
    assert (framed == 128).sum() > 100
    assert not (picture(film(np.full((50, 50), 255, np.uint8))) == 128).any()


def test_renderer_writes_png_pdf_and_json(tmp_path: Path) -> None:
    renderer = FilmRenderer(tmp_path / "out", PrinterSettings(dpi=20, pdf=True))
    written = renderer.write(film(np.full((8, 8), 90, np.uint8)))
    assert written.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written.pdf is not None and written.pdf.read_bytes()[:5] == b"%PDF-"
    assert '"film_size": "8INX10IN"' in written.info.read_text()
    again = renderer.write(film(None))
    assert again.png != written.png and len(renderer.films) == 2


def test_twelve_bit_and_monochrome1_images() -> None:
    twelve = np.tile(np.array([0, 1365, 2730, 4095], np.uint16), (4, 1))
    printed = picture(film(twelve))
    row = printed[100]
    assert sorted(set(row[20:140].tolist())) == [0, 85, 170, 255]
    item = image_sequence_item(np.tile(np.array([0, 255], np.uint8), (2, 1)))
    item.PhotometricInterpretation = "MONOCHROME1"  # high values dark
    printed_film = film(None)
    printed_film.film.image_boxes[0].image = item
    inverted = picture(printed_film)
    assert inverted[100, 40] == 255 and inverted[100, 120] == 0


def test_smoothing_type_softens_or_sharpens_cubic_magnification() -> None:
    edge = np.zeros((16, 16), np.uint8)
    edge[:, 8:] = 200  # one sharp vertical edge
    plain = picture(film(edge, magnification="CUBIC")).astype(int)
    soft = picture(film(edge, magnification="CUBIC", smoothing="SOFT")).astype(int)
    sharp = picture(film(edge, magnification="CUBIC", smoothing="SHARP")).astype(int)
    row = 100

    def steepest(values: np.ndarray[Any, Any]) -> int:
        return int(np.abs(np.diff(values[row, 10:150])).max())

    assert steepest(soft) < steepest(plain) <= steepest(sharp)
    # Only CUBIC is smoothed (PS3.3 C.13.3): BILINEAR ignores Smoothing Type.
    bilinear = picture(film(edge, magnification="BILINEAR"))
    assert np.array_equal(bilinear, picture(film(edge, magnification="BILINEAR", smoothing="SOFT")))


@pytest.mark.parametrize(
    ("resolution", "high_dpi", "size"),
    [
        (None, None, (160, 200)),  # 8 x 10 inches at 20 dpi
        ("STANDARD", None, (160, 200)),
        ("HIGH", None, (320, 400)),  # HIGH is twice STANDARD unless configured
        ("HIGH", 50.0, (400, 500)),
        ("STANDARD", 50.0, (160, 200)),
    ],
)
def test_rendered_size_follows_the_resolution(
    resolution: str | None, high_dpi: float | None, size: tuple[int, int]
) -> None:
    settings = PrinterSettings(dpi=20, high_dpi=high_dpi)
    changes = {} if resolution is None else {"resolution": resolution}
    printed = film(np.full((8, 8), 90, np.uint8), **changes)
    assert render_film(printed, settings).size == size
