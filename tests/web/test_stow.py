"""STOW-RS: posted instances go through the C-STORE ingest; bad bodies keep nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
from pydicom import dcmread
from pydicom.uid import generate_uid

from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.web import WebLimits, create_app

from .conftest import WebFixture

EXPLICIT_LE = "1.2.840.10008.1.2.1"
BOUNDARY = "b0undary-xyz"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def new_file(folder: Path, *, study: str | None = None, rows: int = 8) -> Path:
    ds = make_image(rows=rows, columns=8, sop_instance_uid=generate_uid())
    ds.StudyInstanceUID = study or generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    return write_part10(folder / f"{ds.SOPInstanceUID}.dcm", ds, EXPLICIT_LE)


def body(*parts: bytes, close: bool = True) -> bytes:
    out = b""
    for part in parts:
        out += f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
    if close:
        out += f"--{BOUNDARY}--\r\n".encode()
    return out


def files_in(root: Path) -> set[str]:
    return {p.name for p in root.glob("*.dcm")}


async def post(web: WebFixture, data: bytes, path: str = "/dicomweb/studies") -> httpx.Response:
    return await web.client.post(
        path,
        content=data,
        headers={"Content-Type": CONTENT_TYPE, "Accept": "application/dicom+json"},
    )


async def test_stored_instances_are_indexed_and_found(web: WebFixture, tmp_path: Path) -> None:
    first, second = new_file(tmp_path / "in"), new_file(tmp_path / "in2")
    response = await post(web, body(first.read_bytes(), second.read_bytes()))
    assert response.status_code == 200, response.text
    answer = response.json()
    referenced = answer["00081199"]["Value"]
    assert {item["00081155"]["Value"][0] for item in referenced} == {first.stem, second.stem}
    assert "00081198" not in answer
    assert referenced[0]["00081190"]["Value"][0].startswith("http://test/dicomweb/studies/")
    assert files_in(web.root) == {first.name, second.name}
    kept, sent = dcmread(web.root / first.name), dcmread(first)
    assert kept.SOPInstanceUID == sent.SOPInstanceUID
    assert kept.PixelData == sent.PixelData
    found = await web.client.get("/dicomweb/instances", params={"SOPInstanceUID": first.stem})
    assert found.status_code == 200
    assert found.json()[0]["00080018"]["Value"] == [first.stem]


async def test_duplicate_is_kept_first_and_bad_part_fails_alone(
    web: WebFixture, tmp_path: Path
) -> None:
    good = new_file(tmp_path / "in")
    assert (await post(web, body(good.read_bytes()))).status_code == 200
    other = new_file(tmp_path / "in2")
    cut = other.read_bytes()[:-10]  # the data set ends inside Pixel Data
    response = await post(web, body(good.read_bytes(), cut, b"not dicom at all" * 20))
    assert response.status_code == 202
    answer = response.json()
    failed = answer["0008119" + "8"]["Value"]
    assert [item["00081197"]["Value"][0] for item in failed] == [0xC000, 0xC000]
    assert failed[0]["00081155"]["Value"] == [other.stem]
    assert files_in(web.root) == {good.name}
    assert not list((web.root / ".incoming").glob("*"))


async def test_study_in_the_path_must_match(web: WebFixture, tmp_path: Path) -> None:
    file = new_file(tmp_path / "in", study="1.2.3.4.5")
    response = await post(web, body(file.read_bytes()), "/dicomweb/studies/1.2.3.4.6")
    assert response.status_code == 409
    assert response.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xA900]
    assert files_in(web.root) == set()
    ok = await post(web, body(file.read_bytes()), "/dicomweb/studies/1.2.3.4.5")
    assert ok.status_code == 200


async def test_truncated_body_stores_nothing_partial(web: WebFixture, tmp_path: Path) -> None:
    file = new_file(tmp_path / "in")
    response = await post(web, body(file.read_bytes(), close=False)[:-2])
    assert response.status_code == 400
    assert "truncated" in response.text
    assert files_in(web.root) == set()
    assert not list((web.root / ".incoming").glob("*"))


async def test_wrong_media_types(web: WebFixture, tmp_path: Path) -> None:
    file = new_file(tmp_path / "in")
    json_parts = await web.client.post(
        "/dicomweb/studies",
        content=body(file.read_bytes()),
        headers={"Content-Type": 'multipart/related; type="application/dicom+json"; boundary=x'},
    )
    assert json_parts.status_code == 415
    plain = await web.client.post(
        "/dicomweb/studies",
        content=file.read_bytes(),
        headers={"Content-Type": "application/dicom"},
    )
    assert plain.status_code == 415
    no_boundary = await web.client.post(
        "/dicomweb/studies", content=b"", headers={"Content-Type": "multipart/related"}
    )
    assert no_boundary.status_code == 400
    wrong_accept = await web.client.post(
        "/dicomweb/studies",
        content=body(file.read_bytes()),
        headers={"Content-Type": CONTENT_TYPE, "Accept": "text/html"},
    )
    assert wrong_accept.status_code == 406
    assert files_in(web.root) == set()


async def test_oversized_upload_is_413_and_keeps_nothing(web: WebFixture, tmp_path: Path) -> None:
    file = new_file(tmp_path / "in", rows=1024)
    small = dataclasses.replace(web.archive, limits=WebLimits(max_request_bytes=4096))
    transport = httpx.ASGITransport(app=create_app(small))
    data = body(file.read_bytes())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        declared = await client.post(
            "/dicomweb/studies", content=data, headers={"Content-Type": CONTENT_TYPE}
        )
        assert declared.status_code == 413

        async def chunks():  # no Content-Length: the limit is found while reading
            for start in range(0, len(data), 1000):
                yield data[start : start + 1000]

        streamed = await client.post(
            "/dicomweb/studies", content=chunks(), headers={"Content-Type": CONTENT_TYPE}
        )
        assert streamed.status_code == 413, streamed.text
    assert files_in(web.root) == set()
    assert not list((web.root / ".incoming").glob("*"))
