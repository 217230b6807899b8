"""QIDO-RS results written from the index's plain values equal those of the slower paths."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from query.fixtures import STUDY_A, instance

from dicomnet.archive import entry_from_file
from dicomnet.archive.encode import encode_identifier
from dicomnet.storage.synthetic import write_part10
from dicomnet.web.dicomjson import dumps
from dicomnet.web.fastjson import (
    Memo,
    elements_json,
    elements_json_text,
    identifier_json,
)
from dicomnet.web.qido import _fast, _finish
from dicomnet.web.query_params import qido_request

from .conftest import WebFixture

EXPLICIT_LE = "1.2.840.10008.1.2.1"
STRING_VRS = ["AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI"]
TEXTS = ["", " ", "A", "ab ", "1", "-2.50", "x\0", "1e400", "Müller^Jörg", "DOE^J=ド", "é\\", "\\"]
TEXTS += ['a"b', "c\\d", "\t\n", "0.1", "12345678901234567890", " 7 ", "1.5e3", "\u2028"]
CHARSETS = [None, "", "ISO_IR 100", "ISO_IR 192", "ISO 2022 IR 6", ["ISO 2022 IR 6", "ISO_IR 100"]]

#: Memos shared by the examples, one per ``skip``.
MEMOS: dict[frozenset[int], Memo] = {}

values = st.one_of(
    st.none(),
    st.sampled_from(TEXTS),
    st.text(max_size=6),
    st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3),
    st.sampled_from([0xFFFD, 0xFFFE, 0xFFFF]),  # a value this long (made in the test)
)
elements = st.lists(
    st.tuples(st.integers(0x00080006, 0x0040FFFF), st.sampled_from(STRING_VRS), values),
    max_size=6,
    unique_by=lambda e: e[0],
).map(sorted)


@settings(max_examples=400, deadline=None)
@given(elements=elements, charset=st.sampled_from(CHARSETS), skip_first=st.booleans())
def test_plain_values_give_the_json_of_their_encoding(
    elements: list[tuple[int, str, str | list[str] | int | None]],
    charset: str | list[str] | None,
    skip_first: bool,
) -> None:
    elements = [(t, vr, "A" * v if isinstance(v, int) else v) for t, vr, v in elements]
    # As the index's layout gives them: Specific Character Set first when the header has one.
    if charset is not None:
        elements = [(0x00080005, "CS", charset), *elements]
    skip = frozenset({elements[-1][0]}) if skip_first and elements else frozenset()
    data = encode_identifier(elements, EXPLICIT_LE, charset)
    want = None if data is None else identifier_json(data, skip)
    assert elements_json(elements, charset, skip) == want
    written = elements_json_text(elements, charset, skip)
    if want is None:
        assert written is None
        return
    assert written is not None
    members, _ = written
    # The members are what json.dumps writes for the same object, byte for byte.
    assert "{" + ",".join(text for _, text in members) + "}" == dumps(want).decode("utf-8")
    # A memo shared with earlier examples (same skip) gives the same members.
    assert elements_json_text(elements, charset, skip, memo=MEMOS.setdefault(skip, {})) == written


async def _add_latin1_study(web: WebFixture, folder: Path) -> None:
    ds = instance(
        1,
        patient_id="P9",
        patient_name="MÜLLER^JÖRG",
        study="1.2.826.0.1.3680043.8.498.71.9",
        series="1.2.826.0.1.3680043.8.498.71.9.1",
        modality="MR",
        study_date="20240305",
    )
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ReferringPhysicianName = "GARCÍA^ANA"
    folder.mkdir(parents=True, exist_ok=True)
    await web.archive.index.put(entry_from_file(write_part10(folder / "l.dcm", ds, EXPLICIT_LE)))


async def test_plain_path_equals_the_dataset_path(web: WebFixture, tmp_path: Path) -> None:
    await _add_latin1_study(web, tmp_path / "latin1")
    for level, params in (
        ("STUDY", []),  # the defaults: computed attributes, names in Latin-1, empty values
        ("STUDY", [("includefield", "SOPClassesInStudy"), ("includefield", "StudyDescription")]),
        ("STUDY", [("PatientName", "M*")]),
        ("STUDY", [("StudyInstanceUID", STUDY_A), ("includefield", "NumberOfStudyRelatedSeries")]),
        ("SERIES", [("includefield", "NumberOfSeriesRelatedInstances")]),
        ("IMAGE", [("includefield", "SOPClassUID")]),
    ):
        request = qido_request(level, {}, params)
        plain = 0
        memo: Memo = {}  # as one answer's results share it
        async for match in web.archive.index.matches(request.query, retrieve_ae_title="AE"):
            assert _fast(match, level, "http://x") == _fast(match, level, "http://x", memo)
            fast = _fast(match, level, "http://x", memo)
            slow = _finish(match.identifier, level, "http://x")
            if match.elements() is not None and fast is not None:
                plain += 1
            if fast is not None:
                assert fast == slow, (level, params)
        if level == "STUDY":
            assert plain > 0, params


async def test_study_defaults_come_from_the_plain_path(web: WebFixture, tmp_path: Path) -> None:
    """A default study search (computed attributes too) needs neither a Dataset nor bytes."""
    await _add_latin1_study(web, tmp_path / "latin1")
    request = qido_request("STUDY", {}, [])
    found = [m async for m in web.archive.index.matches(request.query)]
    assert found
    for match in found:
        plain = match.elements()
        assert plain is not None
        assert elements_json(plain[0], plain[1]) is not None
    response = await web.client.get("/dicomweb/studies", params={"PatientName": "MÜLLER*"})
    assert response.status_code == 200
    [study] = response.json()
    assert study["00100010"]["Value"] == [{"Alphabetic": "MÜLLER^JÖRG"}]
    assert study["00080090"]["Value"] == [{"Alphabetic": "GARCÍA^ANA"}]
    assert study["00080061"] == {"vr": "CS", "Value": ["MR"]}
    assert study["00201206"] == {"vr": "IS", "Value": [1]}
    assert study["00201208"] == {"vr": "IS", "Value": [1]}
