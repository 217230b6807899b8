"""``dicomnet store``: inputs, usage errors, summary, progress bar, and the window option."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from pathlib import Path

import pytest

from dicomnet.cli import store as store_cli
from dicomnet.cli.options import verbosity
from dicomnet.dimse.status import StatusCategory
from dicomnet.storage.scu import StoreResult
from dicomnet.storage.source import InstanceSource
from dicomnet.storage.synthetic import make_image, write_part10

from .test_scu_store import ALL_SYNTAXES, Received, serve

EXPLICIT_LE = "1.2.840.10008.1.2.1"
SC = "1.2.840.10008.5.1.4.1.1.7"

RUNNER = """
import argparse, sys
from dicomnet.cli import store
parser = argparse.ArgumentParser(prog="dicomnet")
store.register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dicomnet")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    store_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def result(category: StatusCategory, status: int | None, size: int = 10) -> StoreResult:
    return StoreResult(
        label="x", sop_class_uid="", sop_instance_uid="", status=status, category=category,
        bytes_sent=size,
    )  # fmt: skip


def test_options_parse_like_storescu() -> None:
    args = parse("store", "-aet", "ME", "-aec", "YOU", "--window", "4", "host", "104", "a", "b")
    assert (args.aet, args.called_ae, args.window) == ("ME", "YOU", 4)
    assert (args.peer, args.port, args.paths) == ("host", 104, ["a", "b"])
    assert args.handler is store_cli.run_store
    assert verbosity(parse("-v", "store", "h", "1", "f")) == 1
    assert verbosity(parse("store", "-v", "-v", "h", "1", "f")) == 2


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert store_cli.run_store(parse("store", "h", "1", str(tmp_path))) == 2
    assert "no DICOM files" in capsys.readouterr().err
    args = parse("store", "--propose-ts", "bogus", "h", "1", str(tmp_path))
    assert store_cli.run_store(args) == 2
    assert "bogus" in capsys.readouterr().err


def test_inputs_named_junk_fails_walked_junk_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "tree"
    (folder / "sub").mkdir(parents=True)
    write_part10(folder / "sub" / "one.dcm", make_image(rows=4, columns=4), EXPLICIT_LE)
    (folder / "notes.txt").write_text("not DICOM")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 10)
    err = io.StringIO()
    sources, unreadable, skipped = store_cli.load_sources([str(folder), str(junk)], err=err)
    assert [s.path for s in sources] == [folder / "sub" / "one.dcm"]
    assert skipped == 1
    assert [r.label for r in unreadable] == [str(junk)]
    assert unreadable[0].status is None
    assert "junk.bin" in err.getvalue()


def test_summary_counts_each_category() -> None:
    tally = store_cli.Tally(total=6, skipped=2)
    tally.add(result(StatusCategory.SUCCESS, 0x0000, 2048))
    tally.add(result(StatusCategory.WARNING, 0xB000))
    tally.add(result(StatusCategory.FAILURE, 0xA700))
    tally.add(result(StatusCategory.FAILURE, None, 0))
    tally.add(result(StatusCategory.SUCCESS, 0x0000))
    assert tally.failed == 3  # one failure status, one not sent, one never tried
    text = tally.summary()
    assert text.startswith("Stored 3 of 6 instance(s), 2.0 KiB:")
    for part in ("2 success", "1 warning", "1 failure", "1 not sent", "1 not attempted"):
        assert part in text
    assert "2 skipped" in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    tally = store_cli.Tally(total=4)
    tally.add(result(StatusCategory.SUCCESS, 0))
    terminal = Terminal()
    bar = store_cli.Progress(terminal, tally)
    bar.update()
    assert "\r[" in terminal.getvalue()
    assert "1/4" in terminal.getvalue()
    bar.clear()
    assert terminal.getvalue().endswith("\r\x1b[K")
    plain = io.StringIO()
    store_cli.Progress(plain, tally).update()
    assert plain.getvalue() == ""
    off = Terminal()
    store_cli.Progress(off, tally, enabled=False).update()
    assert off.getvalue() == ""


async def test_window_option_keeps_requests_in_flight(tmp_path: Path) -> None:
    files = [
        write_part10(tmp_path / f"{n}.dcm", make_image(rows=8, columns=8, seed=n), EXPLICIT_LE)
        for n in range(4)
    ]
    received = Received()
    first_seen = asyncio.Event()
    second_seen = asyncio.Event()

    def gate(uid: str) -> asyncio.Event | None:
        # The first request is answered only once a second one has arrived.
        if first_seen.is_set():
            second_seen.set()
            return None
        first_seen.set()
        return second_seen

    received.gate = gate
    async with await serve(received, {SC: ALL_SYNTAXES}, window=8) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, "store", "--window", "4", "-aec", "STORE-SCP",
            "127.0.0.1", str(server.port), *map(str, files),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "Stored 4 of 4 instance(s)" in out.decode()
    assert received.most_busy >= 2
    assert len(received.stored) == 4


async def test_file_cut_short_is_not_sent(tmp_path: Path) -> None:
    whole = write_part10(tmp_path / "whole.dcm", make_image(rows=8, columns=8), EXPLICIT_LE)
    big = write_part10(tmp_path / "big.dcm", make_image(rows=64, columns=64, seed=1), EXPLICIT_LE)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(big.read_bytes()[:5000])  # head -c 5000 big.dcm > cut.dcm
    received = Received()
    async with await serve(received, {SC: ALL_SYNTAXES}) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, "store", "--no-progress", "-aec", "STORE-SCP",
            "127.0.0.1", str(server.port), str(cut), str(whole),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, err.decode()
    assert f"E: {cut}: not sent: truncated at byte 5000:" in err.decode()
    assert "Stored 1 of 2 instance(s)" in out.decode()
    assert "1 not sent" in out.decode()
    assert received.order == [InstanceSource.from_path(whole).sop_instance_uid]
