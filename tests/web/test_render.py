"""Rendering pixel data to PNG/JPEG: VOI, rescale, MONOCHROME1, colour, frames, codecs."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.web import render
from dicomnet.web.render import RenderError, Viewport, Window

EXPLICIT = "1.2.840.10008.1.2.1"


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _mono(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    signed: bool = False,
    **attributes: object,
) -> Dataset:
    """A grayscale data set holding ``pixels`` (frames, rows, columns) or (rows, columns)."""
    ds = make_image(rows=2, columns=2)
    frames = pixels if pixels.ndim == 3 else pixels[None]
    bits = 8 if pixels.dtype.itemsize == 1 else 16
    ds.Rows, ds.Columns = frames.shape[1], frames.shape[2]
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PhotometricInterpretation = photometric
    if frames.shape[0] > 1:
        ds.NumberOfFrames = frames.shape[0]
    dtype = {(8, False): "<u1", (8, True): "<i1", (16, False): "<u2", (16, True): "<i2"}
    ds.PixelData = frames.astype(dtype[(bits, signed)]).tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    for name, value in attributes.items():
        setattr(ds, name, value)
    return ds


def _file(tmp_path: Path, ds: Dataset, name: str = "x.dcm", syntax: str = EXPLICIT) -> Path:
    return write_part10(tmp_path / name, ds, syntax)


# ------------------------------------------------------------------ window functions

windows = st.builds(
    Window,
    center=st.floats(-5000, 5000),
    width=st.floats(1, 10000),
    function=st.sampled_from(["linear", "linear-exact", "sigmoid"]),
)
values = st.lists(st.floats(-40000, 40000), min_size=1, max_size=50)


@given(windows, values)
def test_window_is_monotonic_and_eight_bit(window: Window, xs: list[float]) -> None:
    x = np.sort(np.array(xs))
    y = render.window_lut(x, window)
    assert y.dtype == np.uint8
    assert np.all(np.diff(y.astype(int)) >= 0)


@given(windows.filter(lambda w: w.function != "sigmoid"))
def test_window_saturates_outside_its_range(window: Window) -> None:
    c, w = window.center, window.width
    below, above = c - w / 2 - 1, c + w / 2 + 1
    assert render.window_lut(np.array([below]), window)[0] == 0
    assert render.window_lut(np.array([above]), window)[0] == 255


def test_linear_window_follows_the_standard_formula() -> None:
    # PS3.3 C.11.2.1.2.1 with c=2048, w=4096: x <= 0 -> 0, x > 4095 -> 255, mid -> ~128
    window = Window(2048, 4096)
    out = render.window_lut(np.array([0, 1, 2047.5, 4095, 4096]), window)
    assert out[0] == 0 and out[-1] == 255 and out[-2] == 255
    assert out[2] == 128
    assert render.window_lut(np.array([99.4, 99.6]), Window(100, 1)).tolist() == [0, 255]


def test_bad_windows_and_viewports_are_refused() -> None:
    with pytest.raises(ValueError):
        Window(0, 0.5)
    with pytest.raises(ValueError):
        Window(0, 0, "sigmoid")
    with pytest.raises(ValueError):
        Window(float("nan"), 10)
    with pytest.raises(ValueError):
        Viewport(0, 10)
    with pytest.raises(ValueError):
        Viewport(10, render.MAX_VIEWPORT + 1)
    with pytest.raises(ValueError):
        Viewport(10, 10, (-1, 0, 5, 5))


# ------------------------------------------------------------------ grayscale pipeline

images = st.integers(1, 12).flatmap(
    lambda rows: st.integers(1, 12).flatmap(
        lambda cols: st.lists(st.integers(0, 4095), min_size=rows * cols, max_size=rows * cols).map(
            lambda v: np.array(v, dtype=np.uint16).reshape(rows, cols)
        )
    )
)

_HC = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=25, suppress_health_check=_HC, deadline=None)
@given(pixels=images, window=windows)
def test_png_has_the_image_size_and_the_windowed_values(
    tmp_path: Path, pixels: np.ndarray, window: Window
) -> None:
    path = _file(tmp_path, _mono(pixels))
    got = _decode(render.render_frame(path, 0, window=window))
    assert got.shape == pixels.shape
    assert np.array_equal(got, render.window_lut(pixels, window))


@settings(max_examples=20, suppress_health_check=_HC, deadline=None)
@given(pixels=images, window=windows)
def test_monochrome1_is_the_inverse_of_monochrome2(
    tmp_path: Path, pixels: np.ndarray, window: Window
) -> None:
    two = _decode(render.render_frame(_file(tmp_path, _mono(pixels), "a.dcm"), 0, window=window))
    one_ds = _mono(pixels, photometric="MONOCHROME1")
    one = _decode(render.render_frame(_file(tmp_path, one_ds, "b.dcm"), 0, window=window))
    assert np.array_equal(one.astype(int), 255 - two.astype(int))


@settings(max_examples=20, suppress_health_check=_HC, deadline=None)
@given(
    pixels=images,
    slope=st.sampled_from([1, 2, 0.5, 3]),
    intercept=st.integers(-1024, 1024),
    window=windows,
)
def test_the_window_applies_to_rescaled_values(
    tmp_path: Path, pixels: np.ndarray, slope: float, intercept: int, window: Window
) -> None:
    ds = _mono(pixels, RescaleSlope=slope, RescaleIntercept=intercept)
    got = _decode(render.render_frame(_file(tmp_path, ds), 0, window=window))
    assert np.array_equal(got, render.window_lut(pixels * float(slope) + intercept, window))


def test_the_data_sets_window_is_used_unless_the_request_gives_one(tmp_path: Path) -> None:
    pixels = np.arange(0, 1000, 10, dtype=np.uint16).reshape(10, 10)
    ds = _mono(pixels, WindowCenter=[300, 700], WindowWidth=[200, 100])
    path = _file(tmp_path, ds)
    from_data = _decode(render.render_frame(path, 0))
    assert np.array_equal(from_data, render.window_lut(pixels, Window(300, 200)))
    asked = _decode(render.render_frame(path, 0, window=Window(700, 100)))
    assert np.array_equal(asked, render.window_lut(pixels, Window(700, 100)))
    assert not np.array_equal(from_data, asked)


def test_voi_lut_function_sigmoid_from_the_data_set(tmp_path: Path) -> None:
    pixels = np.arange(0, 100, dtype=np.uint16).reshape(10, 10)
    ds = _mono(pixels, WindowCenter=50, WindowWidth=40, VOILUTFunction="SIGMOID")
    got = _decode(render.render_frame(_file(tmp_path, ds), 0))
    assert np.array_equal(got, render.window_lut(pixels, Window(50, 40, "sigmoid")))


def test_without_a_window_the_frame_spans_black_to_white(tmp_path: Path) -> None:
    pixels = np.array([[100, 150], [200, 300]], dtype=np.uint16)
    got = _decode(render.render_frame(_file(tmp_path, _mono(pixels)), 0))
    assert got.min() == 0 and got.max() == 255
    flat = _decode(render.render_frame(_file(tmp_path, _mono(pixels * 0 + 7), "f.dcm"), 0))
    assert flat.shape == (2, 2)


def test_signed_pixels(tmp_path: Path) -> None:
    pixels = np.array([[-1000, -500], [0, 1000]], dtype=np.int16)
    ds = _mono(pixels, signed=True, WindowCenter=0, WindowWidth=2000)
    got = _decode(render.render_frame(_file(tmp_path, ds), 0))
    assert got[0, 0] == 0 and got[1, 1] == 255 and 120 <= got[1, 0] <= 136


def test_bits_above_bits_stored_are_ignored_and_signed_values_extended(tmp_path: Path) -> None:
    ds = _mono(np.array([[0xF000 | 100, 200], [0xF000 | 4000, 4095]], dtype=np.uint16))
    ds.BitsStored, ds.HighBit = 12, 11
    window = Window(2048, 4096, "linear-exact")
    got = _decode(render.render_frame(_file(tmp_path, ds), 0, window=window))
    assert np.array_equal(got, render.window_lut(np.array([[100, 200], [4000, 4095]]), window))
    ds.PixelRepresentation = 1  # 12-bit two's complement: 0x0FFF is -1, 0x0800 is -2048
    ds.PixelData = np.array([[0x0FFF, 0x0800], [0x07FF, 1]], dtype="<u2").tobytes()
    got = _decode(render.render_frame(_file(tmp_path, ds, "s.dcm"), 0, window=Window(0, 4096)))
    assert np.array_equal(
        got, render.window_lut(np.array([[-1, -2048], [2047, 1]]), Window(0, 4096))
    )


def test_voi_lut_sequence_is_applied(tmp_path: Path) -> None:
    pixels = np.array([[0, 1], [2, 3]], dtype=np.uint16)
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    # a made-up, non-monotonic table
    item.LUTData = np.array([65535, 0, 32768, 16384], dtype="<u2").tobytes()
    item["LUTData"].VR = "OW"
    ds = _mono(pixels)
    ds.VOILUTSequence = [item]
    got = _decode(render.render_frame(_file(tmp_path, ds), 0))
    assert got.tolist() == [[255, 0], [128, 64]]


# ------------------------------------------------------------------ frames


def test_each_frame_of_a_multi_frame_image(tmp_path: Path) -> None:
    frames = np.stack([np.full((4, 5), v, dtype=np.uint16) for v in (0, 500, 1000)])
    frames[:, 0, 0] = 0  # each frame has a black and a white pixel under a fixed window
    path = _file(tmp_path, _mono(frames, WindowCenter=500, WindowWidth=1000))
    shown = [_decode(render.render_frame(path, i)) for i in range(3)]
    assert [int(s[2, 2]) for s in shown] == [0, 128, 255]
    with pytest.raises(RenderError, match="no frame 4"):
        render.render_frame(path, 3)
    with pytest.raises(RenderError):
        render.render_frame(path, -1)


def test_an_instance_without_pixel_data_is_not_rendered(tmp_path: Path) -> None:
    ds = make_image(rows=2, columns=2)
    del ds.PixelData
    with pytest.raises(RenderError):
        render.render_frame(_file(tmp_path, ds), 0)
    with pytest.raises(RenderError):
        render.thumbnail(_file(tmp_path, ds, "t.dcm"))


# ------------------------------------------------------------------ colour


@settings(max_examples=15, suppress_health_check=_HC, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda r: st.integers(1, 8).flatmap(
            lambda c: st.lists(st.integers(0, 255), min_size=r * c * 3, max_size=r * c * 3).map(
                lambda v: np.array(v, dtype=np.uint8).reshape(r, c, 3)
            )
        )
    )
)
def test_rgb_stays_colour_exactly(tmp_path: Path, rgb: np.ndarray) -> None:
    ds = make_image(rows=rgb.shape[0], columns=rgb.shape[1], bits=8)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.PixelData = rgb.tobytes()
    got = _decode(render.render_frame(_file(tmp_path, ds), 0, window=Window(10, 5)))
    assert np.array_equal(got, rgb)


def test_palette_colour_goes_through_its_tables() -> None:
    path = get_testdata_file("examples_palette.dcm")
    assert path is not None
    ds = dcmread(path)
    got = _decode(render.render_frame(path, 0))
    assert got.ndim == 3 and got.shape[2] == 3
    from pydicom.pixels import apply_color_lut

    expected = apply_color_lut(ds.pixel_array, ds)
    expected8 = np.rint(expected.astype(float) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(got, expected8)
    assert len({tuple(p) for p in got.reshape(-1, 3)[::97]}) > 3  # really colourful


def test_ybr_jpeg_is_decoded_to_rgb() -> None:
    path = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    reference = get_testdata_file("SC_rgb_rle.dcm")
    assert path is not None and reference is not None
    got = _decode(render.render_frame(path, 0)).astype(int)
    want = _decode(render.render_frame(reference, 0)).astype(int)
    assert got.shape == want.shape and got.shape[2] == 3
    assert np.abs(got - want).mean() < 8  # lossy, but the same colours


# ------------------------------------------------------------------ compressed syntaxes


def test_lossless_codecs_render_like_the_uncompressed_original() -> None:
    plain = get_testdata_file("MR_small.dcm")
    assert plain is not None
    want = _decode(render.render_frame(plain, 0))
    for name in ("MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"):
        path = get_testdata_file(name)
        assert path is not None
        assert np.array_equal(_decode(render.render_frame(path, 0)), want), name


def test_jpeg_baseline_frames_of_our_own(tmp_path: Path) -> None:
    """A two-frame JPEG baseline image: each frame decodes to its own picture."""
    frames = [np.full((16, 16), v, dtype=np.uint8) for v in (40, 200)]
    fragments = []
    for frame in frames:
        out = io.BytesIO()
        Image.fromarray(frame, "L").save(out, format="JPEG", quality=95)
        fragments.append(out.getvalue())
    ds = _mono(np.stack(frames))
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    path = write_part10(tmp_path / "j.dcm", ds, JPEGBaseline8Bit)
    shown = [
        _decode(render.render_frame(path, i, window=Window(127.5, 256, "linear-exact")))
        for i in (0, 1)
    ]
    assert abs(int(shown[0].mean()) - 40) <= 3 and abs(int(shown[1].mean()) - 200) <= 3


def test_rle_we_compress_ourselves(tmp_path: Path) -> None:
    pixels = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 50).astype(np.uint16)
    ds = _mono(pixels)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.compress(RLELossless, encoding_plugin="pydicom")
    path = write_part10(tmp_path / "r.dcm", ds, RLELossless)
    plain = _file(tmp_path, _mono(pixels), "p.dcm")
    assert np.array_equal(
        _decode(render.render_frame(path, 0)), _decode(render.render_frame(plain, 0))
    )


# ------------------------------------------------------------------ viewport, JPEG, thumbnail


def test_viewport_fits_keeping_the_aspect_ratio(tmp_path: Path) -> None:
    path = _file(tmp_path, _mono(np.zeros((20, 40), dtype=np.uint16)))
    assert _decode(render.render_frame(path, 0, viewport=Viewport(100, 100))).shape == (50, 100)
    assert _decode(render.render_frame(path, 0, viewport=Viewport(10, 100))).shape == (5, 10)


def test_source_region_and_flip(tmp_path: Path) -> None:
    pixels = np.arange(0, 40, dtype=np.uint16).reshape(4, 10) * 100
    path = _file(tmp_path, _mono(pixels))
    window = Window(2000, 4000, "linear-exact")
    whole = _decode(render.render_frame(path, 0, window=window))
    part = _decode(
        render.render_frame(path, 0, window=window, viewport=Viewport(3, 2, (2, 1, 3, 2)))
    )
    assert np.array_equal(part, whole[1:3, 2:5])
    flipped = _decode(
        render.render_frame(path, 0, window=window, viewport=Viewport(3, 2, (2, 1, -3, 2)))
    )
    assert np.array_equal(flipped, whole[1:3, 2:5][:, ::-1])
    with pytest.raises(RenderError):
        render.render_frame(path, 0, viewport=Viewport(3, 2, (50, 1, 3, 2)))


def test_jpeg_is_baseline_and_quality_changes_its_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = _file(tmp_path, _mono(rng.integers(0, 4096, (64, 64)).astype(np.uint16)))
    low = render.render_frame(path, 0, media_type="image/jpeg", quality=10)
    high = render.render_frame(path, 0, media_type="image/jpeg", quality=95)
    assert low[:2] == b"\xff\xd8" and len(low) < len(high)
    image = Image.open(io.BytesIO(high))
    assert image.format == "JPEG" and not image.info.get("progressive")
    assert render.render_frame(path, 0)[:8] == b"\x89PNG\r\n\x1a\n"


@settings(max_examples=15, suppress_health_check=_HC, deadline=None)
@given(rows=st.integers(1, 600), cols=st.integers(1, 600), size=st.integers(16, 256))
def test_thumbnails_are_bounded(tmp_path: Path, rows: int, cols: int, size: int) -> None:
    path = _file(tmp_path, _mono(np.zeros((rows, cols), dtype=np.uint8)))
    image = Image.open(io.BytesIO(render.thumbnail(path, size=size)))
    assert image.width <= size and image.height <= size
    assert max(image.width, image.height) == min(size, max(rows, cols))


def test_thumbnail_of_a_multi_frame_image_is_its_middle_frame(tmp_path: Path) -> None:
    frames = np.stack([np.full((8, 8), v, dtype=np.uint16) for v in (0, 0, 900, 0, 0)])
    frames[:, 0, 0] = 1000
    path = _file(tmp_path, _mono(frames, WindowCenter=500, WindowWidth=1000))
    thumb = _decode(render.thumbnail(path, media_type="image/png"))
    assert thumb[4, 4] > 200


_SOURCES = [
    "MR_small_jpeg_ls_lossless.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_RLE.dcm",
    "CT_small.dcm",
]


@settings(max_examples=60, suppress_health_check=_HC, deadline=None)
@given(source=st.sampled_from(_SOURCES), fraction=st.floats(0, 1), junk=st.binary(max_size=64))
def test_a_damaged_file_is_a_render_error_never_another_exception(
    tmp_path: Path, source: str, fraction: float, junk: bytes
) -> None:
    """Cut short, or with junk in the middle: rendered or refused, and nothing else."""
    path = get_testdata_file(source)
    assert path is not None
    data = Path(path).read_bytes()
    cut = int(len(data) * fraction)
    damaged = tmp_path / "damaged.dcm"
    damaged.write_bytes(data[:cut] + junk + (data[cut + len(junk) :] if junk else b""))
    for attempt in (lambda: render.render_frame(damaged, 0), lambda: render.thumbnail(damaged)):
        with contextlib.suppress(RenderError):
            attempt()


def test_a_file_cut_inside_its_meta_header_is_a_render_error(tmp_path: Path) -> None:
    """pydicom raised struct.error for this cut; the route answered 500 before."""
    for source in ("SC_rgb_jpeg_dcmtk.dcm", "MR_small_RLE.dcm"):
        path = get_testdata_file(source)
        assert path is not None
        cut = tmp_path / "cut.dcm"
        cut.write_bytes(Path(path).read_bytes()[:154])
        with pytest.raises(RenderError):
            render.render_frame(cut, 0)
