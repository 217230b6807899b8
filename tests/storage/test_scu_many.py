"""store_many over many small files: sends without a task each, same results as store()."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from dicomnet.dimse.status import StatusCategory
from dicomnet.dimse.walker import DatasetWalker
from dicomnet.services.base import Reply
from dicomnet.storage.scu import StoreResult, store_many
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.transport import ULProtocol

from .test_scu_store import EXPLICIT_LE, IMPLICIT_LE, SC, Received, propose, requestor, serve

MR = "1.2.840.10008.5.1.4.1.1.4"


def series(folder: Path, count: int, syntax: str = EXPLICIT_LE) -> list[Path]:
    """``count`` look-alike instances: same elements and lengths, other UIDs and pixels."""
    return [
        write_part10(
            folder / f"{n:03d}.dcm",
            make_image(rows=8, columns=8, seed=n, sop_instance_uid=f"1.2.3.{100 + n}"),
            syntax,
        )
        for n in range(count)
    ]


async def test_many_look_alike_files_mixed_with_bad_ones(tmp_path: Path) -> None:
    paths = series(tmp_path, 12)
    # A file cut short among its look-alikes is still refused (a shape never vouches
    # for a shorter data set), and so is one whose header was damaged.
    cut = paths[5].read_bytes()
    paths[5].write_bytes(cut[:-3])
    damaged = bytearray(paths[8].read_bytes())
    damaged[-(8 * 8 * 2) - 8 : -(8 * 8 * 2) - 6] = b"ZZ"  # the Pixel Data VR
    paths[8].write_bytes(bytes(damaged))
    (tmp_path / "junk.dcm").write_bytes(b"not dicom at all")
    implicit = write_part10(
        tmp_path / "implicit.dcm", make_image(rows=8, columns=8, sop_instance_uid="1.2.3.99"),
        IMPLICIT_LE,
    )  # fmt: skip
    items = [*paths, tmp_path / "junk.dcm", tmp_path / "missing.dcm", implicit]
    received = Received()
    received.status["1.2.3.102"] = Reply(status=0xB000)  # a warning: stored
    received.status["1.2.3.103"] = Reply(status=0xA700)  # a failure
    async with await serve(received, {SC: (EXPLICIT_LE,)}, window=3) as server:
        contexts = propose((SC, (EXPLICIT_LE,)))
        async with requestor(3).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            results = [r async for r in store_many(assoc, items)]
    by_label = {Path(r.label).name: r for r in results}
    assert len(results) == len(items) == len(by_label)
    assert by_label["005.dcm"].status is None and "truncated" in str(by_label["005.dcm"].error)
    assert by_label["008.dcm"].status is None
    assert by_label["junk.dcm"].status is None
    assert by_label["missing.dcm"].status is None
    assert by_label["implicit.dcm"].ok and by_label["implicit.dcm"].transcoded
    assert by_label["002.dcm"].ok and by_label["002.dcm"].category is StatusCategory.WARNING
    assert not by_label["003.dcm"].ok and by_label["003.dcm"].status == 0xA700
    sent = [n for n in range(12) if n not in (5, 8)]
    assert {by_label[f"{n:03d}.dcm"].status for n in sent} == {0x0000, 0xB000, 0xA700}
    assert all(by_label[f"{n:03d}.dcm"].bytes_sent > 0 for n in sent)
    assert sorted(received.stored) == sorted([f"1.2.3.{100 + n}" for n in sent] + ["1.2.3.99"])
    assert received.most_busy <= 3


async def test_the_window_is_filled_and_never_exceeded(tmp_path: Path) -> None:
    paths = series(tmp_path, 9)
    received = Received()
    release = asyncio.Event()
    arrived: list[str] = []

    def gate(uid: str) -> asyncio.Event:
        arrived.append(uid)
        if len(arrived) == 4:
            release.set()
        return release

    received.gate = gate
    async with await serve(received, {SC: (EXPLICIT_LE,)}, window=4) as server:
        contexts = propose((SC, (EXPLICIT_LE,)))
        async with requestor(4).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            results = [r async for r in store_many(assoc, paths, window=4)]
    assert [r.ok for r in results] == [True] * 9
    assert received.most_busy == 4  # all four in flight before any was answered
    assert received.order == [f"1.2.3.{100 + n}" for n in range(9)]


async def test_a_burst_of_small_requests_goes_out_in_halves_of_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = series(tmp_path, 8)
    flushed: list[int] = []
    real_flush = ULProtocol.flush

    def spy(self: ULProtocol) -> None:
        flushed.append(self._deferred)
        real_flush(self)

    monkeypatch.setattr(ULProtocol, "flush", spy)
    received = Received()
    async with await serve(received, {SC: (EXPLICIT_LE,)}, window=4) as server:
        contexts = propose((SC, (EXPLICIT_LE,)))
        async with requestor(4).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            results = [r async for r in store_many(assoc, paths, window=4)]
    assert [r.ok for r in results] == [True] * 8
    # The first burst fills the window (4): its first two requests were written
    # before the other two were prepared.
    message = 2 * 6 + 12 + len(paths[0].read_bytes())  # an upper bound per request
    assert flushed and 0 < flushed[0] < 2 * message


async def test_results_equal_those_the_constructor_makes(tmp_path: Path) -> None:
    # Results of answered C-STOREs are not made by StoreResult's __init__: each must
    # still be an ordinary frozen, hashable result with every field set.
    paths = series(tmp_path, 3)
    received = Received()
    received.status["1.2.3.101"] = Reply(status=0xB000, fields={"error_comment": "kept"})
    async with await serve(received, {SC: (EXPLICIT_LE,)}, window=3) as server:
        contexts = propose((SC, (EXPLICIT_LE,)))
        async with requestor(3).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            results = [r async for r in store_many(assoc, paths)]
    assert len(results) == 3
    for result in results:
        values = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
        made = StoreResult(**values)
        assert made == result and hash(made) == hash(result) and repr(made) == repr(result)
        assert result.error is None and result.attempts == 1 and not result.transcoded
        assert result.transfer_syntax == EXPLICIT_LE and result.bytes_sent > 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.status = 1  # type: ignore[misc]
    warned = next(r for r in results if r.sop_instance_uid == "1.2.3.101")
    assert warned.status == 0xB000 and warned.error_comment == "kept" and warned.ok
    assert warned.category is StatusCategory.WARNING


async def test_the_next_association_of_the_ae_sends_look_alikes_without_a_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks: list[int] = []
    real = DatasetWalker._walk

    def counting(walker: DatasetWalker, view: memoryview) -> None:
        walks.append(len(view))
        real(walker, view)

    monkeypatch.setattr(DatasetWalker, "_walk", counting)
    paths = series(tmp_path, 4)
    cut = paths[3].read_bytes()
    paths[3].write_bytes(cut[:-3])
    received = Received()
    ae = requestor(3)
    contexts = propose((SC, (EXPLICIT_LE,)))
    async with await serve(received, {SC: (EXPLICIT_LE,)}, window=3) as server:
        async with ae.associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            first = [r async for r in store_many(assoc, paths[:1])]
        assert len(walks) == 1 and first[0].ok
        async with ae.associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            second = [r async for r in store_many(assoc, paths[1:])]
        # Two look-alikes of the first association's file pass as it did; the one cut
        # short is walked (no shape vouches for a shorter data set) and refused.
        assert len(walks) == 2
        by_label = {Path(r.label).name: r for r in second}
        assert by_label["001.dcm"].ok and by_label["002.dcm"].ok
        assert by_label["003.dcm"].status is None
        assert "truncated" in str(by_label["003.dcm"].error)
        # Another AE keeps nothing of this one's.
        async with requestor(3).associate("127.0.0.1", server.port, contexts=contexts) as assoc:
            third = [r async for r in store_many(assoc, paths[1:2])]
        assert len(walks) == 3 and third[0].ok
    assert set(received.stored) == {"1.2.3.100", "1.2.3.101", "1.2.3.102"}
