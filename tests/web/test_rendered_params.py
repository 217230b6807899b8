"""Query parameters of the rendered resources: window, viewport, quality, accept, frames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomnet.web.render import Viewport, Window
from dicomnet.web.rendered_params import (
    MAX_FRAMES_LISTED,
    ParamError,
    parse_frame_list,
    parse_render_params,
    pick_media_type,
)


def test_window_viewport_and_quality() -> None:
    got = parse_render_params(
        {"window": ["40,400"], "viewport": ["256,128,10,20,-100,50"], "quality": ["70"]}
    )
    assert got.window == Window(40, 400, "linear")
    assert got.viewport == Viewport(256, 128, (10, 20, -100, 50))
    assert got.quality == 70
    assert parse_render_params({"window": ["-600,1500,SIGMOID"]}).window == Window(
        -600, 1500, "sigmoid"
    )
    assert parse_render_params({}).window is None


@pytest.mark.parametrize(
    "params",
    [
        {"window": ["40"]},
        {"window": ["40,400,cubic"]},
        {"window": ["a,b"]},
        {"window": ["40,0"]},
        {"window": ["nan,400"]},
        {"window": ["1,2", "3,4"]},
        {"viewport": ["256"]},
        {"viewport": ["256,x"]},
        {"viewport": ["0,10"]},
        {"viewport": ["99999,10"]},
        {"viewport": ["10,10,1,1,0,5"]},
        {"quality": ["0"]},
        {"quality": ["101"]},
        {"quality": ["high"]},
    ],
)
def test_bad_parameters_are_refused(params: dict[str, list[str]]) -> None:
    with pytest.raises(ParamError):
        parse_render_params(params)


def test_unsupported_and_unknown_parameters_are_ignored() -> None:
    got = parse_render_params({"annotation": ["patient"], "iccprofile": ["srgb"], "x": ["1"]})
    assert got.window is None and got.viewport is None


def test_a_thumbnail_takes_only_a_plain_viewport() -> None:
    assert parse_render_params({"viewport": ["64,64"]}, thumbnail=True).viewport == Viewport(64, 64)
    with pytest.raises(ParamError):
        parse_render_params({"viewport": ["64,64,0,0,10,10"]}, thumbnail=True)
    # window and quality do not apply to a thumbnail and are not even read
    assert parse_render_params({"window": ["junk"]}, thumbnail=True).window is None


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=50))
def test_frame_lists(numbers: list[int]) -> None:
    assert parse_frame_list(",".join(map(str, numbers))) == numbers


@pytest.mark.parametrize("text", ["", "0", "1,,2", "-1", "1.5", "a", "1, 2"])
def test_bad_frame_lists(text: str) -> None:
    with pytest.raises(ParamError):
        parse_frame_list(text)
    with pytest.raises(ParamError):
        parse_frame_list(",".join(["1"] * (MAX_FRAMES_LISTED + 1)))


def test_media_type_from_the_accept_parameter_or_header() -> None:
    pick = pick_media_type
    assert pick([], [], default="image/jpeg") == "image/jpeg"
    assert pick([], ["image/png"], default="image/jpeg") == "image/png"
    assert pick([], ["image/*"], default="image/jpeg") == "image/jpeg"
    assert pick(["image/png"], ["image/jpeg"], default="image/jpeg") == "image/png"
    assert pick([], ["image/jpeg;q=0.5, image/png"], default="image/jpeg") == "image/png"
    assert pick([], ["application/dicom"], default="image/jpeg") is None
    assert pick([], ["image/png;q=0"], default="image/jpeg") is None
    browser = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    assert pick([], [browser], default="image/jpeg") == "image/jpeg"
