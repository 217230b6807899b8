"""Every log record of an association names it: ``assoc#N LOCAL<-PEER`` / ``LOCAL->PEER``."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from helpers.peers import read_until_eof
from helpers.policies import make_policy

from dicomnet.ae import AE
from dicomnet.errors import AssociationRejected
from dicomnet.policy import AETitlePolicy

LABEL = re.compile(r"^assoc#(\d+) (\S+)(<-|->)(\S+): ")


async def test_every_record_names_the_association(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    policy = make_policy(
        "SCP", ae_titles=AETitlePolicy(called_ae_titles=("SCP",)), timers={"artim": 0.2}
    )
    async with await AE("SCP", policy).serve("127.0.0.1", 0) as server:
        caplog.clear()  # the "listening on" record is the server's, not an association's
        async with AE("SCU").associate("127.0.0.1", server.port, called_ae="SCP") as assoc:
            assert (await assoc.echo()).is_success
        with pytest.raises(AssociationRejected):
            await AE("SCU").associate("127.0.0.1", server.port, called_ae="WRONG")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\xff" * 12)  # garbage: A-ABORT, then ARTIM closes
        await asyncio.wait_for(read_until_eof(reader), 5)
        writer.close()
    records = [r for r in caplog.records if r.name.startswith("dicomnet")]
    assert records
    unlabelled = [r.getMessage() for r in records if not LABEL.match(r.getMessage())]
    assert unlabelled == []
    for record in records:
        label = record.getMessage().split(": ", 1)[0]
        assert getattr(record, "association", None) == label
    server_side = [r.getMessage() for r in records if "<-" in r.getMessage().split(":")[0]]
    # The accept path: connection (labelled by address until the RQ names the caller),
    # then every later record labelled with both AE titles.
    assert any(
        re.match(r"assoc#\d+ SCP<-127\.0\.0\.1:\d+: connection from", m) for m in server_side
    )
    assert any(re.match(r"assoc#\d+ SCP<-SCU: established", m) for m in server_side)
    assert any(
        re.match(r"assoc#\d+ WRONG<-SCU: rejecting: result 1 source 1 reason 7", m)
        for m in server_side
    )
    assert any(re.match(r"assoc#\d+ SCP<-SCU: peer released", m) for m in server_side)
    # Requestor side too.
    assert any(re.match(r"assoc#\d+ SCU->SCP: established", r.getMessage()) for r in records)
    assert any(
        re.match(r"assoc#\d+ SCP<-127\.0\.0\.1:\d+: invalid data instead of an A-ASSOCIATE-RQ", m)
        for m in server_side
    )
    # ...and only for that connection, not for the rejected or released ones.
    assert sum("invalid data" in r.getMessage() for r in records) == 1


def test_a_renamed_label_is_formatted_only_when_a_record_needs_it(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dicomnet import log as log_module

    formatted: list[str] = []
    original = log_module.association_label

    def counting(*args: object, **kwargs: object) -> str:
        formatted.append("x")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(log_module, "association_label", counting)
    logger = log_module.AssociationLogger(logging.getLogger("dicomnet.test.label"), "")
    caplog.set_level(logging.WARNING, logger="dicomnet.test.label")
    logger.rename(7, "SCP", "10.0.0.1:5000", requestor=False)
    logger.rename(7, "SCP", "MODALITY\n", requestor=False)
    logger.info("below the level")
    assert formatted == []
    logger.warning("shown")
    logger.warning("shown again")
    assert formatted == ["x"]
    assert [r.getMessage() for r in caplog.records] == [
        "assoc#7 SCP<-MODALITY\\n: shown",
        "assoc#7 SCP<-MODALITY\\n: shown again",
    ]
    assert caplog.records[0].association == "assoc#7 SCP<-MODALITY\\n"  # type: ignore[attr-defined]
