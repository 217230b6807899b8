"""A large file's data set goes out read straight into the PDUs (FileDataSet, PDataRun).

The peer must receive exactly the file's data set for any maximum PDU length it
grants, over TLS too; a file that shrinks after it was checked ends the association
instead of sending a short data set; the reader itself fills views exactly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module
from helpers.certs import CertSet, make_certs
from helpers.policies import make_policy

from dicomnet.ae import AE, Server
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.storage.file_data import FileDataSet
from dicomnet.storage.scu import store, store_all, store_many
from dicomnet.storage.source import SMALL_FILE, InstanceSource, SourceError
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.tls import client_tls_context, server_tls_context
from dicomnet.transport import run

from .test_scu_store import Received, recording_scp

EXPLICIT_LE = "1.2.840.10008.1.2.1"
SC = "1.2.840.10008.5.1.4.1.1.7"


def large_file(folder: Path, name: str = "large.dcm", rows: int = 400) -> Path:
    ds = make_image(rows=rows, columns=rows + 1, sop_instance_uid=f"1.2.3.{rows}.{len(name)}")
    path = write_part10(folder / name, ds, EXPLICIT_LE)
    assert path.stat().st_size > SMALL_FILE  # not read ahead: sent from the file
    return path


def _scp(max_pdu: int) -> AE:
    policy = make_policy(
        "STORE-SCP",
        accepted_contexts=(AcceptedContext(abstract_syntax=SC, transfer_syntaxes=(EXPLICIT_LE,)),),
        max_pdu_receive=max_pdu,
    )
    return AE("STORE-SCP", policy)


def _contexts() -> list[ProposedContext]:
    return [ProposedContext(abstract_syntax=SC, transfer_syntaxes=(EXPLICIT_LE,))]


def _requestor() -> AE:
    # No cap of our own: the peer's Maximum Length Received alone limits the PDUs.
    return AE("STORE-SCU", make_policy("STORE-SCU", max_pdu_send=0))


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.mark.parametrize("max_pdu", [16384, 5001, 1 << 20, 0])
async def test_the_peer_gets_the_files_data_set_for_any_pdu_length(
    max_pdu: int, received: Received, tmp_path: Path
) -> None:
    paths = [large_file(tmp_path, f"{rows}.dcm", rows) for rows in (400, 401)]
    server = await _scp(max_pdu).serve("127.0.0.1", 0, handlers=[recording_scp(received)])
    async with server:
        async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
            assert assoc.negotiated.max_pdu_send == max_pdu
            results = await store_all(assoc, paths)
    assert [r.ok for r in results] == [True, True]
    for path, result in zip(paths, results, strict=True):
        source = InstanceSource.from_path(path)
        assert result.bytes_sent == source.size
        assert received.stored[source.sop_instance_uid] == (
            EXPLICIT_LE,
            path.read_bytes()[source.offset :],
        )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.mark.parametrize("max_pdu", [16384, 1 << 20])
async def test_over_tls(
    max_pdu: int,
    certs: CertSet,
    received: Received,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sendfile_calls = _count_sendfile(monkeypatch)
    path = large_file(tmp_path, rows=700)
    server_context = server_tls_context(
        str(certs.server_cert), str(certs.server_key), str(certs.ca), require_client_cert=True
    )
    client_context = client_tls_context(
        str(certs.ca), str(certs.client_cert), str(certs.client_key)
    )
    server = await _scp(max_pdu).serve(
        "127.0.0.1", 0, handlers=[recording_scp(received)], ssl=server_context
    )
    async with server:
        async with _requestor().associate(
            "127.0.0.1",
            server.port,
            contexts=_contexts(),
            ssl=client_context,
            server_hostname="localhost",
        ) as assoc:
            results = await store_all(assoc, [path, path])
    assert [r.ok for r in results] == [True, True]
    source = InstanceSource.from_path(path)
    assert received.stored[source.sop_instance_uid][1] == path.read_bytes()[source.offset :]
    assert sendfile_calls == []  # TLS: every byte is encrypted, none goes by sendfile


def _count_sendfile(monkeypatch: pytest.MonkeyPatch, share: float = 1.0) -> list[int]:
    """Record each os.sendfile call's result; with ``share`` < 1 send only that part."""
    calls: list[int] = []
    real = os.sendfile

    def sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        sent = real(out_fd, in_fd, offset, max(1, int(count * share)))
        calls.append(sent)
        return sent

    monkeypatch.setattr(os, "sendfile", sendfile)
    return calls


@pytest.mark.parametrize("share", [1.0, 0.3])
async def test_big_pdus_go_by_sendfile_and_a_partial_send_is_completed(
    share: float, received: Received, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_sendfile(monkeypatch, share)
    paths = [large_file(tmp_path, f"{rows}.dcm", rows) for rows in (700, 701)]
    server = await _scp(300_001).serve("127.0.0.1", 0, handlers=[recording_scp(received)])
    async with server:
        async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
            results = await store_all(assoc, paths)
    assert [r.ok for r in results] == [True, True]
    assert calls and sum(calls) > 300_000
    for path in paths:
        source = InstanceSource.from_path(path)
        assert received.stored[source.sop_instance_uid][1] == path.read_bytes()[source.offset :]


async def test_a_socket_that_takes_nothing_falls_back_to_reading(
    received: Received, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        raise BlockingIOError

    monkeypatch.setattr(os, "sendfile", full)
    path = large_file(tmp_path, rows=700)
    server = await _scp(1 << 20).serve("127.0.0.1", 0, handlers=[recording_scp(received)])
    async with server:
        async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
            (result,) = await store_all(assoc, [path])
    assert result.ok
    source = InstanceSource.from_path(path)
    assert received.stored[source.sop_instance_uid][1] == path.read_bytes()[source.offset :]


@pytest.fixture
async def server(received: Received) -> AsyncIterator[Server]:
    async with await _scp(16384).serve(
        "127.0.0.1", 0, handlers=[recording_scp(received)]
    ) as running:
        yield running


async def test_a_file_that_shrank_after_its_check_aborts(
    server: Server, received: Received, tmp_path: Path
) -> None:
    path = large_file(tmp_path)
    source = InstanceSource.from_path(path)
    source.check()
    os.truncate(path, path.stat().st_size - 100_000)
    async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
        with pytest.raises(SourceError, match="shorter than when it was opened"):
            await store(assoc, source)
        assert not assoc.is_established
    assert source.sop_instance_uid not in received.stored


def test_the_reader_fills_views_and_adds_the_pad_byte(tmp_path: Path) -> None:
    path = tmp_path / "data"
    content = bytes(i % 253 for i in range(5000))
    path.write_bytes(b"HEAD" + content)
    reader = FileDataSet(path, 4, len(content), pad=True)
    assert reader.length == 5001
    buffer = bytearray(5001)
    view = memoryview(buffer)
    # More views than one preadv call takes, the last holding only the pad byte.
    views = [view[i : i + 4] for i in range(0, 5000, 4)] + [view[5000:]]
    reader.readinto(views[:700])
    reader.readinto(views[700:])
    reader.close()
    assert bytes(buffer) == content + b"\0"
    assert b"".join(reader.chunks()) == content + b"\0"


def test_the_pad_byte_shares_a_view_with_data(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"abc")
    reader = FileDataSet(path, 0, 3, pad=True)
    buffer = bytearray(b"\xff" * 4)
    reader.readinto([memoryview(buffer)])
    reader.close()
    assert bytes(buffer) == b"abc\0"


def test_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    reader = FileDataSet(tmp_path / "gone", 0, 10)
    with pytest.raises(SourceError, match="gone"):
        reader.readinto([memoryview(bytearray(10))])


@pytest.mark.parametrize("max_pdu", [16384, 1 << 20])
def test_on_uvloop(max_pdu: int, certs: CertSet, tmp_path: Path) -> None:
    # uvloop's transports may keep a written buffer rather than copy it, and hand out
    # their socket: the bytes must arrive unchanged, plain and over TLS.
    require_module("uvloop")
    paths = [large_file(tmp_path, f"{rows}.dcm", rows) for rows in (700, 701)]

    async def both() -> None:
        for tls in (False, True):
            received = Received()
            ssl_args: dict[str, object] = {}
            server_ssl = None
            if tls:
                server_ssl = server_tls_context(
                    str(certs.server_cert), str(certs.server_key), str(certs.ca)
                )
                ssl_args = {
                    "ssl": client_tls_context(
                        str(certs.ca), str(certs.client_cert), str(certs.client_key)
                    ),
                    "server_hostname": "localhost",
                }
            server = await _scp(max_pdu).serve(
                "127.0.0.1", 0, handlers=[recording_scp(received)], ssl=server_ssl
            )
            async with server:
                async with _requestor().associate(
                    "127.0.0.1", server.port, contexts=_contexts(), **ssl_args
                ) as assoc:
                    results = await store_all(assoc, paths)
            assert [r.ok for r in results] == [True, True]
            for path in paths:
                source = InstanceSource.from_path(path)
                stored = received.stored[source.sop_instance_uid][1]
                assert stored == path.read_bytes()[source.offset :]

    run(both(), use_uvloop=True)


async def test_the_next_file_is_made_ready_while_the_peer_works_on_the_last(
    received: Received, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Synchronous (window 1): the second file is opened and checked while the first
    # one's answer is awaited, and sent only after that answer.
    first, second = (large_file(tmp_path, f"{rows}.dcm", rows) for rows in (400, 401))
    first_uid = InstanceSource.from_path(first).sop_instance_uid
    released = asyncio.Event()
    opened_while_waiting: list[list[str]] = []
    opened: list[str] = []

    real_check = InstanceSource.check

    def counting_check(source: InstanceSource, *args: Any, **kwargs: Any) -> None:
        real_check(source, *args, **kwargs)
        opened.append(str(source.path))

    def gate(uid: str) -> asyncio.Event | None:
        if uid != first_uid:
            return None
        opened_while_waiting.append([])
        asyncio.get_running_loop().call_later(0.2, _release)
        return released

    def _release() -> None:
        opened_while_waiting[0].extend(opened)
        released.set()

    received.gate = gate
    monkeypatch.setattr(InstanceSource, "check", counting_check)
    server = await _scp(16384).serve("127.0.0.1", 0, handlers=[recording_scp(received)])
    async with server:
        async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
            results = [r async for r in store_many(assoc, [first, second], window=1)]
    assert [r.ok for r in results] == [True, True]
    assert str(second) in opened_while_waiting[0]
    assert received.order == [first_uid, InstanceSource.from_path(second).sop_instance_uid]
