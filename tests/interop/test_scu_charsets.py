"""dicomnet as C-FIND SCU writes non-ASCII identifiers in a declared character set.

The AE's profile declares its repertoires (``[character_sets] supported``). A query
holding MÜLLER^HANS or 山田^太郎 goes out in the first declared set that holds every
value, named in Specific Character Set (0008,0005), unless the profile says its queries
name none (Flux Find SCU, 002 §3.2.1.3.1.3.4: Latin-1 bytes, no (0008,0005)).

* pynetdicom as C-FIND SCP (in a child process) reports the bytes of each identifier it
  received, so the set named and the encoding of the name are checked as sent.
* DCMTK's dcmqrscp holds MÜLLER in ISO_IR 100 and 山田 in ISO_IR 192 and matches the
  bytes; it answers in the request's set (its default ``--use-request-charset``), so
  each name is found and read back intact only when the query named its set.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from io import BytesIO
from typing import Any

import pytest
from conftest import require_module
from examples.support import dcmqrscp_archive
from helpers.queries import patient_name_query
from pydicom.filereader import read_dataset

from dicomnet.ae import AE
from dicomnet.conformance import load_profile
from dicomnet.policy import Policy, ProposedContext
from dicomnet.services.qr import find

from .test_charsets_peers import MUELLER, YAMADA, write_patients

pytestmark = pytest.mark.interop

PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"

# A C-FIND SCP answering every query with no match; prints its port, then on stdin EOF the
# hex of every identifier received.
FIND_SCP = r"""
import json, sys, time
from pynetdicom import AE, evt
seen = []
def on_find(event):
    seen.append(event.request.Identifier.getvalue().hex())
    yield 0x0000, None
ae = AE(ae_title="FINDSCP")
ae.add_supported_context("1.2.840.10008.5.1.4.1.2.1.1",
                         ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)])
print(server.server_address[1], flush=True)
sys.stdin.read()
while server.active_associations:
    time.sleep(0.01)
server.shutdown()
print(json.dumps(seen), flush=True)
"""


def scu_policy(charsets: tuple[str, ...], *, named: bool = True) -> Policy:
    return Policy(
        ae_title="DNFIND",
        proposed_contexts=(
            ProposedContext(abstract_syntax=PATIENT_FIND, transfer_syntaxes=(EXPLICIT, IMPLICIT)),
        ),
        character_sets=charsets,
        name_charset_in_requests=named,
    )


async def sent_identifiers(policy: Policy, names: list[str]) -> list[tuple[str | None, bytes]]:
    """(Specific Character Set, raw Patient's Name bytes) of each query, as pynetdicom got it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FIND_SCP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    port = int(await asyncio.wait_for(process.stdout.readline(), 30))
    try:
        async with AE(policy.ae_title, policy).associate(
            "127.0.0.1", port, called_ae="FINDSCP"
        ) as assoc:
            for name in names:
                results = find(assoc, patient_name_query(name), model=PATIENT_FIND)
                assert [ds async for ds in results] == []
                assert results.status == 0x0000
    finally:
        out, _ = await asyncio.wait_for(process.communicate(b""), 30)
    seen: list[Any] = json.loads(out.decode().strip().splitlines()[-1])
    got = []
    for hexed in seen:
        # The accepted context is Explicit VR Little Endian (proposed first).
        ds = read_dataset(
            BytesIO(bytes.fromhex(hexed)), is_implicit_VR=False, is_little_endian=True
        )
        charset = ds.get("SpecificCharacterSet")
        raw = ds.get_item(0x00100010).value.rstrip(b" ")  # without its even-length padding
        got.append((None if charset is None else str(charset), raw))
    return got


async def test_each_name_goes_out_in_the_first_declared_set_that_holds_it() -> None:
    require_module("pynetdicom")
    policy = scu_policy(("ISO_IR 100", "ISO_IR 192"))
    got = await sent_identifiers(policy, [MUELLER, YAMADA, "SMITH^JOHN"])
    assert got == [
        ("ISO_IR 100", MUELLER.encode("latin-1")),
        ("ISO_IR 192", YAMADA.encode("utf-8")),
        (None, b"SMITH^JOHN"),  # ASCII: the default repertoire, nothing to name
    ]


async def test_seed_profiles_utf8_latin1_unnamed_and_default_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    require_module("pynetdicom")
    meddream = replace(load_profile("meddream-qr-client").policy(), ae_title="DNFIND")
    meddream = replace(meddream, proposed_contexts=scu_policy(()).proposed_contexts)
    # MedDream §5: UTF-8 only, so both names go out in ISO_IR 192.
    assert await sent_identifiers(meddream, [MUELLER, YAMADA]) == [
        ("ISO_IR 192", MUELLER.encode()),
        ("ISO_IR 192", YAMADA.encode()),
    ]
    flux = load_profile("flux-find-scu").policy()
    flux = replace(flux, proposed_contexts=scu_policy(()).proposed_contexts)
    # Flux §4 ISO_IR 100, §3.2.1.3.1.3.4 no Specific Character Set in its queries.
    got = await sent_identifiers(flux, [MUELLER, YAMADA])
    assert got == [(None, MUELLER.encode("latin-1")), (None, b"??^??")]
    assert "PatientName cannot be written in ISO_IR 100" in caplog.text
    # An AE declaring the default repertoire only (Kodak §6).
    kodak = replace(scu_policy(()), character_sets=())
    assert await sent_identifiers(kodak, [MUELLER]) == [(None, b"M?LLER^HANS")]


async def test_dcmqrscp_finds_each_name_queried_in_its_own_set(tmp_path: Any) -> None:
    policy = scu_policy(("ISO_IR 100", "ISO_IR 192"))
    files = write_patients(tmp_path / "files")  # MÜLLER in ISO_IR 100, 山田 in ISO_IR 192
    found: dict[str, list[tuple[str, str]]] = {}
    async with dcmqrscp_archive(tmp_path, files) as archive:
        async with AE("DNFIND", policy).associate(
            "127.0.0.1", archive.port, called_ae=archive.title
        ) as assoc:
            for name in (MUELLER, YAMADA):
                results = find(assoc, patient_name_query(name), model=PATIENT_FIND)
                found[name] = [(str(ds.PatientID), str(ds.PatientName)) async for ds in results]
                assert results.status == 0x0000
    assert found == {MUELLER: [("P1", MUELLER)], YAMADA: [("P2", YAMADA)]}
