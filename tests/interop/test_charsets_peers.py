"""Character sets against DCMTK and pynetdicom: MÜLLER (Latin-1) and 山田^太郎 (UTF-8).

DCMTK's storescu stores MÜLLER^HANS in ISO_IR 100 and 山田^太郎 in ISO_IR 192
into ``dicomnet serve``. findscu then queries in both repertoires (the Latin-1
query is sent as Latin-1 bytes) and its responses are read back from the files
``findscu -X`` writes, so the Specific Character Set and the bytes are checked:

* ``dicomnet-serve`` declares ISO_IR 192: a query in either repertoire matches
  data stored in the other, and every answer is UTF-8.
* An AE limited to ISO_IR 100 answers MÜLLER in ISO_IR 100; 山田 in ISO_IR 192
  when the query named ISO_IR 192, else as ``??^??`` in ISO_IR 100 with a warning.

pynetdicom, as C-FIND SCU, finds MÜLLER with a UTF-8 query. The other way round,
dicomnet's C-FIND SCU reads both names from DCMTK's dcmqrscp.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest
from archive.test_serve_archive import Running
from conftest import require_module
from examples.support import dcmqrscp_archive
from helpers.peers import dcmtk_program
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet.ae import AE
from dicomnet.conformance import default_data_dir
from dicomnet.policy import Policy, ProposedContext
from dicomnet.services.qr import find

pytestmark = pytest.mark.interop

MUELLER = "MÜLLER^HANS"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
YAMADA = "山田^太郎"


def write_patients(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for name, charset, patient in ((MUELLER, "ISO_IR 100", "P1"), (YAMADA, "ISO_IR 192", "P2")):
        ds = dcmread(get_testdata_file("CT_small.dcm"))
        ds.SpecificCharacterSet = charset
        ds.PatientName = name
        ds.PatientID = patient
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = folder / f"{patient}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def latin1_only_profile(folder: Path) -> Path:
    text = (default_data_dir() / "profiles" / "dicomnet-serve.toml").read_text(encoding="utf-8")
    changed = text.replace('supported = ["ISO_IR 192"]', 'supported = ["ISO_IR 100"]')
    assert changed != text
    path = folder / "latin1-archive.toml"
    path.write_text(changed, encoding="utf-8")
    return path


async def run(*argv: str | bytes, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=cwd
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def findscu(port: int, folder: Path, charset: str, name: bytes) -> dict[str, tuple[str, str]]:
    """PatientID -> (Specific Character Set, Patient's Name) of each response."""
    folder.mkdir()
    code, out = await run(
        dcmtk_program("findscu"), "-P", "-X", "-aec", "DICOMNET",
        "-k", "QueryRetrieveLevel=PATIENT", "-k", f"SpecificCharacterSet={charset}",
        b"-k", b"PatientName=" + name, "-k", "PatientID",
        "127.0.0.1", str(port), cwd=folder,
    )  # fmt: skip
    assert code == 0, out
    answers = {}
    for path in sorted(folder.glob("rsp*.dcm")):
        raw = path.read_bytes()
        ds = dcmread(path, force=True)
        charset_of = str(ds.get("SpecificCharacterSet", ""))
        name_of = str(ds.PatientName)
        if charset_of == "ISO_IR 100":
            assert name_of.encode("latin-1") in raw  # the bytes really are Latin-1
        if charset_of == "ISO_IR 192":
            assert name_of.encode("utf-8") in raw
        answers[str(ds.PatientID)] = (charset_of, name_of)
    return answers


async def store_both(port: int, tmp_path: Path) -> None:
    files = write_patients(tmp_path / "files")
    code, out = await run(
        dcmtk_program("storescu"), "-aec", "DICOMNET", "127.0.0.1", str(port),
        *map(str, files), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, out


async def test_utf8_archive_matches_across_repertoires_and_answers_in_utf8(tmp_path: Path) -> None:
    running = Running(["--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "s")])
    port = await running.port()
    try:
        await store_both(port, tmp_path)
        # A UTF-8 query finds MÜLLER, stored in ISO_IR 100; the answer is UTF-8.
        got = await findscu(port, tmp_path / "q1", "ISO_IR 192", "MÜLLER*".encode())
        assert got == {"P1": ("ISO_IR 192", MUELLER)}
        # A Latin-1 query (Latin-1 bytes) finds the same; 山田 by a UTF-8 query.
        got = await findscu(port, tmp_path / "q2", "ISO_IR 100", "MÜLLER*".encode("latin-1"))
        assert got == {"P1": ("ISO_IR 192", MUELLER)}
        got = await findscu(port, tmp_path / "q3", "ISO_IR 192", "山田*".encode())
        assert got == {"P2": ("ISO_IR 192", YAMADA)}
    finally:
        assert await running.stop() == 0


async def test_latin1_archive_answers_what_it_can_and_replaces_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    profile = latin1_only_profile(tmp_path)
    running = Running(
        ["--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "s"),
         "--profile", str(profile)]
    )  # fmt: skip
    port = await running.port()
    try:
        await store_both(port, tmp_path)
        with caplog.at_level(logging.WARNING):
            got = await findscu(port, tmp_path / "q1", "ISO_IR 100", b"*")
        assert got == {"P1": ("ISO_IR 100", MUELLER), "P2": ("ISO_IR 100", "??^??")}
        assert any("replaced by '?'" in r.getMessage() for r in caplog.records)
        # The requester names ISO_IR 192: 山田 goes out in UTF-8, MÜLLER stays Latin-1.
        got = await findscu(port, tmp_path / "q2", "ISO_IR 192", b"*")
        assert got == {"P1": ("ISO_IR 100", MUELLER), "P2": ("ISO_IR 192", YAMADA)}
    finally:
        assert await running.stop() == 0


PYNETDICOM_FIND = r"""
import json, sys
from pydicom.dataset import Dataset
from pynetdicom import AE
ae = AE(ae_title="PYFIND")
ae.add_requested_context("1.2.840.10008.5.1.4.1.2.1.1")
assoc = ae.associate("127.0.0.1", int(sys.argv[1]), ae_title="DICOMNET")
query = Dataset()
query.SpecificCharacterSet = "ISO_IR 192"
query.QueryRetrieveLevel = "PATIENT"
query.PatientName = sys.argv[2]
query.PatientID = ""
found = []
for status, identifier in assoc.send_c_find(query, "1.2.840.10008.5.1.4.1.2.1.1"):
    if status and status.Status in (0xFF00, 0xFF01):
        found.append([str(identifier.PatientID), str(identifier.PatientName),
                      str(identifier.get("SpecificCharacterSet", ""))])
assoc.release()
print(json.dumps(found))
"""


async def test_pynetdicom_utf8_query_finds_latin1_data(tmp_path: Path) -> None:
    require_module("pynetdicom")
    running = Running(["--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "s")])
    port = await running.port()
    try:
        await store_both(port, tmp_path)
        for query, expected in (
            ("MÜLLER*", [["P1", MUELLER, "ISO_IR 192"]]),
            ("山田*", [["P2", YAMADA, "ISO_IR 192"]]),
        ):
            code, out = await run(
                sys.executable, "-c", PYNETDICOM_FIND, str(port), query, cwd=tmp_path
            )
            assert code == 0, out
            assert json.loads(out.strip().splitlines()[-1]) == expected
    finally:
        assert await running.stop() == 0


async def test_dicomnet_find_reads_latin1_and_utf8_answers_of_dcmqrscp(tmp_path: Path) -> None:
    # The other way: dicomnet's C-FIND SCU against DCMTK's Q/R SCP holding both patients.
    patient_find = "1.2.840.10008.5.1.4.1.2.1.1"
    policy = Policy(
        ae_title="DNFIND",
        proposed_contexts=(
            ProposedContext(abstract_syntax=patient_find, transfer_syntaxes=(EXPLICIT, IMPLICIT)),
        ),
    )
    files = write_patients(tmp_path / "files")
    async with dcmqrscp_archive(tmp_path, files) as archive:
        async with AE("DNFIND", policy).associate(
            "127.0.0.1", archive.port, called_ae=archive.title
        ) as assoc:
            query = Dataset()
            query.QueryRetrieveLevel = "PATIENT"
            query.PatientName = ""
            query.PatientID = ""
            results = find(assoc, query, model=patient_find)
            names = {str(ds.PatientID): str(ds.PatientName) async for ds in results}
    assert results.status == 0x0000
    assert names == {"P1": MUELLER, "P2": YAMADA}
