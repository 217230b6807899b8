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

import pydicom
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


# ---------------------------------------------------------------- peers preferring uncompressed

RLE_LOSSLESS = "1.2.840.10008.1.2.5"

# A storescp profile that accepts JPEG Baseline and RLE Lossless but ranks the
# uncompressed syntaxes first, as storescp's own default (+x=) does: given one
# context listing both kinds, it picks an uncompressed one.
UNCOMPRESSED_FIRST_CONFIG = """\
[[TransferSyntaxes]]
[UncompressedFirst]
TransferSyntax1 = LocalEndianExplicit
TransferSyntax2 = OppositeEndianExplicit
TransferSyntax3 = LittleEndianImplicit
TransferSyntax4 = JPEGBaseline
TransferSyntax5 = RLELossless
[[PresentationContexts]]
[Storage]
PresentationContext1 = SecondaryCaptureImageStorage\\UncompressedFirst
PresentationContext2 = MRImageStorage\\UncompressedFirst
[[Profiles]]
[UncompressedFirst]
PresentationContexts = Storage
"""


@pytest.fixture
def compressed(tmp_path: Path) -> dict[str, Path]:
    """A JPEG Baseline file (pydicom's) and an RLE Lossless one made here with pydicom."""
    folder = tmp_path / "compressed"
    folder.mkdir()
    jpeg = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    assert jpeg is not None
    (folder / "jpeg.dcm").write_bytes(Path(jpeg).read_bytes())
    native = write_part10(folder / "native", make_image(rows=32, columns=48, seed=7), EXPLICIT_LE)
    ds = pydicom.dcmread(native)
    ds.compress(RLE_LOSSLESS, encoding_plugin="pydicom")
    ds.save_as(folder / "rle.dcm", enforce_file_format=True)
    native.unlink()
    return {JPEG_BASELINE: folder / "jpeg.dcm", RLE_LOSSLESS: folder / "rle.dcm"}


@pytest.mark.parametrize("propose", ["auto", "orig"])
def test_compressed_files_stored_as_they_are_by_a_peer_preferring_uncompressed(
    program: str,
    tmp_path: Path,
    compressed: dict[str, Path],
    propose: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "storescp.cfg"
    config.write_text(UNCOMPRESSED_FIRST_CONFIG)
    out = tmp_path / "out"
    with storescp(program, out, "-xf", str(config), "UncompressedFirst") as port:
        code = run_store(
            "-v", "--propose-ts", propose, "127.0.0.1", str(port), *map(str, compressed.values())
        )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "transcoded" not in captured.err
    stored = stored_files(out)
    assert len(stored) == 2
    for syntax, path in compressed.items():
        source = InstanceSource.from_path(path)
        assert source.transfer_syntax_uid == syntax
        stored_syntax, data = stored_data_set(stored[source.sop_instance_uid])
        assert stored_syntax == syntax
        assert data == source.read(), syntax


def test_storescp_defaults_take_compressed_files_only_through_the_fallback(
    program: str, tmp_path: Path, compressed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # storescp's defaults accept uncompressed syntaxes only: each file's own context is
    # rejected and the separate fallback context carries it decompressed.
    out = tmp_path / "out"
    with storescp(program, out) as port:
        code = run_store("-v", "127.0.0.1", str(port), *map(str, compressed.values()))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.count(f"transcoded to {EXPLICIT_LE}") == 2
    stored = stored_files(out)
    for path in compressed.values():
        source = InstanceSource.from_path(path)
        stored_syntax, data = stored_data_set(stored[source.sop_instance_uid])
        assert stored_syntax == EXPLICIT_LE
        assert data == transcode(source, EXPLICIT_LE)


def test_orig_proposes_nothing_but_the_files_own_syntax(
    program: str, tmp_path: Path, compressed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # With no fallback proposed, a peer that takes no compressed syntax gets nothing.
    out = tmp_path / "out"
    with storescp(program, out) as port:
        code = run_store(
            "--propose-ts", "orig", "127.0.0.1", str(port), *map(str, compressed.values())
        )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert captured.err.count("no accepted presentation context") == 2
    assert "2 not sent" in captured.out
    assert list(out.iterdir()) == []


def test_file_cut_short_is_not_sent(
    program: str, tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(inputs[EXPLICIT_LE].read_bytes()[:2001])  # head -c 2001: inside Pixel Data
    out = tmp_path / "out"
    with storescp(program, out, "+xa") as port:
        code = run_store("127.0.0.1", str(port), str(cut), str(inputs[IMPLICIT_LE]))
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert f"E: {cut}: not sent: truncated at byte 2001:" in captured.err
    assert "Stored 1 of 2 instance(s)" in captured.out
    stored = stored_files(out)
    assert list(stored) == [InstanceSource.from_path(inputs[IMPLICIT_LE]).sop_instance_uid]
