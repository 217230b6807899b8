"""The integrator's options override the profile: ``dicomnet serve``, the example servers and
the system file use the same names, and DCMTK's echoscu sees the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.support import server_example
from helpers.peers import dcmtk_program
from helpers.programs import run_program
from storage.test_scp_cli import Running, parse

from dicomnet.cli import serve as cli_serve
from dicomnet.errors import ConfigurationError
from dicomnet.overrides import OVERRIDE_KEYS, PolicyOverrides
from dicomnet.policy import LimitMode
from dicomnet.systems import load_system, start_system

pytestmark = pytest.mark.interop

OPTIONS = [
    "--calling-aet", "MODALITY", "--calling-aet", "WORKSTATION",
    "--called-aet", "ARCHIVE",
    "--max-pdu", "32768",
    "--max-associations", "3",
    "--on-association-limit", "queue",
    "--pack-command-and-data",
    "--max-pdvs-per-pdu", "2",
    "--no-tcp-nodelay",
]  # fmt: skip


def test_serve_options_replace_the_profile_values() -> None:
    policy = cli_serve.build_policy(parse(*OPTIONS))
    assert policy.ae_titles.calling_ae_titles == ("MODALITY", "WORKSTATION")
    assert policy.ae_titles.called_ae_titles == ("ARCHIVE",)
    assert policy.max_pdu_receive == 32768
    assert (policy.max_associations, policy.on_association_limit) == (3, LimitMode.QUEUE)
    assert policy.pack_command_and_data and policy.max_pdvs_per_pdu == 2
    assert not policy.tcp_nodelay
    plain = cli_serve.build_policy(parse())
    assert plain.ae_titles.calling_ae_titles is None and plain.tcp_nodelay  # the profile's
    with pytest.raises(ConfigurationError):
        cli_serve.build_policy(parse("--max-associations", "-1"))


def test_the_options_are_the_system_file_keys() -> None:
    parser = cli_serve.build_parser()
    options = {o for action in parser._actions for o in action.option_strings}
    for key in OVERRIDE_KEYS:
        assert "--" + key.replace("_", "-") in options, key
    assert PolicyOverrides(max_pdu=1).merged(PolicyOverrides(tcp_nodelay=False)) == PolicyOverrides(
        max_pdu=1, tcp_nodelay=False
    )


async def test_system_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        """
[system]
name = "site"
[resources]
store = "store"
[[ae]]
name = "storage"
profile = "lifesys-storage"
port = 0
services = ["storage"]
calling_aet = ["MODALITY"]
max_pdu = 65536
max_associations = 2
tcp_nodelay = false
"""
    )
    spec = load_system(path)
    running = await start_system(spec, host="127.0.0.1", root=tmp_path)
    try:
        policy = running.aes["storage"].policy
        assert policy.ae_titles.calling_ae_titles == ("MODALITY",)
        assert (policy.max_pdu_receive, policy.max_associations) == (65536, 2)
        assert not policy.tcp_nodelay
        assert policy.ae_title == "STORE_SCP"  # the rest is the profile's
        echoscu = dcmtk_program("echoscu")
        port = str(running.ports["storage"])
        code, out = await run_program(
            echoscu, "-aet", "OTHER", "-aec", "STORE_SCP", "127.0.0.1", port
        )
        assert code != 0 and "Association Rejected" in out, out
        code, out = await run_program(
            echoscu, "-d", "-aet", "MODALITY", "-aec", "STORE_SCP", "127.0.0.1", port
        )
        assert code == 0, out
        assert "65536" in out.split("BEGIN A-ASSOCIATE-AC", 1)[1]  # our Maximum Length
    finally:
        await running.close()


async def test_dicomnet_serve_with_the_options_against_echoscu(tmp_path: Path) -> None:
    echoscu = dcmtk_program("echoscu")
    serving = Running(
        ["--port", "0", "--host", "127.0.0.1", "--output", str(tmp_path / "out"), *OPTIONS]
    )
    try:
        port = str((await serving.server()).port)
        code, out = await run_program(
            echoscu, "-aet", "MODALITY", "-aec", "ARCHIVE", "127.0.0.1", port
        )
        assert code == 0, out
        code, out = await run_program(
            echoscu, "-aet", "OTHER", "-aec", "ARCHIVE", "127.0.0.1", port
        )
        assert "Association Rejected" in out, out  # calling AE not in the allow list
        code, out = await run_program(
            echoscu, "-aet", "MODALITY", "-aec", "DICOMNET", "127.0.0.1", port
        )
        assert "Association Rejected" in out, out  # not a called AE title we answer to
    finally:
        assert await serving.stop() == 0


async def test_an_example_server_takes_the_same_options(tmp_path: Path) -> None:
    echoscu = dcmtk_program("echoscu")
    async with server_example(
        "kodak_memory_server.py", "--calling-aet", "MANAGER", log=tmp_path / "log"
    ) as server:
        port = str(server.port)
        ok = await run_program(
            echoscu, "-aet", "MANAGER", "-aec", "MEMORY_SERVER", "127.0.0.1", port
        )
        refused = await run_program(
            echoscu, "-aet", "OTHER", "-aec", "MEMORY_SERVER", "127.0.0.1", port
        )
    assert ok[0] == 0, ok[1]
    assert "Association Rejected" in refused[1], refused[1]
