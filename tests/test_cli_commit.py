"""``dicomnet commit``: the request, the report on the same or a new association, exit codes.

Against dicomnet's :class:`CommitmentSCP` (in-process) in each report mode, and
against a pynetdicom SCP (a child process) that reports on the same association.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import require_module
from helpers.cli import run_cli
from helpers.peers import free_port
from interop.test_commitment_pynetdicom import SCP_SCRIPT

from dicomnet.ae import AE, Server
from dicomnet.policy import AcceptedContext, Policy
from dicomnet.services.commitment import STORAGE_COMMITMENT_PUSH_MODEL, CommitmentSCP, ReportMode
from dicomnet.storage.memory import MemoryStore
from dicomnet.storage.sinks import InstanceInfo
from dicomnet.storage.synthetic import make_image, write_part10

CT = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
Capsys = pytest.CaptureFixture[str]


def _stored(*uids: str) -> MemoryStore:
    store = MemoryStore()
    for uid in uids:
        info = InstanceInfo(sop_class_uid=CT, sop_instance_uid=uid, transfer_syntax_uid=IMPLICIT_LE)
        store.install(info, b"")
    return store


@pytest.fixture
async def scp_factory() -> AsyncIterator[list[tuple[Server, CommitmentSCP]]]:
    made: list[tuple[Server, CommitmentSCP]] = []
    yield made
    for server, scp in made:
        scp.close()
        server.close()
        await server.wait_closed()


async def start_scp(
    made: list[tuple[Server, CommitmentSCP]],
    mode: ReportMode,
    destinations: dict[str, tuple[str, int]] | None = None,
) -> tuple[int, CommitmentSCP]:
    policy = Policy(
        ae_title="ARCHIVE",
        accepted_contexts=(
            AcceptedContext(
                abstract_syntax=STORAGE_COMMITMENT_PUSH_MODEL, transfer_syntaxes=(IMPLICIT_LE,)
            ),
        ),
    )
    ae = AE("ARCHIVE", policy)
    scp = CommitmentSCP(
        store=_stored("1.2.1", "1.2.2"), mode=mode, destinations=destinations, requestor=ae
    )
    ae.add_handler(scp)
    server = await ae.serve("127.0.0.1", 0)
    made.append((server, scp))
    return server.port, scp


async def test_report_on_the_same_association_from_files_and_uids(
    scp_factory: list[tuple[Server, CommitmentSCP]], tmp_path: Path, capsys: Capsys
) -> None:
    port, _ = await start_scp(scp_factory, ReportMode.SAME)
    image = make_image(rows=2, columns=2, sop_class_uid=CT, seed=1)
    image.SOPInstanceUID = "1.2.1"
    write_part10(tmp_path / "a.dcm", image, IMPLICIT_LE)
    code, out, err = await run_cli(
        capsys, "commit", "127.0.0.1", str(port), "-aec", "ARCHIVE",
        str(tmp_path), f"{CT}:1.2.2", f"{CT}:1.2.1",
    )  # fmt: skip
    assert code == 0, err
    assert "commitment requested for 2 instance(s): 2.25." in out
    assert out.splitlines()[-1] == "committed 2, not committed 0"


async def test_report_on_a_new_association_with_a_failure(
    scp_factory: list[tuple[Server, CommitmentSCP]], capsys: Capsys
) -> None:
    port, scp = await start_scp(scp_factory, ReportMode.NEW)
    for _ in range(3):
        # The port was free a moment ago; another process may take it before the
        # command binds it (exit 6, "cannot listen"): then try another one.
        listen = free_port()
        scp.destinations["COMMITSCU"] = ("127.0.0.1", listen)
        code, out, err = await run_cli(
            capsys, "commit", "127.0.0.1", str(port), "-aec", "ARCHIVE",
            "--listen-host", "127.0.0.1", "--listen-port", str(listen),
            f"{CT}:1.2.1", f"{CT}:1.2.404",
        )  # fmt: skip
        if not (code == 6 and "cannot listen" in err):
            break
    assert code == 1, err
    assert "not committed: 1.2.404 (failure reason 0x0112, no such object instance)" in out
    assert out.splitlines()[-1] == "committed 1, not committed 1"
    await scp.drain()
    assert len(scp.reported) == 1


async def test_no_report_in_time_is_exit_5(
    scp_factory: list[tuple[Server, CommitmentSCP]], capsys: Capsys
) -> None:
    # A new association is asked for, to an AE title whose address the SCP does not know.
    port, _ = await start_scp(scp_factory, ReportMode.NEW)
    code, _, err = await run_cli(
        capsys, "commit", "127.0.0.1", str(port), "-aec", "ARCHIVE",
        f"{CT}:1.2.1", "--report-timeout", "0.5",
    )  # fmt: skip
    assert code == 5
    assert "no commitment report within 0.5 s" in err


async def test_usage_errors(capsys: Capsys, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = await run_cli(capsys, "commit", "127.0.0.1", "104", str(tmp_path / "empty"))
    assert code == 2 and "nothing to commit" in err
    (tmp_path / "x.dcm").write_text("not dicom")
    code, _, err = await run_cli(capsys, "commit", "127.0.0.1", "104", str(tmp_path / "x.dcm"))
    assert code == 2 and "x.dcm" in err
    code, _, err = await run_cli(capsys, "commit", "127.0.0.1", "104", "1.2.3")
    assert code == 2 and "not CLASS_UID:INSTANCE_UID" in err
    with pytest.raises(SystemExit) as exit_info:
        await run_cli(capsys, "commit", "127.0.0.1", "104")
    assert exit_info.value.code == 2


@pytest.fixture
def pynetdicom_scp() -> Iterator[int]:
    """A pynetdicom commitment SCP that knows instances 1.3.1 and 1.3.2 (reports at once)."""
    require_module("pynetdicom")
    process = subprocess.Popen(
        [sys.executable, "-c", SCP_SCRIPT, "1.3.1", "1.3.2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(b"READY"), line
        yield int(line.split()[1])
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.interop
async def test_commit_against_pynetdicom(pynetdicom_scp: int, capsys: Capsys) -> None:
    code, out, err = await run_cli(
        capsys, "commit", "127.0.0.1", str(pynetdicom_scp),
        f"{CT}:1.3.1", f"{CT}:1.3.9",
    )  # fmt: skip
    assert code == 1, err
    assert "not committed: 1.3.9 (failure reason 0x0112" in out
    assert out.splitlines()[-1] == "committed 1, not committed 1"
