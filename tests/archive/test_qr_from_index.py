"""The Q/R SCP over the SQLite index: C-CANCEL mid-stream releases the cursor, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

from pydicom.dataset import Dataset
from query.fixtures import archive_datasets

from dicomnet.ae import AE
from dicomnet.archive import SqliteIndex, entry_from_header
from dicomnet.dimse.status import Status
from dicomnet.policy import AcceptedContext, Policy, ProposedContext
from dicomnet.services.qr import FIND, QueryRetrieveService, find, sop_class_for

SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
STUDY_FIND = sop_class_for("study", FIND)


def ident(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


async def test_cancel_mid_stream_and_bad_identifiers(tmp_path: Path) -> None:
    index = await SqliteIndex.open(tmp_path / "i.sqlite", fsync=False, readers=1)
    base = archive_datasets()[0]
    entries = []
    for n in range(600):
        ds = Dataset(base)
        ds.SOPInstanceUID = f"1.2.3.{n}"
        ds.StudyInstanceUID = f"1.2.4.{n}"
        ds.SeriesInstanceUID = f"1.2.4.{n}.1"
        entries.append(
            entry_from_header(
                ds,
                sop_instance_uid=str(ds.SOPInstanceUID),
                sop_class_uid=str(ds.SOPClassUID),
                transfer_syntax_uid=SYNTAXES[0],
                path=f"/nowhere/{n}.dcm",
                size=0,
            )
        )
    await index.put_many(entries)
    accepted = AcceptedContext(abstract_syntax=STUDY_FIND, transfer_syntaxes=SYNTAXES)
    proposed = ProposedContext(abstract_syntax=STUDY_FIND, transfer_syntaxes=SYNTAXES)
    policy = Policy(ae_title="QR_SCP", accepted_contexts=(accepted,))
    scu = Policy(ae_title="QR_SCU", proposed_contexts=(proposed,))
    try:
        service = QueryRetrieveService(index)
        async with await AE("QR_SCP", policy, handlers=[service]).serve("127.0.0.1", 0) as server:
            async with AE("QR_SCU", scu).associate(
                "127.0.0.1", server.port, called_ae="QR_SCP"
            ) as assoc:
                results = find(assoc, ident("STUDY", StudyInstanceUID=""))
                seen = 0
                async for _ in results:
                    seen += 1
                    if seen == 2:
                        await results.cancel()
                assert results.status == Status.CANCEL
                assert 2 <= seen < 600
                # The one reader connection was given back: the next query runs to the end.
                results = find(assoc, ident("STUDY", StudyInstanceUID="1.2.4.7\\1.2.4.9"))
                uids = sorted([str(ds.StudyInstanceUID) async for ds in results])
                assert uids == ["1.2.4.7", "1.2.4.9"] and results.status == Status.SUCCESS
                # A key below the level: A900, nothing else touched.
                results = find(assoc, ident("STUDY", SOPInstanceUID="1.2.3.1"))
                assert [ds async for ds in results] == []
                assert results.status == 0xA900
                # A huge UID list is matched (in Python past the SQL limit), not refused.
                many = "\\".join(f"1.2.4.{n}" for n in range(1500))
                results = find(assoc, ident("STUDY", StudyInstanceUID=many))
                assert len([ds async for ds in results]) == 600
                assert results.status == Status.SUCCESS
        assert await index.count() == 600
    finally:
        await index.close()
