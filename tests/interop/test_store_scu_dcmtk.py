"""``dicomnet store`` -> DCMTK storescp: stored data set bytes equal the sent ones.

storescp runs with ``+B`` (bit-preserving: it writes each data set exactly as
received, behind a File Meta header of its own), so the data set part of each
stored file can be compared byte for byte with what the SCU sent.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.peers import dcmtk_program, free_port
from pydicom.data import get_testdata_file

from dicomnet.cli import store as store_cli
from dicomnet.storage.source import InstanceSource, read_file_meta
from dicomnet.storage.synthetic import make_image, write_part10
from dicomnet.storage.transcode import transcode

pytestmark = pytest.mark.interop

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


def wait_listening(port: int, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """Wait until ``process`` accepts TCP connections on ``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "storescp exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"storescp does not listen on {port}")


@pytest.fixture(scope="module")
def program() -> str:
    """DCMTK's storescp (looked up once: telling it from pynetdicom's takes a while)."""
    return dcmtk_program("storescp")


@contextmanager
def storescp(program: str, out: Path, *options: str) -> Iterator[int]:
    """A DCMTK storescp writing bit-preserved files to ``out``; yields its port."""
    port = free_port()
    out.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [program, "+B", "-od", str(out), *options, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def run_store(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dicomnet")
    store_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["store", "--no-progress", *argv])
    code: int = args.handler(args)
    return code


def stored_files(out: Path) -> dict[str, Path]:
    """The files storescp wrote, by SOP Instance UID."""
    found = {}
    for path in out.iterdir():
        meta = read_file_meta(path)
        assert meta is not None, path
        found[meta.sop_instance_uid] = path
    return found


def stored_data_set(path: Path) -> tuple[str, bytes]:
    meta = read_file_meta(path)
    assert meta is not None
    return meta.transfer_syntax_uid, path.read_bytes()[meta.dataset_offset :]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """One file per transfer syntax under test."""
    folder = tmp_path / "in"
    folder.mkdir()
    files = {}
    for n, syntax in enumerate((IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED)):
        ds = make_image(rows=32, columns=48, seed=n)
        files[syntax] = write_part10(folder / f"{n}.dcm", ds, syntax)
    jpeg = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    assert jpeg is not None
    files[JPEG_BASELINE] = folder / "jpeg.dcm"
    files[JPEG_BASELINE].write_bytes(Path(jpeg).read_bytes())
    return files


def test_each_syntax_stored_byte_for_byte(
    program: str, tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with storescp(program, out, "+xa") as port:
        # A directory: walked recursively; each file proposed in its own syntax only.
        code = run_store("--propose-ts", "orig", "127.0.0.1", str(port), str(tmp_path / "in"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Stored 5 of 5 instance(s)" in captured.out
    assert "5 success" in captured.out
    stored = stored_files(out)
    assert len(stored) == 5
    for syntax, path in inputs.items():
        source = InstanceSource.from_path(path)
        stored_syntax, data = stored_data_set(stored[source.sop_instance_uid])
        assert stored_syntax == syntax
        assert data == source.read(), syntax


def test_transcoded_when_peer_accepts_only_implicit(
    program: str, tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    explicit = inputs[EXPLICIT_LE]
    with storescp(program, out, "+xi") as port:
        code = run_store("-v", "127.0.0.1", str(port), str(explicit))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"transcoded to {IMPLICIT_LE}" in captured.err
    source = InstanceSource.from_path(explicit)
    stored_syntax, data = stored_data_set(stored_files(out)[source.sop_instance_uid])
    assert stored_syntax == IMPLICIT_LE
    assert data == transcode(source, IMPLICIT_LE)


def test_refused_transcoding_fails_naming_both_syntaxes(
    program: str, tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with storescp(program, out, "+xa") as port:
        # Only JPEG Baseline is proposed (and accepted); a native file cannot be encoded so.
        code = run_store(
            "--propose-ts", JPEG_BASELINE, "127.0.0.1", str(port), str(inputs[EXPLICIT_LE])
        )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert f"({EXPLICIT_LE})" in captured.err
    assert f"({JPEG_BASELINE})" in captured.err
    assert "1 not sent" in captured.out
    assert list(out.iterdir()) == []


def test_context_rejected_by_peer_fails(
    program: str, tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    implicit_mr = get_testdata_file("MR_small_implicit.dcm")
    assert implicit_mr is not None
    with storescp(program, out, "+xi") as port:
        # Secondary Capture is proposed in Explicit VR BE only: rejected by the peer.
        code = run_store(
            "--propose-ts", "orig", "127.0.0.1", str(port), str(inputs[EXPLICIT_BE]), implicit_mr
        )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "no accepted presentation context" in captured.err
    assert "Stored 1 of 2" in captured.out
    assert len(list(out.iterdir())) == 1


def test_no_peer_is_an_association_failure(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_store("-to", "5", "127.0.0.1", str(free_port()), str(inputs[EXPLICIT_LE]))
    captured = capsys.readouterr()
    assert code == 3
    assert "association with 127.0.0.1" in captured.err
    assert "1 not attempted" in captured.out
