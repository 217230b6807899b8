"""``dicomnet serve`` as an archive: stored instances are indexed and found at once.

In-process ``serve()`` with its default profile and index; DCMTK storescu
stores, findscu finds and getscu retrieves, then the index is checked to
survive a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from helpers.programs import run_program
from pydicom import dcmread
from pydicom.dataset import Dataset
from query.fixtures import STUDY_A, STUDY_B, STUDY_C, write_archive

from dicomnet.ae import AE, Server
from dicomnet.archive import entry_from_file
from dicomnet.archive.backends import open_index
from dicomnet.archive.ingest import IndexedStore
from dicomnet.cli import serve as cli_serve
from dicomnet.conformance import load_profile
from dicomnet.policy import AcceptedContext, Policy
from dicomnet.query import parse_query
from dicomnet.query.models import STUDY_ROOT
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet.storage.sinks import InstanceInfo

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


class Running:
    """``serve()`` as a task until :meth:`stop`."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.stop_event = asyncio.Event()
        self.ready: asyncio.Future[Server] = asyncio.get_running_loop().create_future()
        args = cli_serve.build_parser().parse_args(list(argv))
        self.task = asyncio.ensure_future(
            cli_serve.serve(args, ready=self.ready.set_result, stop=self.stop_event)
        )

    async def port(self) -> int:
        done, _ = await asyncio.wait({self.ready, self.task}, return_when=asyncio.FIRST_COMPLETED)
        assert self.ready in done, f"serve() ended with {self.task.result()}"
        return self.ready.result().port

    async def stop(self) -> int:
        self.stop_event.set()
        return await self.task


def ident(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


@pytest.mark.interop
async def test_storescu_then_findscu_and_getscu_against_serve(
    tmp_path: Path, index_location
) -> None:
    storescu, findscu, getscu = (dcmtk_program(p) for p in ("storescu", "findscu", "getscu"))
    files = write_archive(tmp_path / "files")
    store = tmp_path / "store"
    argv = ["--port", "0", "--host", "127.0.0.1", "--output", str(store)]
    if isinstance(index_location, str):
        argv += ["--index", index_location]  # PostgreSQL; SQLite: the default file
    running = Running(argv)
    port = str(await running.port())
    try:
        # Store study A's first instance only, then find it at once.
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", port, str(files[0])
        )
        assert code == 0, out
        code, out = await run_program(
            findscu, "-v", "-S", "-aec", "DICOMNET", "-k", "QueryRetrieveLevel=STUDY",
            "-k", "PatientName=doe*", "-k", "StudyInstanceUID", "-k", "ModalitiesInStudy",
            "-k", "NumberOfStudyRelatedInstances", "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, out
        assert f"[{STUDY_A}]" in out and out.count("Find Response: ") == 1, out
        assert "(0020,1208) IS [1 ]" in out and "(0008,0061) CS [CT]" in out, out
        # The rest of the archive, then a series level query and a C-GET of two studies.
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", port, *map(str, files[1:])
        )
        assert code == 0, out
        code, out = await run_program(
            findscu, "-v", "-S", "-aec", "DICOMNET", "-k", "QueryRetrieveLevel=SERIES",
            "-k", f"StudyInstanceUID={STUDY_A}", "-k", "SeriesInstanceUID",
            "-k", "NumberOfSeriesRelatedInstances", "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, out
        assert out.count("Find Response: ") == 2, out
        assert "IS [2 ]" in out and "IS [1 ]" in out, out  # CT series: 2, MR series: 1
        got = tmp_path / "got"
        got.mkdir()
        code, out = await run_program(
            getscu, "-v", "-S", "-aec", "DICOMNET", "-od", str(got),
            "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_B}\\{STUDY_C}",
            "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, out
        received = sorted(str(dcmread(p).SOPInstanceUID) for p in got.iterdir())
        assert received == [STUDY_B + ".1.4", STUDY_C + ".1.5"]
    finally:
        assert await running.stop() == 0
    if not isinstance(index_location, str):
        assert (store / ".index" / "index.sqlite").is_file()
        index_location = store / ".index" / "index.sqlite"
    async with await open_index(index_location) as index:
        assert await index.count() == 5


@pytest.mark.interop
async def test_movescu_moves_a_stored_study_to_a_configured_destination(
    tmp_path: Path, index_location
) -> None:
    movescu = dcmtk_program("movescu")
    files = write_archive(tmp_path / "files")
    port = free_port()
    store = tmp_path / "store"
    received = tmp_path / "received"
    received.mkdir()
    argv = ["--port", "0", "--host", "127.0.0.1", "--output", str(store)]
    if isinstance(index_location, str):
        argv += ["--index", index_location]
    else:
        index_location = store / ".index" / "index.sqlite"
    running = Running([*argv, "--destination", f"MOVESCU=127.0.0.1:{port}"])
    serve_port = str(await running.port())
    try:
        async with await open_index(index_location) as index:
            await index.put_many([entry_from_file(path) for path in files])
        base = (movescu, "-v", "-S", "-aet", "MOVESCU", "-aec", "DICOMNET", "--port", str(port))
        code, out = await run_program(
            *base, "-od", str(received), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={STUDY_A}", "127.0.0.1", serve_port,
        )  # fmt: skip
        assert code == 0, out
        moved = sorted(str(dcmread(p).SOPInstanceUID) for p in received.iterdir())
        assert moved == [f"{STUDY_A}.1.1", f"{STUDY_A}.1.2", f"{STUDY_A}.2.3"]
        # An unknown destination: A801.
        code, out = await run_program(
            movescu, "-v", "-S", "-aem", "NOWHERE", "-aec", "DICOMNET", "-k",
            "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_A}", "127.0.0.1",
            serve_port,
        )  # fmt: skip
        assert "MoveDestinationUnknown" in out or "a801" in out.lower(), out
    finally:
        assert await running.stop() == 0


def test_destination_option_is_checked() -> None:
    assert cli_serve.parse_destination("DEST=10.0.0.7:104") == ("DEST", ("10.0.0.7", 104))
    for bad in ("DEST", "DEST=host", "=h:1", "DEST=h:0", "DEST=h:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli_serve.parse_destination(bad)


async def test_serve_without_index_answers_no_queries(tmp_path: Path) -> None:
    running = Running(["--port", "0", "--output", str(tmp_path / "s"), "--no-index"])
    await running.port()
    assert await running.stop() == 0
    assert not (tmp_path / "s" / ".index").exists()


async def test_default_profile_accepts_query_retrieve() -> None:
    policy = load_profile("dicomnet-serve").policy()
    accepted = {c.abstract_syntax: c for c in policy.accepted_contexts}
    for op in "123":
        for model in "123":
            assert f"1.2.840.10008.5.1.4.1.2.{model}.{op}" in accepted
    assert accepted[CT].scu_role and accepted[CT].scp_role  # C-GET sub-operations


async def test_stored_instance_is_indexed_before_success(tmp_path: Path, index_location) -> None:
    """The sink's commit returns after the row is in; a failing index removes the file."""
    files = write_archive(tmp_path / "files")
    data = files[0].read_bytes()
    ds = dcmread(files[0])
    info = InstanceInfo(
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.SOPInstanceUID),
        transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
        source_ae_title="MODALITY",
    )
    body = data[data.index(b"DICM") + 4 :]
    meta_length = int.from_bytes(body[8:12], "little")
    dataset_bytes = body[12 + meta_length :]
    folder = FolderStore(tmp_path / "store")
    index = await open_index(index_location)
    store = IndexedStore(folder, index)
    sink = await store.open_sink(info)
    await sink.write(dataset_bytes)
    stored = await sink.commit(info)
    assert stored.path is not None and stored.path.is_file()
    record = await index.locate(info.sop_instance_uid)
    assert record is not None and record.path == stored.path
    query = parse_query(ident("STUDY", StudyInstanceUID=""), STUDY_ROOT)
    assert [m.identifier.StudyInstanceUID async for m in index.matches(query)] == [STUDY_A]
    await index.close()
    # The index is gone now: the next instance is not kept, and the commit fails with OSError.
    other = dcmread(files[1])
    info2 = InstanceInfo(
        sop_class_uid=str(other.SOPClassUID),
        sop_instance_uid=str(other.SOPInstanceUID),
        transfer_syntax_uid=EXPLICIT_LE,
    )
    sink = await store.open_sink(info2)
    await sink.write(dataset_bytes)
    with pytest.raises(OSError):
        await sink.commit(info2)
    assert not folder.path_for(info2.sop_instance_uid).exists()


async def test_storage_scp_answers_a700_when_the_index_fails(
    tmp_path: Path, index_location
) -> None:
    from dicomnet.policy import ProposedContext
    from dicomnet.storage.scu import store as store_instance
    from dicomnet.storage.source import InstanceSource

    files = write_archive(tmp_path / "files")
    folder = FolderStore(tmp_path / "store")
    index = await open_index(index_location)
    await index.close()  # every put fails
    policy = Policy(
        ae_title="SCP",
        accepted_contexts=(AcceptedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE,)),),
    )
    handlers = [StorageService(IndexedStore(folder, index))]
    async with await AE("SCP", policy, handlers=handlers).serve("127.0.0.1", 0) as server:
        scu = AE("SCU", Policy(ae_title="SCU"))
        contexts = [ProposedContext(abstract_syntax=CT, transfer_syntaxes=(EXPLICIT_LE,))]
        association = await scu.associate(
            "127.0.0.1", server.port, called_ae="SCP", contexts=contexts
        )
        try:
            result = await store_instance(association, InstanceSource.from_path(files[0]))
        finally:
            await association.release()
    assert result.status == 0xA700
    assert [p for p in folder.root.iterdir() if p.suffix == ".dcm"] == []
