"""``dicomnet conformance list|render|check``, in-process; ``check`` against a live SCP."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dicomnet.ae import AE
from dicomnet.cli import conformance as cli
from dicomnet.conformance import list_profiles, load_profile, load_registry
from dicomnet.conformance.check import check_profile, contexts_to_check

EBE = "1.2.840.10008.1.2.2"
IVR = "1.2.840.10008.1.2"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dicomnet")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["conformance", *argv])


def test_list_prints_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("list")
    assert args.handler is cli.run_list
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(list_profiles())
    assert any("LifeSys PACS: Storage" in line for line in lines)


def test_render_to_file_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "statement.html"
    args = parse("render", "kodak-disk-server", "--format", "html", "-o", str(out))
    assert args.handler(args) == 0
    assert "Disk-Server" in out.read_text(encoding="utf-8")
    args = parse("render", "lifesys-mwl")
    assert args.handler(args) == 0
    assert capsys.readouterr().out.startswith("# LifeSys PACS: Modality Worklist")


def test_render_of_an_unknown_profile_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("render", "no-such-profile")
    assert args.handler(args) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_render_into_a_missing_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "statement.md"
    args = parse("render", "lifesys-mwl", "-o", str(target))
    assert args.handler(args) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err == f"error: cannot write {target}: No such file or directory\n"
    assert not target.parent.exists()


@pytest.mark.parametrize("action", [["list"], ["render", "lifesys-mwl"]])
def test_data_goes_before_or_after_the_action(
    action: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path(cli.__file__).resolve().parents[2] / "conformance"
    elsewhere = tmp_path / "nothing-here"
    assert parse("--data", str(data), *action).data == data
    assert parse(*action, "--data", str(data)).data == data
    assert parse("--data", str(elsewhere), *action, "--data", str(data)).data == data
    assert parse(*action).data is None
    args = parse(*action, "--data", str(elsewhere))
    assert args.handler(args) == cli.EXIT_CONFIG  # the directory given after the action is used
    assert str(elsewhere) in capsys.readouterr().err


def test_check_parser() -> None:
    args = parse("check", "flux-find-scu", "--host", "h", "--port", "104", "--called-ae", "X")
    assert (args.host, args.port, args.called_ae, args.handler) == ("h", 104, "X", cli.run_check)


def test_acceptor_only_profile_is_checked_with_its_accepted_contexts() -> None:
    profile = load_profile("lifesys-mwl")
    contexts = contexts_to_check(profile)
    assert [c.abstract_syntax for c in contexts] == [
        c.abstract_syntax for c in profile.policy().accepted_contexts
    ]
    assert all(c.scu_role and not c.scp_role for c in contexts)


async def test_check_against_a_live_lifesys_worklist_scp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scp = AE("MWL_SCP", load_profile("lifesys-mwl").policy())
    async with await scp.serve("127.0.0.1", 0) as server:
        args = parse(
            "check",
            "flux-find-scu",
            "--host",
            "127.0.0.1",
            "--port",
            str(server.port),
            "--called-ae",
            "MWL_SCP",
        )
        code = await cli.check(args)
    out = capsys.readouterr().out
    # Flux proposes Patient Root FIND and MWL FIND; LifeSys MWL accepts only the worklist,
    # with the first proposed syntax it supports (Implicit VR Little Endian).
    assert code == cli.EXIT_REJECTED_CONTEXT
    assert "rejected  Patient Root Query/Retrieve Information Model - FIND" in out
    assert "abstract-syntax-not-supported" in out
    assert "accepted  Modality Worklist Information Model - FIND" in out
    assert "1 of 2 presentation contexts accepted" in out


async def test_kodak_disk_server_picks_big_endian_from_a_native_proposal() -> None:
    scp = AE("DISK_SERVER", load_profile("kodak-disk-server").policy())
    async with await scp.serve("127.0.0.1", 0) as server:
        results = await check_profile(
            load_profile("kodak-web-server"), "127.0.0.1", server.port, called_ae="DISK_SERVER"
        )
    (find,) = results
    assert find.proposed == (IVR, "1.2.840.10008.1.2.1", EBE)
    assert find.accepted and find.transfer_syntax == EBE


async def test_lifesys_storage_wrong_called_ae_gets_verification_only() -> None:
    scp = AE("STORE_SCP", load_profile("lifesys-storage").policy())
    async with await scp.serve("127.0.0.1", 0) as server:
        right = await check_profile(
            load_profile("meddream-storage-client"), "127.0.0.1", server.port, called_ae="STORE_SCP"
        )
        wrong = await check_profile(
            load_profile("meddream-storage-client"), "127.0.0.1", server.port, called_ae="OTHER"
        )
    assert {r.abstract_syntax for r in wrong if r.accepted} == {"1.2.840.10008.1.1"}
    ct = [r for r in right if r.abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"]
    assert ct and all(r.accepted for r in ct)


async def test_more_than_128_contexts_are_checked_over_several_associations(
    tmp_path: Path,
) -> None:
    registry = load_registry()
    storage = [sop.uid for sop in registry.storage_sop_classes()]
    assert len(storage) > 128
    listed = ",\n".join(f'  "{uid}"' for uid in storage)
    profile_path = tmp_path / "many.toml"
    profile_path.write_text(
        '[profile]\nsystem = "Test"\napplication_entity = "Many"\ndocument = "none"\n'
        '[ae_title]\ntitle = "MANY"\n[association]\nrole = "requestor"\n'
        f'[[proposed]]\nsop_classes = [\n{listed}\n]\ntransfer_syntaxes = ["{IVR}"]\n'
    )
    scp_policy = load_profile("dicomark-inbound").policy()
    archived = {c.abstract_syntax for c in scp_policy.accepted_contexts}
    scp = AE("DICOMARK", scp_policy)
    async with await scp.serve("127.0.0.1", 0) as server:
        results = await check_profile(
            load_profile(profile_path, registry=registry), "127.0.0.1", server.port
        )
    assert [r.abstract_syntax for r in results] == storage
    # Context IDs restart at 1 in the second association.
    assert [r.context_id for r in results[:2]] == [1, 3] and results[128].context_id == 1
    assert {r.abstract_syntax for r in results if r.accepted} == archived & set(storage)
