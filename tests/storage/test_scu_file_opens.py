"""The Storage SCU opens a small file once: meta, walk and send come from one read."""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.policies import make_policy

from dicomnet.ae import AE, Server
from dicomnet.policy import AcceptedContext, ProposedContext
from dicomnet.storage import source as source_module
from dicomnet.storage.scu import store, store_all
from dicomnet.storage.source import SMALL_FILE, InstanceSource, SourceError
from dicomnet.storage.synthetic import make_image, write_part10

from .test_scu_store import Received, recording_scp

EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
SC = "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the source module opens (with ``open`` or ``os.open``), in order."""
    seen: list[str] = []
    os_open = os.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(file))
        return builtins.open(file, *args, **kwargs)

    def counting_os_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_globals.get("__name__") == source_module.__name__:
            seen.append(str(file))
        return os_open(file, *args, **kwargs)

    monkeypatch.setattr(source_module, "open", counting_open, raising=False)
    monkeypatch.setattr(os, "open", counting_os_open)
    return seen


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
async def server(received: Received) -> AsyncIterator[Server]:
    policy = make_policy(
        "STORE-SCP",
        accepted_contexts=(
            AcceptedContext(abstract_syntax=SC, transfer_syntaxes=(EXPLICIT_LE, DEFLATED)),
        ),
    )
    async with await AE("STORE-SCP", policy).serve(
        "127.0.0.1", 0, handlers=[recording_scp(received)]
    ) as running:
        yield running


def _contexts(syntax: str = EXPLICIT_LE) -> list[ProposedContext]:
    return [ProposedContext(abstract_syntax=SC, transfer_syntaxes=(syntax,))]


def _requestor() -> AE:
    return AE("STORE-SCU", make_policy("STORE-SCU"))


def _image(folder: Path, name: str, rows: int = 16, syntax: str = EXPLICIT_LE) -> Path:
    ds = make_image(rows=rows, columns=rows, sop_instance_uid=f"1.2.3.{rows}.{len(name)}")
    return write_part10(folder / name, ds, syntax)


async def test_a_small_file_is_opened_once(
    server: Server, received: Received, opened: list[str], tmp_path: Path
) -> None:
    path = _image(tmp_path, "small.dcm")
    async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
        result = await store(assoc, path)
    assert result.ok
    assert opened == [str(path)]
    source = InstanceSource.from_path(path)
    assert received.stored[result.sop_instance_uid][1] == path.read_bytes()[source.offset :]


async def test_a_listed_small_file_is_opened_once_more_to_send(
    server: Server, received: Received, opened: list[str], tmp_path: Path
) -> None:
    path = _image(tmp_path, "listed.dcm")
    source = InstanceSource.from_path(path)  # listed first, as ``dicomnet store`` does
    assert not source.in_memory
    async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
        result = await store(assoc, source)
    assert result.ok
    assert opened == [str(path), str(path)]  # the meta; then one read to walk and send
    assert not source.in_memory  # the read-ahead is not kept once sent
    assert received.stored[source.sop_instance_uid][1] == path.read_bytes()[source.offset :]


async def test_a_small_source_sent_twice_sends_the_same_bytes(
    server: Server, received: Received, tmp_path: Path
) -> None:
    path = _image(tmp_path, "twice.dcm")
    source = InstanceSource.from_path(path, preload=SMALL_FILE)
    assert source.in_memory
    async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
        first = await store(assoc, source)
        kept = received.stored[source.sop_instance_uid][1]
        second = await store(assoc, source)
    assert first.ok and second.ok
    assert first.bytes_sent == second.bytes_sent == source.size
    assert received.stored[source.sop_instance_uid][1] == kept


async def test_a_larger_file_is_not_read_ahead(tmp_path: Path) -> None:
    path = _image(tmp_path, "large.dcm", rows=512)  # 512 KB of Pixel Data
    assert path.stat().st_size > SMALL_FILE
    assert not InstanceSource.from_path(path, preload=SMALL_FILE).in_memory


async def test_a_small_file_cut_short_is_refused_where_it_ends(
    server: Server, received: Received, tmp_path: Path
) -> None:
    whole = _image(tmp_path, "whole.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole.read_bytes()[:-100])
    async with _requestor().associate("127.0.0.1", server.port, contexts=_contexts()) as assoc:
        with pytest.raises(SourceError, match=f"truncated at byte {cut.stat().st_size}"):
            await store(assoc, cut)
        (stored,) = await store_all(assoc, [whole])
    assert stored.ok
    assert received.order == [stored.sop_instance_uid]


async def test_an_odd_deflated_small_file_gets_its_pad_byte(
    server: Server, received: Received, tmp_path: Path
) -> None:
    for seed in range(64):
        ds = make_image(rows=8, columns=8, seed=seed, sop_instance_uid=f"1.2.9.{seed}")
        path = write_part10(tmp_path / f"{seed}.dcm", ds, DEFLATED, unpadded=True)
        source = InstanceSource.from_path(path, preload=SMALL_FILE)
        if source.pad:
            break
    else:
        raise AssertionError("no odd-length deflate stream found")
    async with _requestor().associate(
        "127.0.0.1", server.port, contexts=_contexts(DEFLATED)
    ) as assoc:
        result = await store(assoc, source)
    assert result.ok and result.bytes_sent == source.size
    sent = received.stored[source.sop_instance_uid][1]
    assert sent == path.read_bytes()[source.offset :] + b"\0"
