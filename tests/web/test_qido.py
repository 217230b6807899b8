"""QIDO-RS: searches answered by the archive's C-FIND code path, as DICOM JSON."""

from __future__ import annotations

from query.fixtures import STUDY_A, STUDY_B, STUDY_C

from .conftest import WebFixture

JSON = "application/dicom+json"


def uids(results: list[dict[str, object]], tag: str) -> set[str]:
    return {r[tag]["Value"][0] for r in results}  # type: ignore[index]


async def test_all_studies_with_default_attributes(web: WebFixture) -> None:
    response = await web.client.get("/dicomweb/studies", headers={"Accept": JSON})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)
    results = response.json()
    assert uids(results, "0020000D") == {STUDY_A, STUDY_B, STUDY_C}
    study_a = next(r for r in results if r["0020000D"]["Value"][0] == STUDY_A)
    assert study_a["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "DOE^JOHN"}]}
    assert study_a["00201206"] == {"vr": "IS", "Value": [2]}
    assert study_a["00201208"] == {"vr": "IS", "Value": [3]}
    assert study_a["00080061"]["Value"] == ["CT", "MR"]
    assert study_a["00080056"]["Value"] == ["ONLINE"]
    assert study_a["00081190"]["Value"] == [f"http://test/dicomweb/studies/{STUDY_A}"]
    assert "00080052" not in study_a


async def test_study_search_by_patient_name_wildcard_and_date_range(web: WebFixture) -> None:
    response = await web.client.get(
        "/dicomweb/studies", params={"PatientName": "doe*", "StudyDate": "20240101-20240201"}
    )
    assert response.status_code == 200
    assert uids(response.json(), "0020000D") == {STUDY_A}


async def test_no_match_is_204(web: WebFixture) -> None:
    response = await web.client.get("/dicomweb/studies", params={"PatientID": "NOBODY"})
    assert response.status_code == 204
    assert response.content == b""
