"""``dicomnet serve --workers N``: one port, several processes, restart, drain, shared index."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from helpers.programs import run_program
from observe.test_metrics import samples, scrape
from pydicom import dcmread
from query.fixtures import STUDY_A, STUDY_B, write_archive

from dicomnet.ae import AE
from dicomnet.archive.backends import open_index
from dicomnet.cli.workers import association_share, reserve_port, worker_incoming
from dicomnet.errors import AssociationRejected
from dicomnet.policy import Policy, ProposedContext
from dicomnet.storage.synthetic import make_image, write_part10

ROOT = Path(__file__).resolve().parents[1]
EXPLICIT_LE = "1.2.840.10008.1.2.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = "1.2.840.10008.1.1"


def test_association_limit_parts_add_up() -> None:
    for limit in (0, 1, 5, 10, 64):
        for count in (1, 2, 3, 7):
            parts = [association_share(limit, count, slot) for slot in range(count)]
            if limit == 0:
                assert parts == [0] * count  # unlimited stays unlimited
            elif limit >= count:
                assert sum(parts) == limit and max(parts) - min(parts) <= 1
            else:
                assert all(part == 1 for part in parts)


async def test_reserved_port_is_shared_by_reuse_port_listeners() -> None:
    port, sockets = reserve_port("127.0.0.1", 0)
    try:
        assert port > 0
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))  # taken for anyone not sharing it
        loop = asyncio.get_running_loop()
        servers = [
            await loop.create_server(asyncio.Protocol, "127.0.0.1", port, reuse_port=True)
            for _ in range(2)
        ]
        for server in servers:
            server.close()
    finally:
        for sock in sockets:
            sock.close()
    assert worker_incoming(3).startswith(".incoming/") and worker_incoming(3).endswith("-w3")


def _write_batch(folder: Path, prefix: str, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        ds = make_image(rows=8, columns=8, sop_class_uid=CT, seed=n)
        ds.SOPInstanceUID = f"{prefix}.{n + 1}"
        ds.PatientID = "WORKERS"
        ds.StudyInstanceUID = f"{prefix}.0"
        ds.SeriesInstanceUID = f"{prefix}.0.1"
        write_part10(folder / f"{n}.dcm", ds, EXPLICIT_LE)


def _acknowledged(output: str) -> set[str]:
    acked: set[str] = set()
    current: str | None = None
    for line in output.splitlines():
        sent = re.search(r"Sending file: (\S+)", line)
        if sent:
            current = sent.group(1)
        elif "Received Store Response (Success)" in line and current is not None:
            acked.add(str(dcmread(current, stop_before_pixels=True).SOPInstanceUID))
            current = None
    return acked


class Supervisor:
    """``dicomnet serve --workers N`` as a child process, its log in a file."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path, port: int) -> None:
        self.process = process
        self.log = log
        self.port = port
        self.metrics_port: int | None = None
        self.http_ports: list[int] = []

    @classmethod
    async def start(cls, store: Path, index: object, *options: str) -> Supervisor:
        log = store.parent / f"serve-{os.urandom(4).hex()}.log"
        extra = ["--index", index] if isinstance(index, str) else []
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c",
                "import sys; from dicomnet.cli.main import main; sys.exit(main())",
                "serve", "-v", "--port", "0", "--host", "127.0.0.1", "--output", str(store),
                "--no-uvloop", *extra, *options,
                stdout=asyncio.subprocess.PIPE, stderr=sink, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
        try:
            return await cls._ready(process, log)
        except BaseException:
            # Not left serving after a failed start: SIGTERM stops the workers too.
            with contextlib.suppress(ProcessLookupError):  # it may have exited already
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
            await process.wait()
            raise

    @classmethod
    async def _ready(cls, process: asyncio.subprocess.Process, log: Path) -> Supervisor:
        assert process.stdout is not None
        metrics = None
        http: list[int] = []
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), 90)
            found = re.match(rb"metrics listening on (\d+)", line)
            if found:
                metrics = int(found.group(1))
                continue
            found = re.match(rb"https? listening on (\d+)", line)
            if found:  # one line per worker
                http.append(int(found.group(1)))
                continue
            match = re.match(rb"listening on (\d+)", line)
            assert match, (line, log.read_text())
            supervisor = cls(process, log, int(match.group(1)))
            supervisor.metrics_port = metrics
            supervisor.http_ports = http
            return supervisor

    def worker_pids(self) -> dict[int, int]:
        """Slot -> pid of the latest start of each worker."""
        found: dict[int, int] = {}
        for slot, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", self.log.read_text()):
            found[int(slot)] = int(pid)
        return found

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)


async def _storescu(port: int, folder: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        dcmtk_program("storescu"), "-v", "-aec", "DICOMNET", "127.0.0.1", str(port),
        "+sd", str(folder),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _echo(port: int) -> int:
    ae = AE("ECHOSCU", Policy(ae_title="ECHOSCU"))
    contexts = [ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(EXPLICIT_LE,))]
    async with ae.associate("127.0.0.1", port, called_ae="DICOMNET", contexts=contexts) as assoc:
        return (await assoc.echo()).code


async def test_http_config_gives_every_worker_one_http_port_and_its_settings(
    tmp_path: Path,
) -> None:
    """``--http-config`` alone (port 0 in the file): one reserved port, the file's credentials."""
    pytest.importorskip("starlette")
    import httpx

    from dicomnet.web.settings import hash_token

    config = tmp_path / "http.toml"
    config.write_text(
        f'[http]\nport = 0\nmax_results = 1\nbearer_tokens = ["{hash_token("s3cret")}"]\n'
    )
    store = tmp_path / "store"
    files = write_archive(tmp_path / "files")
    index = await open_index(store / ".index" / "index.sqlite", fsync=False)
    try:
        from dicomnet.archive import entry_from_file

        await index.put_many([entry_from_file(path) for path in files])
    finally:
        await index.close()
    supervisor = await Supervisor.start(store, None, "--workers", "2", "--http-config", str(config))
    try:
        assert len(supervisor.http_ports) == 2
        assert len(set(supervisor.http_ports)) == 1  # every worker on the one reserved port
        base = f"http://127.0.0.1:{supervisor.http_ports[0]}/dicomweb"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(6):  # new connections: the kernel spreads them over the workers
                refused = await client.get("/studies", headers={"Connection": "close"})
                assert refused.status_code == 401
                answered = await client.get(
                    "/studies", headers={"Authorization": "Bearer s3cret", "Connection": "close"}
                )
                assert answered.status_code == 200
                assert len(answered.json()) == 1  # max_results from the file
                assert "maximum" in answered.headers["warning"]
    finally:
        assert await supervisor.stop() == 0


@pytest.mark.interop
@pytest.mark.slow
async def test_two_workers_share_the_port_survive_kill_9_and_agree_with_the_index(
    tmp_path: Path, index_location
) -> None:
    store = tmp_path / "store"
    if not isinstance(index_location, str):
        index_location = store / ".index" / "index.sqlite"
    supervisor = await Supervisor.start(
        store, index_location, "--workers", "2", "--metrics-port", "0"
    )
    acknowledged: set[str] = set()
    try:
        # Both workers answer: they take the connections in turns.
        assert await asyncio.gather(*(_echo(supervisor.port) for _ in range(24))) == [0] * 24
        pids = supervisor.worker_pids()
        assert sorted(pids) == [0, 1]
        log = supervisor.log.read_text()
        assert re.search(r" w0 .*connection from", log) and re.search(r" w1 .*connection from", log)
        # Workers report their counters about once a second: wait until the supervisor
        # has both workers' echoes, so that the kill below tests that a dead worker's
        # counts are kept (not whether its last report came before the kill).
        assert supervisor.metrics_port is not None
        released = ("dicomnet_associations_total", (("outcome", "released"),))
        async with asyncio.timeout(60):
            while samples((await scrape(supervisor.metrics_port))[1]).get(released, 0) < 24:
                await asyncio.sleep(0.2)
        # Stores from several clients; one worker is killed in the middle of them.
        sources = []
        for client in range(6):
            folder = tmp_path / f"c{client}"
            _write_batch(folder, f"1.2.826.0.1.3680043.8.498.56.{client}", 30)
            sources.append(folder)
        clients = [await _storescu(supervisor.port, folder) for folder in sources]
        await asyncio.sleep(0.6)
        os.kill(pids[0], signal.SIGKILL)
        outputs = []
        for client in clients:
            out, _ = await asyncio.wait_for(client.communicate(), 120)
            outputs.append(out.decode("utf-8", "replace"))
            acknowledged |= _acknowledged(outputs[-1])
        # The killed worker is started again; afterwards every store succeeds.
        async with asyncio.timeout(60):
            while supervisor.worker_pids()[0] == pids[0]:
                await asyncio.sleep(0.1)
        after = tmp_path / "after"
        _write_batch(after, "1.2.826.0.1.3680043.8.498.57", 20)
        late = await _storescu(supervisor.port, after)
        out, _ = await asyncio.wait_for(late.communicate(), 120)
        assert late.returncode == 0, out.decode()
        late_acked = _acknowledged(out.decode("utf-8", "replace"))
        assert len(late_acked) == 20
        acknowledged |= late_acked
        # The supervisor sums its workers' counters (the dead one's are kept).
        assert supervisor.metrics_port is not None
        async with asyncio.timeout(30):
            while True:
                found = samples((await scrape(supervisor.metrics_port))[1])
                stored = found.get(("dicomnet_instances_total", ()), 0)
                if stored >= 20 and found.get(("dicomnet_workers", ()), 0) == 2:
                    break  # (the new worker counts once it listens)
                await asyncio.sleep(0.2)
        assert found[("dicomnet_worker_restarts_total", ())] >= 1
        assert found[("dicomnet_workers", ())] == 2
        assert found[released] >= 24
    finally:
        assert await supervisor.stop() == 0
    assert "starting it again" in supervisor.log.read_text()
    async with await open_index(index_location) as index:
        assert await index.journaled() == []
        rows = {uid: path for uid, path in await index.paths_since(0)}
    on_disk = {p for p in store.rglob("*.dcm") if p.relative_to(store).parts[0][0] != "."}
    leftovers = [p for p in (store / ".incoming").rglob("*") if p.is_file()]
    assert leftovers == [], "the killed worker's unfinished files were settled"
    assert acknowledged <= set(rows), "every acknowledged instance is indexed"
    assert {Path(path) for path in rows.values()} == on_disk, "index and folder agree"


async def test_associations_open_at_once_are_spread_evenly_over_the_workers(
    tmp_path: Path,
) -> None:
    """One accept queue, each connection to the worker serving fewer (SO_REUSEPORT's hash
    of the addresses gave one worker two thirds of a burst now and then)."""
    supervisor = await Supervisor.start(tmp_path / "store", None, "--workers", "2")
    ae = AE("ECHOSCU", Policy(ae_title="ECHOSCU"))
    contexts = [ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(EXPLICIT_LE,))]
    try:
        opened = await asyncio.gather(
            *(
                ae.associate("127.0.0.1", supervisor.port, called_ae="DICOMNET", contexts=contexts)
                for _ in range(16)
            )
        )
        log = supervisor.log.read_text()
        served = [len(re.findall(rf" w{slot} .*connection from", log)) for slot in (0, 1)]
        for assoc in opened:
            await assoc.release()
    finally:
        assert await supervisor.stop() == 0
    assert sum(served) == 16
    assert min(served) >= 7, served  # 8 each; one more or less when a worker was slow


async def test_a_limit_split_between_workers_admits_up_to_the_limit_at_once(
    tmp_path: Path,
) -> None:
    """--max-associations 6 over two workers: 3 each. Each connection goes to the worker
    serving fewer, so 6 associations held at once are all accepted (by a hash of the
    addresses, one worker could get 4 and reject one) and a 7th is rejected."""
    supervisor = await Supervisor.start(
        tmp_path / "store", None, "--workers", "2", "--max-associations", "6",
        "--on-association-limit", "reject",
    )  # fmt: skip
    ae = AE("ECHOSCU", Policy(ae_title="ECHOSCU"))
    contexts = [ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(EXPLICIT_LE,))]

    def associate():  # type: ignore[no-untyped-def]
        return ae.associate("127.0.0.1", supervisor.port, called_ae="DICOMNET", contexts=contexts)

    try:
        opened = [await associate() for _ in range(6)]
        with pytest.raises(AssociationRejected):
            await associate()
        for assoc in opened:
            await assoc.release()
    finally:
        assert await supervisor.stop() == 0


async def test_two_workers_serve_tls_from_the_shared_socket(tmp_path: Path) -> None:
    """Each worker wraps the connections it accepts from the supervisor's socket in TLS."""
    from helpers.certs import make_certs

    from dicomnet.tls import client_tls_context

    (tmp_path / "certs").mkdir()
    certs = make_certs(tmp_path / "certs")
    tls = ("--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key))
    supervisor = await Supervisor.start(tmp_path / "store", None, "--workers", "2", *tls)
    context = client_tls_context(str(certs.ca))
    ae = AE("ECHOSCU", Policy(ae_title="ECHOSCU"))
    contexts = [ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(EXPLICIT_LE,))]
    try:
        opened = await asyncio.gather(
            *(
                ae.associate(
                    "127.0.0.1",
                    supervisor.port,
                    called_ae="DICOMNET",
                    contexts=contexts,
                    ssl=context,
                )
                for _ in range(6)
            )
        )
        assert [(await assoc.echo()).code for assoc in opened] == [0] * 6
        for assoc in opened:
            await assoc.release()
        log = supervisor.log.read_text()
        assert re.search(r" w0 .*connection from", log) and re.search(r" w1 .*connection from", log)
    finally:
        assert await supervisor.stop() == 0


async def test_what_a_worker_killed_just_before_the_stop_left_is_settled(tmp_path: Path) -> None:
    store = tmp_path / "store"
    supervisor = await Supervisor.start(store, None, "--workers", "2")
    pids = supervisor.worker_pids()
    # What a worker killed in the middle of a C-STORE leaves: an unfinished file.
    unfinished = store / worker_incoming(0) / "killed.part"
    unfinished.write_bytes(b"\x00" * 200)
    os.kill(pids[0], signal.SIGKILL)
    # Stopped at once: the dead worker is not started again to settle its folder.
    assert await supervisor.stop() == 0
    assert supervisor.worker_pids() == pids
    assert [p for p in (store / ".incoming").rglob("*") if p.is_file()] == []


@pytest.mark.slow
async def test_sigterm_lets_a_live_association_finish_then_exits_0(tmp_path: Path) -> None:
    store = tmp_path / "store"
    supervisor = await Supervisor.start(store, None, "--workers", "1", "--drain", "30")
    ae = AE("ECHOSCU", Policy(ae_title="ECHOSCU"))
    contexts = [ProposedContext(abstract_syntax=VERIFICATION, transfer_syntaxes=(EXPLICIT_LE,))]
    assoc = await ae.associate(
        "127.0.0.1", supervisor.port, called_ae="DICOMNET", contexts=contexts
    )
    supervisor.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):  # the worker has stopped listening ...
        while "draining 1 association" not in supervisor.log.read_text():
            await asyncio.sleep(0.05)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", supervisor.port)
    assert (await assoc.echo()).code == 0  # ... and still serves the association it has
    await assoc.release()
    assert await asyncio.wait_for(supervisor.process.wait(), 30) == 0


async def test_a_worker_that_cannot_start_ends_the_start_with_its_code(tmp_path: Path) -> None:
    store = tmp_path / "store"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from dicomnet.cli.main import main; sys.exit(main())",
        "serve", "--port", "0", "--output", str(store), "--workers", "2",
        "--index", "postgresql://nobody@127.0.0.1:1/none",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, (out, err)
    assert b"listening on" not in out and b"postgresql://nobody@127.0.0.1:1/none" in err


@pytest.mark.interop
async def test_dcmtk_store_find_move_against_two_workers_on_postgresql(
    tmp_path: Path, postgres_cluster
) -> None:
    storescu, findscu, movescu = (dcmtk_program(p) for p in ("storescu", "findscu", "movescu"))
    files = write_archive(tmp_path / "files")
    store, received = tmp_path / "store", tmp_path / "received"
    received.mkdir()
    move_port = free_port()
    supervisor = await Supervisor.start(
        store, postgres_cluster.create_database(), "--workers", "2",
        "--destination", f"MOVESCU=127.0.0.1:{move_port}",
    )  # fmt: skip
    port = str(supervisor.port)
    try:
        code, out = await run_program(
            storescu, "-aec", "DICOMNET", "127.0.0.1", port, *map(str, files)
        )
        assert code == 0, out
        # Each association may land on either worker: both answer from the shared index.
        for _ in range(4):
            code, out = await run_program(
                findscu, "-v", "-S", "-aec", "DICOMNET", "-k", "QueryRetrieveLevel=STUDY",
                "-k", "PatientName=DOE*", "-k", "StudyInstanceUID",
                "-k", "NumberOfStudyRelatedInstances", "127.0.0.1", port,
            )  # fmt: skip
            assert code == 0, out
            assert f"[{STUDY_A}]" in out and f"[{STUDY_B}]" in out and "IS [3 ]" in out, out
            assert out.count("Find Response: ") == 2, out  # the two studies of DOE^JOHN
        code, out = await run_program(
            movescu, "-v", "-S", "-aet", "MOVESCU", "-aec", "DICOMNET", "--port", str(move_port),
            "-od", str(received), "-k", "QueryRetrieveLevel=STUDY",
            "-k", f"StudyInstanceUID={STUDY_A}", "127.0.0.1", port,
        )  # fmt: skip
        assert code == 0, out
        moved = sorted(str(dcmread(p).SOPInstanceUID) for p in received.iterdir())
        assert moved == [f"{STUDY_A}.1.1", f"{STUDY_A}.1.2", f"{STUDY_A}.2.3"]
    finally:
        assert await supervisor.stop() == 0


async def test_a_workers_warnings_carry_time_level_and_slot_without_verbose(
    tmp_path: Path,
) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c",
            "import sys; from dicomnet.cli.main import main; sys.exit(main())",
            "serve", "--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "store"),
            "--workers", "1", "--no-uvloop",
            stdout=asyncio.subprocess.PIPE, stderr=sink, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 90)
    port = int(re.match(rb"listening on (\d+)", line).group(1))  # type: ignore[union-attr]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(bytes([5, 0, 0, 0, 0, 4, 0, 0, 0, 0]))  # A-RELEASE-RQ instead of an RQ
    await writer.drain()
    assert (await asyncio.wait_for(reader.read(100), 30))[:1] == b"\x07"  # A-ABORT
    writer.close()
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 60) == 0
    warnings = [x for x in log.read_text().splitlines() if "instead of an A-ASSOCIATE-RQ" in x]
    assert len(warnings) == 1
    assert re.match(r"\d{4}-\d\d-\d\d [\d:,]+ w0 WARNING dicomnet", warnings[0]), warnings
