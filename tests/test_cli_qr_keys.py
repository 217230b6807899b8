"""The query commands' ``-k`` keys, identifiers and output formats (no network)."""

from __future__ import annotations

import io
import json

import pytest
from pydicom.dataset import Dataset

from dicomnet.cli.main import build_parser
from dicomnet.cli.qr_common import identifier_from
from dicomnet.cli.qr_keys import (
    DEFAULT_KEYS,
    BadKey,
    Key,
    build_identifier,
    build_worklist_identifier,
    parse_key,
)
from dicomnet.cli.qr_output import CELL_WIDTH, MatchWriter, columns_of
from dicomnet.cli.retrieve import ProgressBar, exit_code, summary
from dicomnet.dimse.dataset import decode_dataset, encode_dataset
from dicomnet.services.qr import RetrieveProgress

PATIENT_NAME = 0x00100010
SPS = 0x00400100
MODALITY = 0x00080060


@pytest.mark.parametrize(
    "text",
    ["PatientName=DOE*", "0010,0010=DOE*", "(0010,0010)=DOE*", "00100010=DOE*", "(0010,0010)=DOE*"],
)
def test_a_key_by_keyword_or_tag(text: str) -> None:
    assert parse_key(text) == Key((), PATIENT_NAME, "DOE*")


def test_a_key_without_a_value_is_a_return_key() -> None:
    assert parse_key("PatientBirthDate") == Key((), 0x00100030, None)
    assert parse_key("PatientBirthDate=") == Key((), 0x00100030, None)
    ds = build_identifier("STUDY", [parse_key("PatientBirthDate")], defaults=False)
    assert "PatientBirthDate" in ds and ds.PatientBirthDate in ("", None)


def test_sequence_paths_and_values_keep_their_text() -> None:
    key = parse_key("ScheduledProcedureStepSequence[0].Modality=CT")
    assert key == Key(((SPS, 0),), MODALITY, "CT")
    assert parse_key("(0040,0100)[0].(0008,0060)=CT") == key
    # '=' inside the value and backslash-separated lists stay as given.
    assert parse_key("StudyDescription=a=b").value == "a=b"
    ds = build_identifier("STUDY", [parse_key("StudyInstanceUID=1.2.3\\1.2.4")], defaults=False)
    assert list(ds.StudyInstanceUID) == ["1.2.3", "1.2.4"]


def test_binary_vrs_are_converted_and_checked() -> None:
    ds = build_identifier("IMAGE", [parse_key("Rows=512"), parse_key("Columns")], defaults=False)
    assert ds.Rows == 512 and ds["Columns"].VR == "US" and ds.Columns is None
    with pytest.raises(BadKey, match="not a number"):
        parse_key("Rows=many")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NoSuchKeyword=1", "not a DICOM keyword"),
        ("0009,0010=X", "not in the data dictionary"),
        ("=DOE", "no attribute"),
        ("PatientName[0].PatientID=1", "not a sequence"),
        ("ScheduledProcedureStepSequence.Modality=CT", "item index"),
        ("ScheduledProcedureStepSequence=CT", "is a sequence"),
        ("PixelData=1", "VR OB"),
    ],
)
def test_bad_keys_say_why(text: str, message: str) -> None:
    with pytest.raises(BadKey, match=message):
        parse_key(text)


def test_bad_key_on_the_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["find", "-k", "Nonsense=1", "host", "104"])
    assert exit_info.value.code == 2
    assert "not a DICOM keyword" in capsys.readouterr().err


def test_identifier_level_defaults_and_contradictions() -> None:
    def ident(*argv: str) -> Dataset:
        return identifier_from(build_parser().parse_args(["find", "h", "1", *argv]))

    ds = ident("-k", "PatientName=DOE*")
    assert ds.QueryRetrieveLevel == "STUDY"
    assert {e.keyword for e in ds} >= set(DEFAULT_KEYS["STUDY"])
    assert ds.PatientName == "DOE*"
    assert ident("--model", "patient").QueryRetrieveLevel == "PATIENT"
    assert ident("-k", "QueryRetrieveLevel=series").QueryRetrieveLevel == "SERIES"
    only = ident("--no-default-keys", "--level", "IMAGE", "-k", "SOPInstanceUID")
    assert [e.keyword for e in only] == ["SOPInstanceUID", "QueryRetrieveLevel"]  # tag order
    with pytest.raises(BadKey, match="contradicts"):
        ident("--level", "STUDY", "-k", "QueryRetrieveLevel=SERIES")
    with pytest.raises(BadKey, match="no PATIENT level"):
        ident("--level", "PATIENT")
    with pytest.raises(BadKey, match="no IMAGE level"):
        ident("--model", "psonly", "--level", "IMAGE")
    # A retrieve's identifier holds the level and the -k keys only.
    args = build_parser().parse_args(
        ["get", "h", "1", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2"]
    )
    assert [e.keyword for e in identifier_from(args)] == ["QueryRetrieveLevel", "StudyInstanceUID"]


def test_worklist_step_keys_go_into_the_step_item() -> None:
    ds = build_worklist_identifier(
        [parse_key("Modality=CT"), parse_key("PatientName=DOE*")], defaults=False
    )
    assert ds.PatientName == "DOE*"
    assert len(ds.ScheduledProcedureStepSequence) == 1
    assert ds.ScheduledProcedureStepSequence[0].Modality == "CT"
    assert "Modality" not in ds and "QueryRetrieveLevel" not in ds
    full = build_worklist_identifier([parse_key("Modality=MR")])
    step = full.ScheduledProcedureStepSequence[0]
    assert step.Modality == "MR" and "ScheduledStationAETitle" in step
    with pytest.raises(BadKey):
        build_worklist_identifier([parse_key("QueryRetrieveLevel=STUDY")])


def _matches() -> tuple[Dataset, list[Dataset]]:
    request = build_identifier(
        "STUDY",
        [parse_key("PatientName"), parse_key("StudyInstanceUID"), parse_key("ModalitiesInStudy")],
        defaults=False,
    )
    request.SpecificCharacterSet = "ISO_IR 100"
    first = Dataset()
    first.PatientName = "Müller^Jörg"
    first.StudyInstanceUID = "1.2.3"
    first.ModalitiesInStudy = ["CT", "MR"]
    second = Dataset()
    second.PatientName = "X" * 60
    second.StudyInstanceUID = "1.2.4"
    return request, [first, second]


def test_table_output() -> None:
    request, matches = _matches()
    out = io.StringIO()
    writer = MatchWriter(out, "table", columns_of(request))
    for ds in matches:
        writer.add(ds)
    writer.close()
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ModalitiesInStudy", "PatientName", "StudyInstanceUID"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["CT\\MR", "Müller^Jörg", "1.2.3"]
    cut = lines[3].split()[0]
    assert len(cut) == CELL_WIDTH and cut.endswith("~")


def test_csv_output() -> None:
    request, matches = _matches()
    out = io.StringIO()
    writer = MatchWriter(out, "csv", columns_of(request))
    for ds in matches:
        writer.add(ds)
    writer.close()
    rows = out.getvalue().splitlines()
    assert rows[0] == "ModalitiesInStudy,PatientName,StudyInstanceUID"
    assert rows[1] == "CT\\MR,Müller^Jörg,1.2.3"
    assert rows[2] == f",{'X' * 60},1.2.4"


def test_json_output_is_the_dicom_json_model() -> None:
    request, matches = _matches()
    out = io.StringIO()
    writer = MatchWriter(out, "json", columns_of(request))
    for ds in matches:
        writer.add(ds)
    writer.close()
    data = json.loads(out.getvalue())
    assert data[0]["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jörg"}]}
    assert data[0]["00080061"] == {"vr": "CS", "Value": ["CT", "MR"]}
    assert Dataset.from_json(data[1]).StudyInstanceUID == "1.2.4"
    empty = io.StringIO()
    MatchWriter(empty, "json", []).close()
    assert json.loads(empty.getvalue()) == []


def test_sequences_in_cells() -> None:
    ds = build_worklist_identifier([parse_key("Modality=CT")], defaults=False)
    out = io.StringIO()
    writer = MatchWriter(out, "csv", columns_of(ds))
    writer.add(ds)
    assert out.getvalue().splitlines()[1] == "[Modality=CT]"


def test_retrieve_exit_codes() -> None:
    def final(status: int, failed: int = 0, warning: int = 0) -> RetrieveProgress:
        return RetrieveProgress(status, None, 3, failed, warning)

    assert exit_code(final(0x0000)) == 0
    assert exit_code(final(0xB000, warning=1)) == 0  # warnings only: everything delivered
    assert exit_code(final(0xB000, failed=1)) == 1
    assert exit_code(final(0xA702, failed=3)) == 1
    assert exit_code(final(0xFE00)) == 1
    assert exit_code(final(0xA801)) == 1
    assert exit_code(None) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    pending = RetrieveProgress(0xFF00, 6, 3, 1, 0)
    terminal = _Terminal()
    bar = ProgressBar(terminal)
    bar.update(pending)
    assert terminal.getvalue() == "\r[" + "#" * 12 + "-" * 18 + "] 4/10  failed 1"
    bar.clear()
    assert terminal.getvalue().endswith("\r\x1b[K")
    # Without the remaining count (a final response) the bar is left as it was.
    bar.update(RetrieveProgress(0x0000, None, 10, 0, 0))
    assert terminal.getvalue().endswith("\r\x1b[K")
    piped = io.StringIO()
    for enabled in (True, False):
        quiet = ProgressBar(piped, enabled=enabled)
        quiet.update(pending)
        quiet.clear()
    assert piped.getvalue() == ""
    off = _Terminal()
    ProgressBar(off, enabled=False).update(pending)
    assert off.getvalue() == ""


def test_retrieve_summary_names_counts_and_status() -> None:
    final = RetrieveProgress(0xB000, None, 2, 1, 0, ("1.2.3",), "one failed")
    assert summary("move", final) == (
        "move: 2 completed, 1 failed, 0 warning; final status 0xB000"
        " (Warning: sub-operations complete, one or more failures or warnings): one failed"
    )


def test_non_ascii_values_bring_a_character_set() -> None:
    assert "SpecificCharacterSet" not in build_identifier("STUDY", [parse_key("PatientName=D*")])
    latin = build_identifier("STUDY", [parse_key("PatientName=Müller*")])
    assert latin.SpecificCharacterSet == "ISO_IR 100"
    greek = build_worklist_identifier([parse_key("PatientName=Δ*")])
    assert greek.SpecificCharacterSet == "ISO_IR 192"
    chosen = build_identifier(
        "STUDY", [parse_key("SpecificCharacterSet=ISO_IR 192"), parse_key("PatientName=Müller*")]
    )
    assert chosen.SpecificCharacterSet == "ISO_IR 192"
    # The identifier encodes in the set it names.
    data = encode_dataset(latin, "1.2.840.10008.1.2.1")
    assert "Müller*".encode("latin-1") in data
    assert decode_dataset(data, "1.2.840.10008.1.2.1").PatientName == "Müller*"
