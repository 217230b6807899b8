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

_HEAVY = ("pydicom", "numpy", "PIL", "starlette")

_SERVE_UNTIL_LISTENING = textwrap.dedent(
    """
    import asyncio, json, sys
    from dicomnet.cli.main import build_parser, modules_for

    argv = ["serve", "--port", "0", "--host", "127.0.0.1", "--output", sys.argv[1]]
    args = build_parser(modules_for(argv)).parse_args(argv)
    seen = {}

    async def main():
        from dicomnet.cli.serve import serve
        stop = asyncio.Event()

        def ready(server):
            seen["loaded"] = sorted(
                name for name in sys.modules if name.split(".")[0] in HEAVY
            )
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


def test_serve_listens_without_loading_pydicom(tmp_path: Path) -> None:
    out = _run(_SERVE_UNTIL_LISTENING, str(tmp_path / "store"), ",".join(_HEAVY))
    seen = json.loads(out.splitlines()[-1])
    assert seen["code"] == 0
    assert seen["loaded"] == []


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
