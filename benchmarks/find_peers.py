"""Loading a synthetic archive into each Q/R SCP of the ``find`` suite, and starting them.

* dicomnet: rows put straight into the archive's SQLite index through the
  backend (:class:`dicomnet.archive.SqliteIndex`), then ``dicomnet serve`` on
  the folder. Only the study the C-MOVE row retrieves has files.
* pynetdicom: its bundled ``qrscp`` application (SQLAlchemy over SQLite),
  loaded through its own ``db.add_instance`` (as its Storage SCP does).
* DCMTK ``dcmqrscp``: Part 10 files indexed by ``dcmqridx`` (at most 500
  studies per storage area, so only for the small archive).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydicom import dcmwrite

from dicomnet.archive import IndexEntry, SqliteIndex
from dicomnet.archive.entry import column_values, level_header

from .find_data import CT_IMAGE, INSTANCES_PER_SERIES, Archive, Study
from .harness import REPO_ROOT

__all__ = [
    "MOVE_AE",
    "Loaded",
    "index_open_seconds",
    "load_dcmqrscp",
    "load_dicomnet",
    "load_pynetdicom",
    "scp_argv",
]

MOVE_AE: Final = "MOVESCU"
AE_TITLES: Final = {"dicomnet": "DICOMNET", "pynetdicom": "QRSCP", "dcmqrscp": "DCMQRSCP"}
_LEVELS: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
_BATCH: Final = 5000


@dataclass(slots=True)
class Loaded:
    """An archive loaded for one peer: where, how long it took, how big it is."""

    folder: Path
    seconds: float
    instances: int
    bytes: int

    @property
    def rate(self) -> float:
        """Instances loaded per second."""
        return self.instances / self.seconds if self.seconds > 0 else 0.0


def _write(study: Study, instance: int, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcmwrite(path, study.dataset(instance), enforce_file_format=True)


def _entries(study: Study, folder: Path) -> list[IndexEntry]:
    ds = study.dataset(1)
    del ds.file_meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        columns = column_values(ds)
        header = level_header(ds, "IMAGE")
    headers = dict.fromkeys(_LEVELS, header)
    entries = []
    for number in range(1, INSTANCES_PER_SERIES + 1):
        uid = study.sop_uid(number)
        row = dict(columns)
        row["sop_uid"] = uid
        row["instance_number"] = str(number)
        entries.append(
            IndexEntry(
                sop_instance_uid=uid,
                sop_class_uid=CT_IMAGE,
                transfer_syntax_uid=_EXPLICIT_LE,
                path=str(folder / f"{uid}.dcm"),
                size=0,
                source_ae_title="BENCH",
                received=0.0,
                columns=row,
                headers=headers,
            )
        )
    return entries


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


async def _load_index(archive: Archive, folder: Path) -> Loaded:
    path = folder / ".index" / "index.sqlite"
    start = time.perf_counter()
    index = await SqliteIndex.open(path, fsync=False)
    try:
        batch: list[IndexEntry] = []
        for study in archive.studies():
            batch.extend(_entries(study, folder))
            if len(batch) >= _BATCH:
                await index.put_many(batch)
                batch = []
        if batch:
            await index.put_many(batch)
    finally:
        await index.close()
    seconds = time.perf_counter() - start
    return Loaded(folder, seconds, archive.instances, _size(path))


def load_dicomnet(archive: Archive, folder: Path) -> Loaded:
    """Index rows for every instance (files only for the moved study)."""
    folder.mkdir(parents=True, exist_ok=True)
    moved = archive.moved_study()
    for number in range(1, INSTANCES_PER_SERIES + 1):
        _write(moved, number, folder / f"{moved.sop_uid(number)}.dcm")
    return asyncio.run(_load_index(archive, folder))


async def _open_index(folder: Path) -> float:
    start = time.perf_counter()
    index = await SqliteIndex.open(folder / ".index" / "index.sqlite", fsync=False)
    opened = time.perf_counter() - start
    await index.close()
    return opened


def index_open_seconds(folder: Path) -> float:
    """Seconds to open the loaded dicomnet index in-process (schema check included)."""
    return asyncio.run(_open_index(folder))


def load_pynetdicom(archive: Archive, folder: Path) -> Loaded:
    """The qrscp database, through its own ``db.add_instance``."""
    from pynetdicom.apps.qrscp import db
    from sqlalchemy.orm import sessionmaker

    instances = folder / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    database = folder / "qrscp.sqlite"
    moved = archive.moved_study()
    for number in range(1, INSTANCES_PER_SERIES + 1):
        _write(moved, number, instances / moved.sop_uid(number))
    start = time.perf_counter()
    engine = db.create(f"sqlite:///{database}")
    session = sessionmaker(bind=engine)()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for study in archive.studies():
                for number in range(1, INSTANCES_PER_SERIES + 1):
                    path = str(instances / study.sop_uid(number))
                    db.add_instance(study.dataset(number), session, path)
    finally:
        session.close()
        engine.dispose()
    seconds = time.perf_counter() - start
    (folder / "qrscp.ini").write_text(
        "[DEFAULT]\n"
        f"ae_title: {AE_TITLES['pynetdicom']}\n"
        "port: 11112\nmax_pdu: 16382\nacse_timeout: 30\ndimse_timeout: 30\n"
        "network_timeout: 30\nbind_address: 127.0.0.1\n"
        f"instance_location: {instances}\ndatabase_location: {database}\n"
        "log_identifier: False\n"
        f"[{MOVE_AE}]\naddress: 127.0.0.1\nport: {{move_port}}\n"
    )
    return Loaded(folder, seconds, archive.instances, _size(database))


def load_dcmqrscp(archive: Archive, folder: Path, dcmqridx: str) -> Loaded:
    """Part 10 files in one storage area, indexed by ``dcmqridx``."""
    area = folder / "area"
    area.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    for study in archive.studies():
        for number in range(1, INSTANCES_PER_SERIES + 1):
            path = area / f"{study.sop_uid(number)}.dcm"
            _write(study, number, path)
            files.append(str(path))
    start = time.perf_counter()
    for first in range(0, len(files), 500):
        subprocess.run([dcmqridx, str(area), *files[first : first + 500]], check=True)
    seconds = time.perf_counter() - start
    return Loaded(folder, seconds, archive.instances, _size(area / "index.dat"))


def scp_argv(peer: str, loaded: Loaded, port: int, move_port: int) -> list[str]:
    """The command that serves ``loaded`` on ``port`` (C-MOVE destination on ``move_port``)."""
    folder = loaded.folder
    if peer == "dicomnet":
        return [
            sys.executable,
            "-m",
            "dicomnet.cli.main",
            "serve",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--output",
            str(folder),
            "--no-fsync",
            "--aet",
            AE_TITLES["dicomnet"],
            "--destination",
            f"{MOVE_AE}=127.0.0.1:{move_port}",
        ]
    if peer == "pynetdicom":
        config = folder / "qrscp.ini"
        text = config.read_text()
        (folder / "qrscp-run.ini").write_text(text.replace("{move_port}", str(move_port)))
        return [
            sys.executable,
            "-m",
            "pynetdicom.apps.qrscp.qrscp",
            "-c",
            str(folder / "qrscp-run.ini"),
            "--port",
            str(port),
        ]
    config = folder / "dcmqrscp.cfg"
    config.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
        "HostTable BEGIN\n"
        f"mover = ({MOVE_AE}, 127.0.0.1, {move_port})\n"
        "HostTable END\nVendorTable BEGIN\nVendorTable END\n"
        "AETable BEGIN\n"
        f"{AE_TITLES['dcmqrscp']} {folder / 'area'} RW (500, 1024mb) ANY\n"
        "AETable END\n"
    )
    return ["dcmqrscp", "-c", str(config), str(port)]


def environment() -> dict[str, str]:
    """The peers' environment: the repository on PYTHONPATH, TCP_NODELAY for DCMTK."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
        "TCP_NODELAY": "1",
    }
