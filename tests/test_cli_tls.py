"""TLS options of ``serve``, ``echo`` and ``store``: a bad file or combination is a usage error.

Exit status 2 and one line on stderr that names the file and the problem; no
traceback, and nothing is attempted on the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.certs import CertSet, make_certs

from dicomnet.cli.main import main


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def not_pem(tmp_path: Path) -> Path:
    path = tmp_path / "not.pem"
    path.write_text("hello\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return code, lines[0]


def serve(tmp_path: Path, *tls: str) -> list[str]:
    return ["serve", "--host", "127.0.0.1", "--port", "0", "-o", str(tmp_path / "out"), *tls]


def test_serve_names_a_missing_certificate(
    tmp_path: Path, certs: CertSet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, line = run(capsys, *serve(tmp_path, "--tls-cert", "/nope.pem", "--tls-key", "/nope.key"))
    assert code == 2
    assert line == "dicomnet serve: certificate file not found: /nope.pem"


def test_serve_names_a_file_that_is_not_pem(
    tmp_path: Path, certs: CertSet, not_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = serve(tmp_path, "--tls-cert", str(not_pem), "--tls-key", str(certs.server_key))
    code, line = run(capsys, *argv)
    assert code == 2
    assert line == f"dicomnet serve: not a PEM certificate: {not_pem}"


def test_serve_requiring_client_certificates_needs_a_ca(
    tmp_path: Path, certs: CertSet, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = ("--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key))
    code, line = run(capsys, *serve(tmp_path, *tls, "--require-client-cert"))
    assert code == 2
    assert "--require-client-cert needs --tls-ca" in line


@pytest.mark.parametrize("command", ["echo", "store"])
def test_scu_commands_name_the_file(
    command: str, tmp_path: Path, certs: CertSet, not_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(tmp_path)] if command == "store" else []  # never read: TLS is checked first
    code, line = run(capsys, command, "--tls-ca", "/nope-ca.pem", "127.0.0.1", "9", *files)
    assert code == 2
    assert line == f"dicomnet {command}: error: CA bundle not found: /nope-ca.pem"
    tls = ("--tls-cert", str(not_pem), "--tls-key", str(certs.client_key))
    code, line = run(capsys, command, *tls, "127.0.0.1", "9", *files)
    assert code == 2
    assert line == f"dicomnet {command}: error: not a PEM certificate: {not_pem}"
