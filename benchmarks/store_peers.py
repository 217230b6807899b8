"""Command lines of the Storage SCU and SCP of each implementation under test.

Each implementation runs as its own process. dicomnet and pynetdicom run
through the small runner modules of this package (which report their own
transfer time and CPU as a JSON line); DCMTK runs as its programs ``storescu``
and ``storescp``, with ``TCP_NODELAY=1`` in the environment.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .harness import REPO_ROOT, find_dcmtk

__all__ = ["CHILD_CWD", "Command", "Implementation", "Variant", "implementations"]

_SCU_AE = "BENCH-SCU"
_SCP_AE = "BENCH-SCP"
_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Variant:
    """Association options of one case."""

    max_pdu: int = 16384
    window: int = 1  # C-STOREs in flight (dicomnet only; the others are synchronous)
    fsync: bool = False  # dicomnet's folder store fsyncs each instance when asked
    uvloop: bool = False  # dicomnet on uvloop instead of the default asyncio loop
    check: bool = True  # dicomnet's Storage SCP walks each received data set (C000 check)
    index: bool = False  # dicomnet's Storage SCP indexes each instance (dicomnet.archive)

    @property
    def suffix(self) -> str:
        """What differs from the defaults, for row labels ("" when nothing)."""
        parts = []
        if self.max_pdu != 16384:
            parts.append(f"pdu {self.max_pdu // 1024} KB")
        if self.window != 1:
            parts.append(f"window {self.window}")
        if self.fsync:
            parts.append("fsync")
        if self.uvloop:
            parts.append("uvloop")
        if not self.check:
            parts.append("no data set check")
        if self.index:
            parts.append("index")
        return f" ({', '.join(parts)})" if parts else ""


@dataclass(frozen=True, slots=True)
class Command:
    """A process to start: argv, extra environment, and whether it prints a JSON report."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    reports_json: bool = False


class Implementation:
    """One DICOM implementation: how to start its SCU and SCP, and whether it can run."""

    name = ""

    def unavailable(self) -> str | None:
        """Why it cannot run here, or None."""
        raise NotImplementedError

    def scu(self, port: int, folder: Path, variant: Variant) -> Command:
        """The SCU sending every file of ``folder`` to 127.0.0.1:``port``."""
        raise NotImplementedError

    def scp(self, port: int, output: Path | None, variant: Variant) -> Command:
        """The SCP on 127.0.0.1:``port``; writes into ``output``, or discards when None."""
        raise NotImplementedError

    def echo_scu(self, port: int, count: int, variant: Variant) -> Command:
        """The Verification SCU sending ``count`` C-ECHOs on one association."""
        raise NotImplementedError

    def echo_cycles(self, port: int, count: int, variant: Variant) -> Command:
        """``count`` associate + C-ECHO + release cycles, one after the other."""
        raise NotImplementedError


def _python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


class Dicomnet(Implementation):
    """dicomnet through :mod:`benchmarks.dicomnet_scu` / :mod:`benchmarks.dicomnet_scp`."""

    name = "dicomnet"
    _needed = (
        ("dicomnet.ae", "AE"),
        ("dicomnet.storage.scu", "store_many"),
        ("dicomnet.services.storage_scp", "StorageService"),
        ("dicomnet.storage.folder", "FolderStore"),
        ("dicomnet.transport", "run"),
    )

    def unavailable(self) -> str | None:
        for module, name in self._needed:
            try:
                getattr(importlib.import_module(module), name)
            except Exception as exc:  # anything a half-written module raises on import
                return f"{module}.{name} not importable: {type(exc).__name__}: {exc}"
        return None

    def _loop_args(self, variant: Variant) -> list[str]:
        return [] if variant.uvloop else ["--no-uvloop"]

    def scu(self, port: int, folder: Path, variant: Variant) -> Command:
        argv = _python_module(
            "benchmarks.dicomnet_scu",
            _HOST,
            str(port),
            str(folder),
            "--max-pdu",
            str(variant.max_pdu),
            "--window",
            str(variant.window),
            *self._loop_args(variant),
        )
        return Command(argv, reports_json=True)

    def scp(self, port: int, output: Path | None, variant: Variant) -> Command:
        args = [str(port), "--max-pdu", str(variant.max_pdu), *self._loop_args(variant)]
        if output is not None:
            args += ["--output", str(output)]
            if variant.fsync:
                args.append("--fsync")
            if not variant.check:
                args.append("--no-check")
            if variant.index:
                args.append("--index")
        return Command(_python_module("benchmarks.dicomnet_scp", *args))

    def echo_scu(self, port: int, count: int, variant: Variant) -> Command:
        args = [_HOST, str(port), "--count", str(count), *self._loop_args(variant)]
        return Command(_python_module("benchmarks.dicomnet_echo", *args), reports_json=True)

    def echo_cycles(self, port: int, count: int, variant: Variant) -> Command:
        command = self.echo_scu(port, count, variant)
        return Command([*command.argv, "--cycles"], reports_json=True)


class Pynetdicom(Implementation):
    """pynetdicom through :mod:`benchmarks.pynetdicom_scu` / :mod:`benchmarks.pynetdicom_scp`."""

    name = "pynetdicom"

    def unavailable(self) -> str | None:
        if importlib.util.find_spec("pynetdicom") is None:
            return "pynetdicom not installed"
        return None

    def scu(self, port: int, folder: Path, variant: Variant) -> Command:
        argv = _python_module(
            "benchmarks.pynetdicom_scu",
            _HOST,
            str(port),
            str(folder),
            "--max-pdu",
            str(variant.max_pdu),
        )
        return Command(argv, reports_json=True)

    def scp(self, port: int, output: Path | None, variant: Variant) -> Command:
        args = [str(port), "--max-pdu", str(variant.max_pdu)]
        if output is not None:
            args += ["--output", str(output)]
        return Command(_python_module("benchmarks.pynetdicom_scp", *args))

    def echo_scu(self, port: int, count: int, variant: Variant) -> Command:
        args = [_HOST, str(port), "--count", str(count)]
        return Command(_python_module("benchmarks.pynetdicom_echo", *args), reports_json=True)

    def echo_cycles(self, port: int, count: int, variant: Variant) -> Command:
        command = self.echo_scu(port, count, variant)
        return Command([*command.argv, "--cycles"], reports_json=True)


class Dcmtk(Implementation):
    """DCMTK's storescu and storescp (``--ignore`` to discard, ``+B`` to write as received)."""

    name = "dcmtk"
    _env = {"TCP_NODELAY": "1"}

    def __init__(self) -> None:
        self._found: dict[str, str | None] | None = None

    @property
    def _programs(self) -> dict[str, str | None]:
        if self._found is None:
            self._found = {name: find_dcmtk(name) for name in ("storescu", "storescp", "echoscu")}
        return self._found

    def unavailable(self) -> str | None:
        missing = [name for name, path in self._programs.items() if path is None]
        if missing:
            return f"DCMTK {' and '.join(missing)} not found"
        return None

    def scu(self, port: int, folder: Path, variant: Variant) -> Command:
        program = self._programs["storescu"] or "storescu"
        argv = [
            program,
            "-aet",
            _SCU_AE,
            "-aec",
            _SCP_AE,
            "--max-pdu",
            str(variant.max_pdu),
            "+sd",
            _HOST,
            str(port),
            str(folder),
        ]
        return Command(argv, env=dict(self._env))

    def scp(self, port: int, output: Path | None, variant: Variant) -> Command:
        program = self._programs["storescp"] or "storescp"
        argv = [program, "-aet", _SCP_AE, "--max-pdu", str(variant.max_pdu)]
        if output is None:
            argv.append("--ignore")
        else:
            argv += ["--output-directory", str(output), "--bit-preserving"]
        argv.append(str(port))
        return Command(argv, env=dict(self._env))

    def echo_scu(self, port: int, count: int, variant: Variant) -> Command:
        program = self._programs["echoscu"] or "echoscu"
        argv = [program, "-aet", _SCU_AE, "-aec", _SCP_AE, "--repeat", str(count), _HOST]
        return Command([*argv, str(port)], env=dict(self._env))

    def echo_cycles(self, port: int, count: int, variant: Variant) -> Command:
        # DCMTK has no looping client: one echoscu process per cycle (a reference only).
        program = self._programs["echoscu"] or "echoscu"
        once = " ".join([program, "-aet", _SCU_AE, "-aec", _SCP_AE, _HOST, str(port)])
        loop = f"i=0; while [ $i -lt {count} ]; do {once} || exit 1; i=$((i+1)); done"
        return Command(["sh", "-c", loop], env=dict(self._env))


def implementations() -> dict[str, Implementation]:
    """The implementations by name, in table order."""
    return {impl.name: impl for impl in (Dicomnet(), Pynetdicom(), Dcmtk())}


#: Working directory of every child process (so ``-m benchmarks.x`` resolves).
CHILD_CWD = REPO_ROOT
