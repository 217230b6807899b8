"""Real peers for the profile tests: a pynetdicom SCU run in a child process, DCMTK programs.

:func:`run_associations` starts one child Python process that opens several
pynetdicom associations one after the other and reports each as JSON, so that a
test needs few process starts. Each association is described by::

    {"port": 11112, "calling": "PYNETDICOM", "called": "ANY-SCP",
     "contexts": [["1.2.840.10008.1.1", ["1.2.840.10008.1.2"]], ...],
     "echo": true}

and reported as :class:`Negotiated`: whether it was established, the
A-ASSOCIATE-RJ (result, source, reason) if any, one :class:`ContextResult` per
proposed context in proposal order, and the C-ECHO status when one was sent.
Running pynetdicom (which blocks) in a child keeps the test's event loop free
to serve it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.peers import dcmtk_program

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys
from pynetdicom import AE, evt

cfg = json.loads(sys.argv[1])
reports = []
for spec in cfg["associations"]:
    report = {"established": False, "rejected": None, "contexts": [], "echo": None}

    # The A-ASSOCIATE-RJ is read from the PDU as it arrives (in the DUL thread). The
    # ACSE-level primitive is not enough: when the acceptor closes right after the RJ,
    # pynetdicom's DUL may close the socket before associate() checks it, and associate()
    # then gives up without ever reading the rejection from its queue.
    def on_pdu(event, report=report):
        pdu = event.pdu
        if type(pdu).__name__ == "A_ASSOCIATE_RJ":
            report["rejected"] = [int(pdu.result), int(pdu.source), int(pdu.reason_diagnostic)]

    ae = AE(ae_title=spec.get("calling", "PYNETDICOM"))
    ae.acse_timeout = ae.network_timeout = 20
    for abstract, syntaxes in spec["contexts"]:
        ae.add_requested_context(abstract, syntaxes)
    assoc = ae.associate(cfg["host"], spec["port"], ae_title=spec.get("called", "ANY-SCP"),
                         evt_handlers=[(evt.EVT_PDU_RECV, on_pdu)])
    if assoc.is_established:
        report["established"] = True
        seen = {}
        for cx in assoc.accepted_contexts + assoc.rejected_contexts:
            ts = cx.transfer_syntax[0] if int(cx.result) == 0 and cx.transfer_syntax else None
            seen[int(cx.context_id)] = [cx.abstract_syntax, int(cx.result), ts and str(ts)]
        report["contexts"] = [seen.get(2 * i + 1) for i in range(len(spec["contexts"]))]
        if spec.get("echo", False):
            status = assoc.send_c_echo()
            report["echo"] = int(status.Status) if "Status" in status else None
        assoc.release()
    reports.append(report)
print(json.dumps(reports))
"""


@dataclass(frozen=True)
class ContextResult:
    """One proposed presentation context as the peer saw the answer."""

    abstract_syntax: str
    result: int  # PS3.8 Table 9-18: 0 acceptance, 1 user rejection, 3 abstract, 4 transfer
    transfer_syntax: str | None  # the accepted one (result 0), else None


@dataclass(frozen=True)
class Negotiated:
    """What the pynetdicom SCU saw of one association."""

    established: bool
    rejected: tuple[int, int, int] | None
    contexts: tuple[ContextResult, ...]
    echo: int | None

    def result(self, index: int) -> tuple[int, str | None]:
        """(result, accepted transfer syntax) of the ``index``-th proposed context."""
        context = self.contexts[index]
        return context.result, context.transfer_syntax


def association(
    port: int,
    contexts: list[tuple[str, list[str]]],
    *,
    calling: str = "PYNETDICOM",
    called: str = "ANY-SCP",
    echo: bool = False,
) -> dict[str, Any]:
    """The description of one association for :func:`run_associations`."""
    return {
        "port": port,
        "calling": calling,
        "called": called,
        "contexts": [[abstract, list(syntaxes)] for abstract, syntaxes in contexts],
        "echo": echo,
    }


def _negotiated(report: dict[str, Any]) -> Negotiated:
    rejected = report["rejected"]
    contexts = []
    for entry in report["contexts"]:
        if entry is None:
            raise AssertionError(f"a proposed context got no answer: {report}")
        contexts.append(ContextResult(entry[0], entry[1], entry[2]))
    return Negotiated(
        established=report["established"],
        rejected=None if rejected is None else (rejected[0], rejected[1], rejected[2]),
        contexts=tuple(contexts),
        echo=report["echo"],
    )


async def run_associations(
    associations: list[dict[str, Any]], *, host: str = "127.0.0.1", timeout: float = 60
) -> list[Negotiated]:
    """Open ``associations`` in turn from one pynetdicom child process; one report each."""
    config = {"host": host, "associations": associations}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        raise AssertionError(
            f"pynetdicom SCU failed ({process.returncode}): {out!r} {err.decode(errors='replace')}"
        )
    return [_negotiated(report) for report in json.loads(lines[-1])]


def find_dcmtk(name: str) -> str:
    """Path of DCMTK's ``name``: the first executable on PATH that is a binary saying "dcmtk".

    pynetdicom installs Python scripts with DCMTK's names (``echoscu``,
    ``storescu``, ``findscu``); they are recognised by their ``#!`` line and
    skipped without being started, which makes the search much quicker than
    asking every candidate for its version. When nothing is found this way,
    :func:`helpers.peers.dcmtk_program` decides (skip locally, fail in CI).
    """
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / name
        if not os.access(candidate, os.X_OK) or candidate.is_dir():
            continue
        try:
            with candidate.open("rb") as file:
                if file.read(2) == b"#!":
                    continue
            version = subprocess.run(
                [str(candidate), "--version"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "dcmtk" in version.lower():
            return str(candidate)
    return dcmtk_program(name)


async def run_program(*argv: str, timeout: float = 30) -> tuple[int, str]:
    """Run a program (a DCMTK tool) to completion; its exit code and combined output."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")
