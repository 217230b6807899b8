"""``--system lifesys``: MWL items kept in the system's index, commitment reports kept there."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive.test_serve_mwl_commitment import CONTEXTS, SCU_TITLE, outstanding, scu_ae
from examples.test_lifesys_worklist import STEP, patients, worklist_query
from query.worklist_items import item, write_items

from dicomnet.services.commitment import CommitmentSCU, FailedInstance, InstanceRef
from dicomnet.services.commitment_durable import DurableCommitmentSCP
from dicomnet.storage.scu import store_all
from dicomnet.storage.synthetic import SECONDARY_CAPTURE, make_image
from dicomnet.systems import load_system, start_system
from dicomnet.systems.resources import IndexedWorklist

pytestmark = pytest.mark.interop


async def test_lifesys_worklist_and_commitment_from_its_index(tmp_path: Path) -> None:
    write_items(tmp_path / "lifesys-worklist")  # WL1 CT, WL2 MR, WL3 CT (folder items)
    scu = CommitmentSCU()
    receiver = await scu_ae(scu).serve("127.0.0.1", 0)
    running = await start_system(
        load_system("lifesys"),
        host="127.0.0.1",
        root=tmp_path,
        any_port=True,
        fsync=False,
        destinations=[(SCU_TITLE, ("127.0.0.1", receiver.port))],
    )
    try:
        port = running.ports["storage"]
        worklist = running.resources.worklist
        assert isinstance(worklist, IndexedWorklist)
        await worklist.kept.add(
            item(8, name="KEPT^ITEM", modality="CT", station="CT1", date="20240301")
        )
        code, out = await worklist_query(port, f"{STEP}.Modality=CT")
        assert code == 0 and patients(out) == ["WL1", "WL3", "WL8"], out
        assert all(isinstance(c, DurableCommitmentSCP) for c in running.commitments)
        async with scu_ae(scu).associate(
            "127.0.0.1", port, called_ae="STORE_SCP", contexts=CONTEXTS
        ) as assoc:
            results = await store_all(assoc, [make_image(rows=4, columns=4, seed=5)])
            stored = InstanceRef(results[0].sop_class_uid, results[0].sop_instance_uid)
            unknown = InstanceRef(SECONDARY_CAPTURE, "1.2.826.0.1.3680043.8.498.405")
            uid = await scu.request_commitment(assoc, [stored, unknown])
        result = await scu.wait_for_report(uid, timeout=20)  # on a new association (LifeSys)
        assert result.committed == (stored,)
        assert result.failed == (
            FailedInstance(SECONDARY_CAPTURE, unknown.sop_instance_uid, 0x0112),
        )
        for commitment in running.commitments:
            await commitment.drain()
        assert await outstanding(tmp_path / "lifesys-archive" / ".index" / "index.sqlite") == []
    finally:
        await running.close()
        receiver.close()
        await receiver.wait_closed()
