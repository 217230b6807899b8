"""dicomnet Print SCU → dicomnet Print SCP: the films it renders, checked pixel by pixel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from helpers.printer import PRINTER_TITLE, RunningPrinter, flux_policy, running_printer

from dicomnet.ae import AE
from dicomnet.services.print_scu import PrintSession

SIDE = 64


def patterns() -> list[np.ndarray[Any, Any]]:
    """Four images told apart at a glance, each showing which way is up and left."""
    ramp = np.linspace(16, 240, SIDE).round().astype(np.uint8)
    across = np.tile(ramp, (SIDE, 1))  # dark left, bright right
    down = across.T.copy()  # dark top, bright bottom
    flat = np.full((SIDE, SIDE), 200, np.uint8)
    flat[: SIDE // 4, : SIDE // 4] = 30  # a dark square top left
    stripes = ((np.indices((SIDE, SIDE)).sum(axis=0) // 8) % 2 * 180 + 40).astype(np.uint8)
    return [across, down, flat, stripes]


async def print_film(
    printer: RunningPrinter,
    images: list[np.ndarray[Any, Any]],
    display_format: str,
    *,
    color: bool = False,
    orientation: str = "PORTRAIT",
    image_attrs: dict[str, Any] | None = None,
    **film_attrs: Any,
) -> Path:
    policy = flux_policy()
    ae = AE(policy.ae_title, policy)
    async with (
        ae.associate("127.0.0.1", printer.port, called_ae=PRINTER_TITLE) as assoc,
        PrintSession(assoc, color=color, NumberOfCopies=2, MediumType="PAPER") as session,
    ):
        film = await session.new_film_box(
            display_format, orientation=orientation, film_size="14INX17IN", **film_attrs
        )
        for index, image in enumerate(images):
            await film.set_image(index, image, **(image_attrs or {}))
        await film.print()
    return printer.films()[-1]


def region(picture: np.ndarray[Any, Any], cx: int, cy: int, half: int) -> np.ndarray[Any, Any]:
    return picture[cy - half : cy + half, cx - half : cx + half].astype(np.int32)


async def test_two_by_two_film_has_each_pattern_in_its_quadrant(tmp_path: Path) -> None:
    async with running_printer(tmp_path, dpi=50) as printer:
        png = await print_film(printer, patterns(), "STANDARD\\2,2", MagnificationType="REPLICATE")
        picture = printer.picture()
    # 14 x 17 inches at 50 dpi, portrait: 700 columns, 850 rows, one gray channel.
    assert picture.shape == (850, 700)
    quarter_x, quarter_y = 700 // 4, 850 // 4
    centers = [(quarter_x, quarter_y), (3 * quarter_x, quarter_y)]
    centers += [(quarter_x, 3 * quarter_y), (3 * quarter_x, 3 * quarter_y)]
    across, down, flat, stripes = (region(picture, x, y, 100) for x, y in centers)
    # Top left: brightness grows left to right and not top to bottom.
    assert across[:, -10:].mean() - across[:, :10].mean() > 100
    assert abs(across[:10].mean() - across[-10:].mean()) < 5
    assert np.all(np.diff(across[100]) >= 0)
    # Top right: grows top to bottom.
    assert down[-10:].mean() - down[:10].mean() > 100
    assert abs(down[:, :10].mean() - down[:, -10:].mean()) < 5
    # Bottom left: flat 200 with its dark square in the top left corner of the image.
    assert abs(float(np.median(flat)) - 200) <= 2
    image_rows = np.nonzero((picture[quarter_y * 2 :, : 700 // 2] == 30).any(axis=1))[0]
    image_cols = np.nonzero((picture[quarter_y * 2 :, : 700 // 2] == 30).any(axis=0))[0]
    assert image_rows.size and image_cols.size
    # The dark square's 16 image pixels are about 5 film pixels each (64 pixels in ~330).
    assert 70 <= image_cols.size <= 90 and 70 <= image_rows.size <= 90
    assert image_cols.max() < 700 // 4 and image_rows.max() < 850 // 4 + 850 // 8
    # Bottom right: the diagonal stripes have both of their values and nothing else.
    assert set(np.unique(stripes)) == {40, 220}
    info = json.loads(png.with_suffix(".json").read_text())
    assert info["image_display_format"] == "STANDARD\\2,2"
    assert info["copies"] == 2 and info["medium"] == "PAPER"
    assert [b["position"] for b in info["image_boxes"]] == [1, 2, 3, 4]


async def test_values_print_as_sent_and_reverse_polarity_inverts(tmp_path: Path) -> None:
    image = patterns()[0]
    async with running_printer(tmp_path, dpi=50) as printer:
        await print_film(printer, [image], "STANDARD\\1,1", MagnificationType="REPLICATE")
        normal = printer.picture()
        await print_film(
            printer,
            [image],
            "STANDARD\\1,1",
            MagnificationType="REPLICATE",
            image_attrs={"Polarity": "REVERSE"},
        )
        reverse = printer.picture()
    row = normal.shape[0] // 2
    # The printer's density range is the default Min/Max Density: values print unchanged.
    assert set(np.unique(normal[row, 20:-20])) <= set(image[0].tolist()) | {0}
    inside = normal[row, 20:-20] > 0
    assert np.array_equal(reverse[row, 20:-20][inside], 255 - normal[row, 20:-20][inside])


async def test_landscape_film_is_wider_than_tall(tmp_path: Path) -> None:
    async with running_printer(tmp_path, dpi=40) as printer:
        await print_film(printer, patterns()[:2], "STANDARD\\2,1", orientation="LANDSCAPE")
        picture = printer.picture()
    assert picture.shape == (14 * 40, 17 * 40)
    left, right = picture[:, : 17 * 20], picture[:, 17 * 20 :]
    middle = 14 * 20
    # Left half: the horizontal ramp; right half: the vertical one.
    assert left[middle, 250] > left[middle, 90]
    assert right[middle + 120, 170] > right[middle - 120, 170]


async def test_color_film_keeps_rgb(tmp_path: Path) -> None:
    colors = [(200, 30, 40), (20, 180, 60), (30, 40, 210), (230, 220, 20)]
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    half = SIDE // 2
    for index, color in enumerate(colors):
        y, x = divmod(index, 2)
        image[y * half : (y + 1) * half, x * half : (x + 1) * half] = color
    async with running_printer(tmp_path, dpi=50) as printer:
        png = await print_film(printer, [image], "STANDARD\\1,1", color=True)
        picture = printer.picture()
    assert picture.shape == (850, 700, 3)
    # The image fills the box's width (about 680 pixels) and sits in the middle.
    cx, cy, step = 350, 425, 170
    for index, color in enumerate(colors):
        y, x = divmod(index, 2)
        sample = picture[cy + (2 * y - 1) * step // 2 * 1, cx + (2 * x - 1) * step // 2 * 1]
        assert np.all(np.abs(sample.astype(int) - color) <= 3), (index, sample, color)
    assert json.loads(png.with_suffix(".json").read_text())["color"] is True
