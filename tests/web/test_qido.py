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


async def test_fast_json_path_equals_the_dataset_path(web: WebFixture) -> None:
    from dicomnet.web.qido import _fast, _finish
    from dicomnet.web.query_params import qido_request

    for level, params in (
        ("STUDY", [("includefield", "StudyDescription")]),
        ("SERIES", []),
        ("STUDY", [("PatientName", "DOE*")]),
    ):
        request = qido_request(level, {}, params)
        fast_count = 0
        async for match in web.archive.index.matches(request.query):
            fast = _fast(match, level, "http://x")
            slow = _finish(match.identifier, level, "http://x")
            if fast is not None:
                fast_count += 1
                assert fast == slow
        if level == "STUDY":  # series defaults include keys without a column: no fast path
            assert fast_count > 0


async def test_relational_series_and_instances_and_paging(web: WebFixture) -> None:
    series = await web.client.get(f"/dicomweb/studies/{STUDY_A}/series")
    assert series.status_code == 200
    assert len(series.json()) == 2
    modality = await web.client.get("/dicomweb/series", params={"Modality": "MR"})
    assert [r["00080060"]["Value"] for r in modality.json()] == [["MR"]]
    assert modality.json()[0]["0020000D"]["Value"] == [STUDY_A]  # study attributes too
    every = await web.client.get("/dicomweb/instances")
    assert len(every.json()) == 5
    page = await web.client.get("/dicomweb/instances", params={"limit": "2", "offset": "3"})
    assert len(page.json()) == 2
    assert {r["00080018"]["Value"][0] for r in page.json()} <= {
        r["00080018"]["Value"][0] for r in every.json()
    }
    under = await web.client.get(f"/dicomweb/studies/{STUDY_A}/instances", params={"limit": "9"})
    assert len(under.json()) == 3


async def test_bad_parameters_are_400(web: WebFixture) -> None:
    for params in (
        {"NoSuchKeyword": "x"},
        {"limit": "-1"},
        {"offset": "ten"},
        {"fuzzymatching": "maybe"},
        {"StudyDate": "2024-01-01-2025"},
        {"Modality": "CT"},  # a series attribute in a study search
    ):
        response = await web.client.get("/dicomweb/studies", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"].startswith("text/plain")


async def test_fuzzymatching_is_refused_with_a_warning(web: WebFixture) -> None:
    response = await web.client.get(
        "/dicomweb/studies", params={"PatientName": "DOE^JOHN", "fuzzymatching": "true"}
    )
    assert response.status_code == 200
    assert "fuzzymatching" in response.headers["warning"]


async def test_result_limit_warns(web: WebFixture) -> None:
    import dataclasses

    import httpx

    from dicomnet.web import WebLimits, create_app

    small = dataclasses.replace(web.archive, limits=WebLimits(max_results=2))
    transport = httpx.ASGITransport(app=create_app(small))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/dicomweb/instances")
        assert len(response.json()) == 2
        assert "maximum" in response.headers["warning"]
        fits = await client.get("/dicomweb/studies", params={"PatientID": "P2"})
        assert "warning" not in fits.headers
