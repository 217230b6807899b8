"""Display formats, film geometry and how an image fits its box."""

from __future__ import annotations

import pytest

from dicomnet.print.fit import Fit, fit_image
from dicomnet.print.layout import LayoutError, film_geometry, parse_display_format


def test_display_formats_count_boxes_per_line() -> None:
    assert parse_display_format("STANDARD\\3,2").lines == (3, 3)
    assert parse_display_format("ROW\\1,3,2").lines == (1, 3, 2)
    col = parse_display_format("COL\\2,1")
    assert (col.by_column, col.box_count) == (True, 3)
    for bad in ("SLIDE", "SUPERSLIDE", "CUSTOM\\4", "STANDARD\\0,1", "ROW\\", "COL\\1,x"):
        with pytest.raises(LayoutError):
            parse_display_format(bad)


def test_standard_positions_run_left_to_right_then_down() -> None:
    geometry = film_geometry(parse_display_format("STANDARD\\2,2"), "8INX10IN", "PORTRAIT", 100)
    assert (geometry.width, geometry.height) == (800, 1000)
    one, two, three, four = geometry.boxes
    assert one.y == two.y < three.y == four.y
    assert one.x == three.x < two.x == four.x
    assert all(box.x >= 0 and box.x + box.width <= 800 for box in geometry.boxes)


def test_col_positions_run_top_to_bottom_then_right() -> None:
    geometry = film_geometry(parse_display_format("COL\\2,1"), "14INX17IN", "LANDSCAPE", 10)
    assert (geometry.width, geometry.height) == (170, 140)
    one, two, three = geometry.boxes
    assert one.x == two.x < three.x
    assert one.y < two.y
    assert three.height > two.height  # the second column has one tall box


def test_row_boxes_share_their_row() -> None:
    geometry = film_geometry(parse_display_format("ROW\\1,2"), "A4", "PORTRAIT", 50)
    top, left, right = geometry.boxes
    assert top.width > left.width and left.y == right.y > top.y


def test_unknown_film_size_and_orientation() -> None:
    display = parse_display_format("STANDARD\\1,1")
    with pytest.raises(LayoutError):
        film_geometry(display, "9INX9IN", "PORTRAIT", 100)
    with pytest.raises(LayoutError):
        film_geometry(display, "A4", "SIDEWAYS", 100)


def size(fit: Fit) -> tuple[int, int]:
    return fit.width, fit.height


def test_fit_magnifies_small_images_and_keeps_aspect() -> None:
    fit = fit_image(100, 50, 400, 400, magnification="BILINEAR")
    assert (fit.width, fit.height, fit.crop, fit.status) == (400, 200, None, None)
    assert size(fit_image(100, 50, 400, 400, magnification="NONE")) == (100, 50)
    fit = fit_image(100, 50, 400, 400, magnification="CUBIC", requested_width=200)
    assert size(fit) == (200, 100)
    # Pixel aspect ratio 2 (pixels twice as tall as wide): printed twice as tall.
    assert size(fit_image(100, 50, 400, 400, magnification="REPLICATE", aspect=2.0)) == (400, 400)


@pytest.mark.parametrize(
    ("behaviour", "status", "size", "crop"),
    [
        (None, 0xB604, (300, 150), None),
        ("DECIMATE", 0xB60A, (300, 150), None),
        ("CROP", 0xB609, (300, 200), (50, 0, 300, 200)),
        ("FAIL", 0xC603, (300, 150), None),
    ],
)
def test_fit_of_an_image_larger_than_its_box(
    behaviour: str | None, status: int, size: tuple[int, int], crop: object
) -> None:
    fit = fit_image(400, 200, 300, 300, magnification="NONE", behaviour=behaviour)
    assert (fit.width, fit.height) == size
    assert fit.crop == crop
    assert fit.status == status
    assert fit.refused is (status == 0xC603)
