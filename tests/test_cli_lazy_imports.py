"""What ``dicomnet serve`` loads before its first association.

pydicom (with numpy and the pixel handlers it pulls in) is about 30 MB of
resident size; a plain ``serve`` needs it only once a data set is decoded, so the
serve path must not import it at start-up. Each check runs in a fresh interpreter
(this one has imported everything long ago).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dicomnet.cli.main import SUBCOMMAND_MODULES, modules_for
from dicomnet.dimse.dataset import EXPLICIT_VR_LITTLE_ENDIAN
from dicomnet.storage.synthetic import make_image, write_part10

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"

_HEAVY = ("pydicom", "numpy", "PIL", "starlette")

_SERVE_ECHO_STORE = textwrap.dedent(
    """
    import asyncio, json, sys
    from dicomnet.cli.main import build_parser, modules_for

    argv = ["serve", "--port", "0", "--host", "127.0.0.1", "--output", sys.argv[1]]
    args = build_parser(modules_for(argv)).parse_args(argv)
    seen = {}

    async def main():
        from dicomnet.cli.serve import serve
        stop = asyncio.Event()

        def loaded():
            return sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)

        def ready(server):
            seen["loaded"] = loaded()
            asyncio.ensure_future(client(server.port))

        async def client(port):
            # An echo and a plain C-STORE (Explicit VR LE, ASCII values) need no pydicom
            # on either side: the index reads its columns from the bytes as received.
            from dicomnet.ae import AE
            from dicomnet.policy import Policy, ProposedContext
            from dicomnet.storage.scu import store

            contexts = (
                ProposedContext(abstract_syntax="1.2.840.10008.1.1",
                                transfer_syntaxes=("1.2.840.10008.1.2",)),
                ProposedContext(abstract_syntax=sys.argv[4],
                                transfer_syntaxes=("1.2.840.10008.1.2.1",)),
            )
            ae = AE("LAZY", Policy(ae_title="LAZY", proposed_contexts=contexts))
            try:
                async with ae.associate("127.0.0.1", port, called_ae="DICOMNET") as assoc:
                    seen["echo"] = (await assoc.echo()).code
                    seen["store"] = (await store(assoc, sys.argv[3])).status
                seen["after_store"] = loaded()
            except Exception as exc:
                seen["error"] = repr(exc)
            finally:
                stop.set()

        code = await serve(args, ready=ready, stop=stop)
        seen["code"] = code

    HEAVY = tuple(sys.argv[2].split(","))
    asyncio.run(main())
    print(json.dumps(seen))
    """
)


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_serve_listens_echoes_and_stores_without_loading_pydicom(tmp_path: Path) -> None:
    image = make_image(sop_class_uid=CT_IMAGE)
    part10 = write_part10(tmp_path / "ct.dcm", image, EXPLICIT_VR_LITTLE_ENDIAN)
    out = _run(_SERVE_ECHO_STORE, str(tmp_path / "store"), ",".join(_HEAVY), str(part10), CT_IMAGE)
    seen = json.loads(out.splitlines()[-1])
    assert seen["code"] == 0
    assert "error" not in seen, seen
    assert seen["loaded"] == []
    assert (seen["echo"], seen["store"]) == (0, 0)
    assert seen["after_store"] == []
    assert (tmp_path / "store" / f"{image.SOPInstanceUID}.dcm").is_file()


def test_importing_the_command_line_loads_no_heavy_package() -> None:
    code = (
        "import sys\n"
        "import dicomnet.cli.main as m\n"
        "m.build_parser(m.modules_for(['serve']))\n"
        "import dicomnet.cli.serve, dicomnet.ae, dicomnet.archive.backends\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {_HEAVY!r}))\n"
    )
    assert _run(code).strip() == "[]"


def test_the_serve_verb_needs_only_its_module() -> None:
    assert modules_for(["-v", "serve", "--port", "0"]) == ("serve",)
    assert modules_for(["move", "--help"]) == ("retrieve",)
    assert modules_for(["print", "x.dcm"]) == ("print_film",)


@pytest.mark.parametrize("argv", [[], ["--help"], ["-v"], ["no-such-verb"]])
def test_without_a_known_verb_every_module_is_loaded(argv: list[str]) -> None:
    assert modules_for(argv) == SUBCOMMAND_MODULES


_SERVE_READY = textwrap.dedent(
    """
    import asyncio, sys
    from dicomnet.cli.main import build_parser, modules_for

    argv = ["serve", "--port", "0", "--host", "127.0.0.1", "--output", sys.argv[1],
            "--profile", sys.argv[2]]
    args = build_parser(modules_for(argv)).parse_args(argv)

    async def main():
        from dicomnet.cli.serve import serve
        stop = asyncio.Event()

        def ready(server):
            print("pydicom.uid" in sys.modules)
            stop.set()

        assert await serve(args, ready=ready, stop=stop) == 0

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(
    ("profile", "loaded"), [("dicomark-inbound", True), ("dicomnet-serve", False)]
)
def test_a_profile_that_checks_the_iod_loads_the_check_before_listening(
    tmp_path: Path, profile: str, loaded: bool
) -> None:
    """DicomArk's Inbound Server answers non-conformant instances, which names SOP classes
    with pydicom: served by ``--profile`` as by ``--system``, it loads that at start-up,
    not inside its first C-STORE; a profile without the check still loads nothing."""
    out = _run(_SERVE_READY, str(tmp_path / "store"), profile)
    assert out.strip().splitlines()[-1] == str(loaded)
