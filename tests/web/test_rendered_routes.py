"""WADO-RS rendered and thumbnail resources over an indexed archive (through the app)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.uid import generate_uid

from dicomnet.archive import entry_from_file
from dicomnet.storage.synthetic import write_part10
from dicomnet.web.render import Window, window_lut

from .samples import ROOT, Site, phantom, serve_samples


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with serve_samples(tmp_path) as served:
        yield served


def _image(response: httpx.Response) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(response.content)))


def _parts(response: httpx.Response) -> list[tuple[str, bytes]]:
    """(content type, body) of each part of a multipart/related answer."""
    content_type = response.headers["content-type"]
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"')
    parts = []
    for chunk in response.content.split(f"--{boundary}".encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk.partition(b"\r\n\r\n")
        kind = head.decode().split("Content-Type:")[1].strip()
        parts.append((kind, body[:-2]))
    return parts


async def test_instance_rendered_uses_the_data_sets_window(site: Site) -> None:
    s = site.samples
    url = site.instance(s.ct_series, s.ct_instances[0]) + "/rendered"
    response = await site.client.get(url, headers={"Accept": "image/png"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    expected = window_lut(phantom(256, 1).astype(float) - 1024, Window(40, 400))
    assert np.array_equal(_image(response), expected)


async def test_window_and_viewport_from_the_request(site: Site) -> None:
    s = site.samples
    url = site.instance(s.ct_series, s.ct_instances[0]) + "/rendered"
    params = {"window": "300,1500,linear", "accept": "image/png"}
    wide = await site.client.get(url, params=params)
    assert wide.status_code == 200
    expected = window_lut(phantom(256, 1).astype(float) - 1024, Window(300, 1500))
    assert np.array_equal(_image(wide), expected)
    small = await site.client.get(url, params={**params, "viewport": "64,32"})
    assert _image(small).shape == (32, 32)


async def test_jpeg_is_the_default_and_quality_is_honoured(site: Site) -> None:
    s = site.samples
    url = site.instance(s.ct_series, s.ct_instances[0]) + "/rendered"
    default = await site.client.get(url, headers={"Accept": "*/*"})
    assert default.headers["content-type"] == "image/jpeg"
    assert default.content[:2] == b"\xff\xd8"
    low = await site.client.get(url, params={"quality": "5"})
    assert len(low.content) < len(default.content)


async def test_frames_rendered_one_and_several(site: Site) -> None:
    s = site.samples
    base = site.instance(s.cine_series, s.cine_instance)
    one = await site.client.get(base + "/frames/4/rendered", headers={"Accept": "image/png"})
    assert one.status_code == 200
    # frame 4: the disc is centred at x = 20 + 24 * 3 = 92
    row = _image(one)[64]
    assert row[92] == 255 and row[20] < 255
    several = await site.client.get(
        base + "/frames/1,6/rendered",
        headers={"Accept": 'multipart/related; type="image/png"'},
    )
    assert several.status_code == 200
    assert several.headers["content-type"].startswith('multipart/related; type="image/png"')
    parts = _parts(several)
    assert [kind for kind, _ in parts] == ["image/png", "image/png"]
    first = np.asarray(Image.open(io.BytesIO(parts[0][1])))[64]
    last = np.asarray(Image.open(io.BytesIO(parts[1][1])))[64]
    assert first[20] == 255 and last[140] == 255 and first[140] < 255
    refused = await site.client.get(base + "/frames/1,2/rendered", headers={"Accept": "image/png"})
    assert refused.status_code == 406


async def test_series_as_multipart_has_every_frame(site: Site) -> None:
    s = site.samples
    url = f"{ROOT}/studies/{s.ct_study}/series/{s.cine_series}/rendered"
    response = await site.client.get(
        url, headers={"Accept": 'multipart/related; type="image/jpeg"'}
    )
    assert response.status_code == 200
    assert [kind for kind, _ in _parts(response)] == ["image/jpeg"] * 6


async def test_study_rendered_skips_what_has_no_picture(site: Site) -> None:
    s = site.samples
    url = f"{ROOT}/studies/{s.ct_study}/rendered"
    response = await site.client.get(url, headers={"Accept": 'multipart/related; type="image/png"'})
    assert response.status_code == 200
    # 3 CT images + 6 cine frames + 1 colour image; the report is left out
    assert len(_parts(response)) == 10
    single = await site.client.get(url, headers={"Accept": "image/png"})
    assert single.status_code == 200 and _image(single).shape == (256, 256)


async def test_colour_stays_colour(site: Site) -> None:
    s = site.samples
    url = site.instance(s.color_series, s.color_instance) + "/rendered"
    response = await site.client.get(url, params={"accept": "image/png", "window": "0,10"})
    pixels = _image(response)
    assert pixels.shape == (96, 192, 3)
    assert tuple(pixels[50, 30]) == (255, 255, 0) and tuple(pixels[50, 130]) == (255, 0, 0)


async def test_errors(site: Site) -> None:
    s = site.samples
    client = site.client
    ct = site.instance(s.ct_series, s.ct_instances[0])
    unknown = site.instance(s.ct_series, "1.2.3.4.5")
    assert (await client.get(unknown + "/rendered")).status_code == 404
    assert (await client.get(f"{ROOT}/studies/1.2.3/rendered")).status_code == 404
    wrong_study = site.instance(s.ct_series, s.ct_instances[0], study=s.mr_study)
    assert (await client.get(wrong_study + "/rendered")).status_code == 404
    assert (await client.get(f"{ROOT}/studies/not..a-uid/rendered")).status_code == 404
    dicom = await client.get(ct + "/rendered", headers={"Accept": "application/dicom"})
    assert dicom.status_code == 406
    for params in ({"window": "1"}, {"viewport": "0,0"}, {"quality": "900"}):
        assert (await client.get(ct + "/rendered", params=params)).status_code == 400, params
    assert (await client.get(ct + "/frames/2/rendered")).status_code == 400
    assert (await client.get(ct + "/frames/0/rendered")).status_code == 400
    assert (await client.get(ct + "/frames/x/rendered")).status_code == 400
    report = site.instance(s.sr_series, s.sr_instance)
    refused = await client.get(report + "/rendered")
    assert refused.status_code == 406
    assert str(s.files[0].parent) not in refused.text  # no file of the store is named
    assert (await client.get(report + "/thumbnail")).status_code == 406


async def test_thumbnails_are_small_and_for_every_level(site: Site) -> None:
    s = site.samples
    urls = [
        f"{ROOT}/studies/{s.ct_study}/thumbnail",
        f"{ROOT}/studies/{s.ct_study}/series/{s.cine_series}/thumbnail",
        site.instance(s.ct_series, s.ct_instances[2]) + "/thumbnail",
        site.instance(s.cine_series, s.cine_instance) + "/frames/2/thumbnail",
    ]
    for url in urls:
        response = await site.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(response.content))
        assert max(image.size) <= 128, url
    png = await site.client.get(
        urls[1], params={"viewport": "64,64"}, headers={"Accept": "image/png"}
    )
    assert png.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(png.content)).size) == 64
    # the cine thumbnail is its middle frame (frame 4 of 6): disc at x = 92 of 160
    row = np.asarray(Image.open(io.BytesIO(png.content)).convert("L"))[26]
    bright = np.flatnonzero(row > 200)
    assert 34 <= bright.mean() <= 40  # 92 * 64 / 160 = 36.8
    too_big = await site.client.get(urls[0], params={"viewport": "2000,2000"})
    assert too_big.status_code == 400


async def test_a_study_whose_first_series_has_no_picture(site: Site, tmp_path: Path) -> None:
    """Study pictures skip instances without pixel data (a report in series 0)."""
    s = site.samples
    report = dcmread(s.files[[f.name for f in s.files].index("report.dcm")])
    report.SOPInstanceUID = generate_uid()
    report.SeriesInstanceUID = generate_uid()
    report.SeriesNumber = 0
    path = write_part10(tmp_path / "first-report.dcm", report, "1.2.840.10008.1.2.1")
    await site.index.put(entry_from_file(path))
    for kind in ("thumbnail", "rendered"):
        response = await site.client.get(f"{ROOT}/studies/{s.ct_study}/{kind}")
        assert response.status_code == 200, kind
        assert response.headers["content-type"] == "image/jpeg"
    only_report = f"{ROOT}/studies/{s.ct_study}/series/{report.SeriesInstanceUID}/rendered"
    assert (await site.client.get(only_report)).status_code == 406
