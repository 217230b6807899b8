"""LifeSys Modality Worklist example: DCMTK findscu -W and echoscu against it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program
from query.worklist_items import write_items

from .support import run_program, server_example

pytestmark = pytest.mark.interop

STEP = "ScheduledProcedureStepSequence[0]"


async def worklist_query(port: int, *keys: str, called: str = "MWL_SCP") -> tuple[int, str]:
    """findscu -W with the usual return keys plus ``keys``; exit code and output."""
    args: list[str] = ["-v", "-W", "-aec", called]
    for key in (
        "PatientName",
        "PatientID",
        "AccessionNumber",
        f"{STEP}.ScheduledProcedureStepID",
        f"{STEP}.ScheduledStationAETitle",
        *keys,
    ):
        args += ["-k", key]
    return await run_program(dcmtk_program("findscu"), *args, "127.0.0.1", str(port))


def patients(out: str) -> list[str]:
    """The Patient IDs of the responses (the echoed request left out)."""
    answers = out.partition("Find Response")[2]
    return sorted(
        line.split("[", 1)[1].split("]", 1)[0].strip()
        for line in answers.splitlines()
        if "(0010,0020)" in line and "[" in line
    )


async def test_findscu_worklist_queries(tmp_path: Path) -> None:
    folder = tmp_path / "worklist"
    write_items(folder)  # WL1 CT 20240110, WL2 MR 20240110, WL3 CT 20240117 (JSON)
    async with server_example(
        "lifesys_worklist.py", "--worklist", folder, log=tmp_path / "mwl.log"
    ) as server:
        code, out = await worklist_query(server.port, f"{STEP}.Modality=CT")
        assert code == 0, out
        assert patients(out) == ["WL1", "WL3"]
        assert "Final Find Response (Success)" in out
        code, out = await worklist_query(
            server.port, f"{STEP}.Modality=CT", f"{STEP}.ScheduledProcedureStepStartDate=-20240112"
        )
        assert patients(out) == ["WL1"], out
        code, out = await worklist_query(server.port, "PatientName=R*")
        assert patients(out) == ["WL2"], out
        # Requested Procedure ID is not in the statement's matching table: returned, not
        # matched, and the responses say so (FF01).
        code, out = await worklist_query(server.port, "RequestedProcedureID=NONE-SUCH")
        assert patients(out) == ["WL1", "WL2", "WL3"], out
        assert out.count("(Pending: WarningUnsupportedOptionalKeys)") == 3, out
        # The folder is read for each query: a new item is found at once.
        shutil.copy(folder / "item1.wl", folder / "copy.wl")
        code, out = await worklist_query(server.port, f"{STEP}.Modality=CT")
        assert patients(out) == ["WL1", "WL1", "WL3"], out
        # Another called AE title gets Verification only.
        code, out = await worklist_query(server.port, called="OTHER")
        assert code != 0 and not patients(out), out
        code, out = await run_program(
            dcmtk_program("echoscu"), "-aec", "OTHER", "127.0.0.1", str(server.port)
        )
        assert code == 0, out
    assert server.exit_code == 0
    assert "3 worklist item(s)" in (tmp_path / "mwl.log").read_text()


async def test_items_kept_in_the_archive_index_are_answered_with_the_folder_s(
    tmp_path: Path,
) -> None:
    items = tmp_path / "items"
    write_items(items)  # WL1 item1.wl, WL2 item2.wl, WL3 item3.json
    archive = tmp_path / "archive"
    code, out = await run_program(
        sys.executable,
        "-m",
        "dicomnet.cli.main",
        "worklist",
        "add",
        "-o",
        archive,
        items / "item1.wl",
    )
    assert code == 0, out
    folder = tmp_path / "worklist"
    folder.mkdir()
    shutil.copy(items / "item2.wl", folder / "item2.wl")
    async with server_example(
        "lifesys_worklist.py", "--worklist", folder, "--archive", archive, log=tmp_path / "mwl.log"
    ) as server:
        code, out = await worklist_query(server.port)
        assert code == 0, out
        assert patients(out) == ["WL1", "WL2"], out
    async with server_example(
        "lifesys_worklist.py", "--worklist", folder, log=tmp_path / "folder-only.log"
    ) as server:
        code, out = await worklist_query(server.port)
        assert patients(out) == ["WL2"], out
