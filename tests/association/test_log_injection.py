"""Values a peer chose never shape the log: no forged lines, no megabyte lines.

A UID holding a newline used to start a second, forged record line; a 1 MB UID made
a 1 MB line. :func:`dicomnet.log.logsafe` escapes and caps every such value.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.policies import IMPLICIT_LE, make_policy
from helpers.raw_ul import RawClient, element, pdata_bytes, store_rq_command

from dicomnet import negotiation
from dicomnet.ae import AE
from dicomnet.conformance.defaults import storage_policy
from dicomnet.log import LOGSAFE_LIMIT, association_label, logsafe
from dicomnet.policy import ProposedContext, Timers
from dicomnet.services.storage_scp import StorageService
from dicomnet.storage.folder import FolderStore
from dicomnet_pdu.pdus import AAssociateAC

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
FORGED = "1.2.3\n2026-12-05 04:00:00 INFO dicomnet.association: stored 9.9.9"
HUGE = "1." + "2" * (1 << 20)


def test_control_characters_are_escaped() -> None:
    assert logsafe(FORGED) == FORGED.replace("\n", "\\n")
    assert logsafe("a\rb\x1b[31mc\u2028d\x00") == "a\\rb\\x1b[31mc\\u2028d\\x00"
    assert logsafe(b"1.2\n\xff") == "1.2\\n\\xff"
    assert logsafe("1.2.840.10008.1.1") == "1.2.840.10008.1.1"


def test_long_values_are_capped_with_their_length() -> None:
    shown = logsafe(HUGE)
    assert shown == HUGE[:LOGSAFE_LIMIT] + f"... ({len(HUGE)} chars)"
    assert logsafe("x" * LOGSAFE_LIMIT) == "x" * LOGSAFE_LIMIT  # at the limit: kept whole
    # escapes count towards the limit, so a value of control characters is capped too
    assert len(logsafe("\x01" * 10_000, 64)) <= 64 + len("... (10000 chars)")
    assert logsafe(bytes(100_000), 8) == "\\x00\\x00... (100000 chars)"


def test_association_labels_escape_titles() -> None:
    label = association_label(1, "SCP", "EVIL\nTITLE", requestor=False)
    assert "\n" not in label
    assert label == "assoc#1 SCP<-EVIL\\nTITLE"


@pytest.mark.parametrize("uid", [FORGED, HUGE], ids=["newline", "1MB"])
async def test_peer_uids_make_one_bounded_line_per_record(
    uid: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dicomnet")
    # A command set this large is refused by default; let it through to reach the log.
    policy = replace(
        storage_policy("SCP"), max_command_set=4 << 20, timers=replace(Timers(), artim=0.3)
    )
    store = FolderStore(tmp_path / "store")
    ae = AE("SCP", policy, handlers=[StorageService(store)])
    contexts = (
        ProposedContext(abstract_syntax=SECONDARY_CAPTURE, transfer_syntaxes=(IMPLICIT_LE,)),
    )
    rq = negotiation.build_request(make_policy("RAW"), called_ae_title="SCP", contexts=contexts)
    dataset = element(0x00080016, SECONDARY_CAPTURE) + element(0x00080018, uid)
    async with await ae.serve("127.0.0.1", 0) as server:
        raw = await RawClient.connect("127.0.0.1", server.port)
        try:
            assert isinstance(await raw.request(rq), AAssociateAC)
            raw.send(pdata_bytes(1, store_rq_command(1, uid), dataset))
            await raw.receive(timeout=10)  # the C-STORE-RSP, whatever its status
        finally:
            await raw.close()
    records = [r for r in caplog.records if r.name.startswith("dicomnet")]
    quoting = [r for r in records if "1.2.3\\n2026" in r.getMessage() or "1.2222" in r.getMessage()]
    assert quoting, [r.getMessage()[:200] for r in records]  # the UID was logged...
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    for record in records:
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line, line[:300]  # ...on one line
        assert len(line) < 1200, line[:300]  # ...of bounded length
