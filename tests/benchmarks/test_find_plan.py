"""The find suite's archives, expected counts, count checks and timing proxy parsing."""

from __future__ import annotations

import fnmatch

from benchmarks.find_data import Archive
from benchmarks.find_proxy import CommandClock, PduReader
from benchmarks.find_suite import answered, archives_for, check
from benchmarks.harness import Options


def test_expected_counts_follow_the_generated_studies() -> None:
    archive = Archive(300)
    studies = list(archive.studies())
    assert len(studies) == archive.study_count == 600
    assert archive.instances == 3000
    by_name = {q.name: q for q in archive.queries()}
    name = dict(by_name["patient name wildcard"].keys)["PatientName"]
    assert by_name["patient name wildcard"].expected == sum(
        fnmatch.fnmatchcase(s.patient_name, name) for s in studies
    )
    # one family of 100: 1% of the patients, 2 studies each
    assert by_name["patient name wildcard"].expected == 6
    low, high = dict(by_name["one-month date range"].keys)["StudyDate"].split("-")
    assert by_name["one-month date range"].expected == sum(
        low <= s.study_date <= high for s in studies
    )
    uids = dict(by_name["20 Study Instance UIDs"].keys)["StudyInstanceUID"].split("\\")
    assert len(set(uids)) == 20 == by_name["20 Study Instance UIDs"].expected
    assert set(uids) <= {s.study_uid for s in studies}
    assert by_name["all studies"].expected == 600
    assert any(s.latin1 for s in studies)
    assert {s.study_date[:4] for s in studies} >= {"2015", "2024"}


def test_archives_quick_and_sizes() -> None:
    quick = archives_for(Options(quick=True))
    assert [a.instances for _, a, _ in quick] == [500, 1000]
    assert "dcmqrscp" in quick[0][2]
    big = archives_for(Options(sizes=(100_000, 1_000_000)))
    assert [a.instances for _, a, _ in big] == [2500, 100_000, 1_000_000]
    assert big[1][2] == ("dicomnet", "pynetdicom")
    assert big[2][2] == ("dicomnet",)


def test_count_check_names_known_peer_differences() -> None:
    queries = {q.name: q for q in Archive(100).queries()}
    study = queries["all studies"]
    assert check("dicomnet", study, study.expected) == "ok"
    assert check("dicomnet", study, study.expected + 1) == f"expected {study.expected}"
    assert check("pynetdicom", study, study.expected * 5) == "one per instance (qrscp)"
    assert check("pynetdicom", queries["20 Study Instance UIDs"], 0) == "UID list refused (qrscp)"
    assert check("dcmqrscp", study, None) == "no answer"
    assert answered(study, 201, 0) == 200
    assert answered(queries["C-MOVE one study"], 2, 5) == 5


def _pdata(command: bool, last: bool, body: bytes = b"x" * 10) -> bytes:
    pdv = bytes([1, (1 if command else 0) | (2 if last else 0)]) + body
    item = len(pdv).to_bytes(4, "big") + pdv
    return bytes([4, 0]) + len(item).to_bytes(4, "big") + item


def test_proxy_counts_complete_command_sets_across_chunks() -> None:
    stream = _pdata(True, False) + _pdata(True, True) + _pdata(False, True) + _pdata(True, True)
    reader = PduReader()
    counts = [reader.feed(stream[i : i + 7]) for i in range(0, len(stream), 7)]
    assert sum(counts) == 2
    clock = CommandClock()
    clock.client_commands(1, 10.0)
    clock.server_commands(2, 10.5)
    clock.server_commands(1, 11.0)
    report = clock.report()
    assert report == {"first_ms": 500.0, "last_ms": 1000.0, "responses": 3, "requests": 1}
