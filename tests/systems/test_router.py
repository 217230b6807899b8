"""Several AEs on one port, each association routed by its called AE title."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program
from helpers.programs import run_program
from helpers.pynetdicom_scu import run_pynetdicom_scus

from dicomnet.ae import AE
from dicomnet.errors import AssociationRejected
from dicomnet.policy import VERIFICATION_SOP_CLASS, ProposedContext
from dicomnet.systems import RunningSystem, load_system, start_system

STORAGE_CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

TWO_ON_ONE_PORT = """
[system]
name = "two on one port"
[resources]
store = "disk"
[[ae]]
name = "disk"
profile = "kodak-disk-server"
port = 11112
services = ["storage", "qr"]
{fallback}
[[ae]]
name = "memory"
profile = "kodak-memory-server"
port = 11112
services = ["memory-storage"]
"""


async def _start(tmp_path: Path, *, fallback: bool = False) -> RunningSystem:
    path = tmp_path / "two.toml"
    path.write_text(TWO_ON_ONE_PORT.format(fallback="unknown_called_ae = true" if fallback else ""))
    return await start_system(
        load_system(path), host="127.0.0.1", root=tmp_path, any_port=True, fsync=False
    )


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[RunningSystem]:
    running = await _start(tmp_path)
    yield running
    await running.close()


def _contexts() -> list[ProposedContext]:
    return [
        ProposedContext(
            abstract_syntax=VERIFICATION_SOP_CLASS, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE)
        ),
        ProposedContext(abstract_syntax=STORAGE_CT, transfer_syntaxes=(EXPLICIT_LE, IMPLICIT_LE)),
    ]


async def test_both_aes_share_one_bound_port(two: RunningSystem) -> None:
    assert two.ports["disk"] == two.ports["memory"] != 0
    assert len(two.routed) == 1


async def test_each_called_title_reaches_its_own_ae(two: RunningSystem) -> None:
    port = two.ports["disk"]
    for title, name in (("DISK_SERVER", "disk"), ("MEMORY_SERVER", "memory")):
        async with AE("ROUTER-TEST").associate(
            "127.0.0.1", port, called_ae=title, contexts=_contexts()
        ) as association:
            assert (await association.echo()).code == 0
            # The AE that answered is the one named: it counts the association as its own.
            assert [a.policy.ae_title for a in two.servers[name].active] == [title]
            other = "memory" if name == "disk" else "disk"
            assert not two.servers[other].active


async def test_unknown_called_title_is_rejected_1_1_7(two: RunningSystem) -> None:
    with pytest.raises(AssociationRejected) as info:
        await AE("ROUTER-TEST").associate(
            "127.0.0.1", two.ports["disk"], called_ae="NOBODY", contexts=_contexts()
        )
    assert (int(info.value.result), int(info.value.source), info.value.reason) == (1, 1, 7)


async def test_lifesys_unknown_title_gets_verification_only(tmp_path: Path) -> None:
    running = await start_system(
        load_system("lifesys"), host="127.0.0.1", root=tmp_path, any_port=True, fsync=False
    )
    try:
        async with AE("ROUTER-TEST").associate(
            "127.0.0.1", running.ports["qr"], called_ae="NOBODY", contexts=_contexts()
        ) as association:
            accepted = {c.abstract_syntax for c in association.contexts}
            assert accepted == {VERIFICATION_SOP_CLASS}
            assert (await association.echo()).code == 0
    finally:
        await running.close()


@pytest.mark.interop
async def test_dcmtk_echoscu_each_title_and_an_unknown_one(two: RunningSystem) -> None:
    echoscu = dcmtk_program("echoscu")
    port = str(two.ports["disk"])
    for title in ("DISK_SERVER", "MEMORY_SERVER"):
        code, output = await run_program(echoscu, "-aec", title, "127.0.0.1", port)
        assert code == 0, output
    code, output = await run_program(echoscu, "-v", "-aec", "NOBODY", "127.0.0.1", port)
    assert code != 0
    assert "Called AE Title Not Recognized" in output, output


@pytest.mark.interop
async def test_pynetdicom_reaches_each_lifesys_ae_on_the_shared_port(tmp_path: Path) -> None:
    running = await start_system(
        load_system("lifesys"), host="127.0.0.1", root=tmp_path, any_port=True, fsync=False
    )
    port = running.ports["qr"]
    find = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Q/R - FIND
    mwl = "1.2.840.10008.5.1.4.31"  # Modality Worklist - FIND
    try:
        echo = "1.2.840.10008.1.1"
        base = {"host": "127.0.0.1", "port": port, "echo": True, "contexts": [echo, find, mwl]}
        qr, worklist, other = await run_pynetdicom_scus(
            [{**base, "called": "QR_SCP"}, {**base, "called": "MWL_SCP"}, {**base, "called": "X"}]
        )
    finally:
        await running.close()
    accepted = 0
    assert qr["contexts"] == {echo: accepted, find: accepted, mwl: 3}
    assert worklist["contexts"] == {echo: accepted, find: 3, mwl: accepted}
    # Any other title reaches STORE_SCP, whose profile gives such a caller Verification only.
    assert other["contexts"][echo] == accepted
    assert other["contexts"][find] != accepted and other["contexts"][mwl] != accepted
    assert [r["echo"] for r in (qr, worklist, other)] == [0, 0, 0]
