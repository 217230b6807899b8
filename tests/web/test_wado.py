"""WADO-RS: instances streamed from their files, metadata, frames and bulk data."""

from __future__ import annotations

import io

from pydicom import dcmread
from query.fixtures import SERIES_A1, SERIES_A2, STUDY_A, STUDY_C

from .conftest import WebFixture
from .multipart_parse import parse_parts

DICOM_ANY = 'multipart/related; type="application/dicom"; transfer-syntax=*'
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


async def test_study_as_stored_is_the_stored_files_byte_for_byte(web: WebFixture) -> None:
    response = await web.client.get(f"/dicomweb/studies/{STUDY_A}", headers={"Accept": DICOM_ANY})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        'multipart/related; type="application/dicom"'
    )
    parts = parse_parts(response.headers["content-type"], response.content)
    stored = {p.read_bytes() for p in web.files[:3]}
    assert {body for _, body in parts} == stored
    syntaxes = {h["content-type"].split("transfer-syntax=")[1] for h, _ in parts}
    assert syntaxes == {EXPLICIT_LE, IMPLICIT_LE}


async def test_default_syntax_is_explicit_le_transcoding_implicit_files(web: WebFixture) -> None:
    # Of series A1, the first file was written in Implicit VR LE, the second in Explicit.
    response = await web.client.get(
        f"/dicomweb/studies/{STUDY_A}/series/{SERIES_A1}",
        headers={"Accept": 'multipart/related; type="application/dicom"'},
    )
    assert response.status_code == 200
    parts = parse_parts(response.headers["content-type"], response.content)
    assert len(parts) == 2
    for headers, body in parts:
        assert headers["content-type"].endswith(f"transfer-syntax={EXPLICIT_LE}")
        ds = dcmread(io.BytesIO(body))
        assert ds.file_meta.TransferSyntaxUID == EXPLICIT_LE
        assert ds.SeriesInstanceUID == SERIES_A1
        assert len(ds.PixelData) == 4 * 4 * 2


async def test_unknown_uids_are_404_and_malformed_400(web: WebFixture) -> None:
    missing = await web.client.get("/dicomweb/studies/1.2.3.4", headers={"Accept": DICOM_ANY})
    assert missing.status_code == 404
    wrong_series = await web.client.get(
        f"/dicomweb/studies/{STUDY_C}/series/{SERIES_A1}", headers={"Accept": DICOM_ANY}
    )
    assert wrong_series.status_code == 404
    bad = await web.client.get("/dicomweb/studies/1.2.x", headers={"Accept": DICOM_ANY})
    assert bad.status_code == 400


async def test_wrong_accept_is_406(web: WebFixture) -> None:
    response = await web.client.get(
        f"/dicomweb/studies/{STUDY_A}", headers={"Accept": "application/pdf"}
    )
    assert response.status_code == 406
    qido = await web.client.get("/dicomweb/studies", headers={"Accept": "image/png"})
    assert qido.status_code == 406


async def test_metadata_json_with_bulk_data_uri(web: WebFixture) -> None:
    response = await web.client.get(
        f"/dicomweb/studies/{STUDY_A}/metadata", headers={"Accept": "application/dicom+json"}
    )
    assert response.status_code == 200
    items = response.json()
    assert len(items) == 3
    for item in items:
        assert item["0020000D"]["Value"] == [STUDY_A]
        assert item["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")
        assert "00020010" not in item
    uri = items[0]["7FE00010"]["BulkDataURI"]
    bulk = await web.client.get(uri, headers={"Accept": "application/octet-stream"})
    assert bulk.status_code == 200
    assert len(bulk.content) == 4 * 4 * 2


async def test_metadata_xml_multipart(web: WebFixture) -> None:
    response = await web.client.get(
        f"/dicomweb/studies/{STUDY_A}/series/{SERIES_A2}/metadata",
        headers={"Accept": 'multipart/related; type="application/dicom+xml"'},
    )
    assert response.status_code == 200
    [(headers, body)] = parse_parts(response.headers["content-type"], response.content)
    assert headers["content-type"] == "application/dicom+xml"
    assert b"<NativeDicomModel" in body
    assert f'<Value number="1">{SERIES_A2}</Value>'.encode() in body
    assert b"<FamilyName>DOE</FamilyName>" in body


async def test_frames_of_a_native_image(web: WebFixture) -> None:
    ds = dcmread(web.files[0])
    url = (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/1"
    )
    response = await web.client.get(
        url, headers={"Accept": 'multipart/related; type="application/octet-stream"'}
    )
    assert response.status_code == 200
    [(headers, body)] = parse_parts(response.headers["content-type"], response.content)
    assert headers["content-type"].startswith("application/octet-stream")
    assert body == ds.PixelData
    past = await web.client.get(url[:-1] + "2")
    assert past.status_code == 404
    malformed = await web.client.get(url[:-1] + "0")
    assert malformed.status_code == 400
