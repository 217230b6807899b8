"""The study browser's own routes: the page, its files, display info, the ZIP download."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydicom import dcmread

from .samples import Site, serve_samples


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with serve_samples(tmp_path) as served:
        yield served


async def test_the_page_and_its_files(site: Site) -> None:
    page = await site.client.get("/browser/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-service-root="/dicomweb"' in page.text
    assert "{{" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("browser.js", "javascript"), ("browser.css", "text/css")):
        asset = await site.client.get(f"/browser/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
    redirect = await site.client.get("/browser", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/browser/"
    assert (await site.client.get("/browser/static/../browser.py")).status_code == 404
    assert (await site.client.get("/browser/static/%2e%2e/render.py")).status_code == 404


async def test_every_label_names_a_control(site: Site) -> None:
    import re

    html = (await site.client.get("/browser/")).text
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    for target in re.findall(r'<label for="([^"]+)"', html):
        assert target in ids, target
    for control in re.findall(r"<(?:input|select)\b[^>]*>", html):
        control_id = re.search(r'id="([^"]+)"', control)
        assert control_id is not None, control
        assert f'for="{control_id.group(1)}"' in html, control
    assert '<html lang="en">' in html


async def test_display_info(site: Site) -> None:
    s = site.samples
    ct = await site.client.get(f"/browser/display/{s.ct_study}/{s.ct_series}/{s.ct_instances[0]}")
    assert ct.json() == {
        "frames": 1,
        "rows": 256,
        "columns": 256,
        "color": False,
        "photometric": "MONOCHROME2",
        "center": 40.0,
        "width": 400.0,
        "function": "linear",
        "window_source": "data set",
    }
    mr = (
        await site.client.get(f"/browser/display/{s.mr_study}/{s.mr_series}/{s.mr_instances[0]}")
    ).json()
    assert mr["window_source"] == "pixel range" and mr["width"] > 100
    cine = await site.client.get(f"/browser/display/{s.ct_study}/{s.cine_series}/{s.cine_instance}")
    assert cine.json()["frames"] == 6
    colour = await site.client.get(
        f"/browser/display/{s.ct_study}/{s.color_series}/{s.color_instance}"
    )
    assert colour.json()["color"] is True and "center" not in colour.json()
    report = await site.client.get(f"/browser/display/{s.ct_study}/{s.sr_series}/{s.sr_instance}")
    assert report.status_code == 406
    missing = await site.client.get(f"/browser/display/{s.ct_study}/{s.ct_series}/1.2.3")
    assert missing.status_code == 404


async def test_study_download_is_a_zip_of_its_files(site: Site) -> None:
    s = site.samples
    response = await site.client.get(f"/browser/studies/{s.ct_study}/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="{s.ct_study}.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert len(names) == 6  # 3 CT, cine, colour, report; not the MR study's
        uids = {dcmread(io.BytesIO(archive.read(n))).SOPInstanceUID for n in names}
    assert uids == {*s.ct_instances, s.cine_instance, s.color_instance, s.sr_instance}
    assert all(name.count("/") == 1 and name.endswith(".dcm") for name in names)
    assert (await site.client.get("/browser/studies/1.2.3/download")).status_code == 404
    assert (await site.client.get("/browser/studies/..%2F..%2Fetc/download")).status_code == 404
