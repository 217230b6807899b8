"""Every example runs, and ``--help`` shows its docstring (which AE of which seed it plays)."""

from __future__ import annotations

import asyncio

import pytest
from helpers.peers import free_port

from .support import EXAMPLES, run_example

PROGRAMS = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name not in {"common.py"})

SEEDS = {
    "kodak_disk_server.py": "Kodak DirectView Web Software, Disk-Server",
    "lifesys_worklist.py": "LifeSys PACS, Modality Worklist",
    "meddream_qr_client.py": "MedDream DICOM Web Viewer, Query/Retrieve Client",
    "kodak_web_server.py": "Kodak DirectView Web Software, Web Software-Server",
    "flux_store_scu.py": "Flux DICOM Printer, Store SCU",
    "dicomark_inbound_server.py": "DicomArk, Inbound Server",
    "dicomark_send_queue.py": "DicomArk, Send Queue",
    "meddream_storage_server.py": "MedDream DICOM Web Viewer, Storage Server",
    "meddream_storage_client.py": "MedDream DICOM Web Viewer, Storage Client",
    "lifesys_storage.py": "LifeSys PACS, Storage AE",
    "lifesys_qr.py": "LifeSys PACS, Query/Retrieve",
    "flux_find_scu.py": "Flux DICOM Printer, Find SCU",
    "flux_print_scu.py": "Flux DICOM Printer, Print SCU",
    "kodak_memory_server.py": "Kodak DirectView Web Software, Memory-Server",
    "kodak_memory_manager.py": "Kodak DirectView Web Software, Memory-Manager",
}


def test_one_example_per_seed_system() -> None:
    assert set(SEEDS) <= set(PROGRAMS)


async def test_help_names_the_seed_ae() -> None:
    # All at once: each run is mostly interpreter and import start-up.
    names = sorted(SEEDS)
    results = await asyncio.gather(*(run_example(name, "--help") for name in names))
    for name, (code, out) in zip(names, results, strict=True):
        assert code == 0, (name, out)
        assert SEEDS[name] in out, name
        for option in ("--host", "--port", "--aet", "--verbose"):
            assert option in out, (name, option)


#: The programs that call a peer by its AE title.
REQUESTORS = sorted(
    name
    for name in PROGRAMS
    if "add_called_ae_option" in (EXAMPLES / name).read_text(encoding="utf-8")
)


async def test_ae_title_options_are_spelled_as_the_commands_spell_them() -> None:
    results = await asyncio.gather(*(run_example(name, "--help") for name in PROGRAMS))
    for name, (code, out) in zip(PROGRAMS, results, strict=True):
        assert code == 0, (name, out)
        assert "--aet AET, -aet AET" in out, name
        assert ("--called-ae AET, -aec AET" in out) == (name in REQUESTORS), name
        assert "--called " not in out, name
    assert len(REQUESTORS) >= 9


def _bad_title_runs(option: str, names: list[str]) -> list[tuple[str, ...]]:
    """Each program with ``option`` set to a 17-character title (servers on a free port)."""
    runs = []
    for name in names:
        address = ["127.0.0.1", str(free_port())] if name == "echo_scu.py" else ["--port", "0"]
        runs.append((name, *address, option, "A" * 17))
    return runs


@pytest.mark.parametrize("option", ["--aet", "-aec"])
async def test_a_bad_ae_title_is_a_usage_error_in_every_example(option: str) -> None:
    runs = _bad_title_runs(option, PROGRAMS if option == "--aet" else REQUESTORS)
    # A server given a bad --aet used to start and listen until killed: bound the wait.
    # A few at a time: twenty interpreters starting at once on a small, busy machine
    # can take longer than the bound on their own.
    slots = asyncio.Semaphore(4)

    async def bounded(run: tuple[str, ...]) -> tuple[int, str]:
        async with slots:
            return await run_example(*run, timeout=60)

    results = await asyncio.gather(*(bounded(run) for run in runs))
    for run, (code, out) in zip(runs, results, strict=True):
        assert code == 2, (run, out)
        assert "AE title longer than 16 characters" in out, (run, out)


async def test_a_bad_title_in_aet_host_port_is_a_usage_error() -> None:
    code, out = await run_example(
        "lifesys_qr.py", "--port", "0", "--archive", ".", "--destination", "A\\B=127.0.0.1:104"
    )
    assert code == 2, out
    assert "forbidden character" in out


async def test_echo_scu_usage_and_unreachable_peer() -> None:
    code, out = await run_example("echo_scu.py")
    assert code == 2
    assert "required: host, port" in out
    code, out = await run_example("echo_scu.py", "127.0.0.1", str(free_port()), "-aec", "THEM")
    assert code == 3
    assert "association with 127.0.0.1" in out
