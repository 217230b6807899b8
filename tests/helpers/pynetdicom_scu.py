"""Run pynetdicom's blocking SCU in a child process and report what it saw, as JSON.

The child gets a JSON list of associations to make, one after the other, each::

    {"host": ..., "port": ..., "calling": "PYNETDICOM", "called": "DICOMNET",
     "contexts": ["1.2.840.10008.1.1", ...],
     "identity": {"type": 1, "primary": "alice", "secondary": "", "response": true},
     "echo": true, "application_context": "1.2.840.10008.3.1.1.1"}

and prints one JSON line, a list with for each: ``established``, ``rejected`` ([result, source,
reason] or null), ``server_response`` (text or null), ``contexts`` (abstract
syntax -> result code of each proposed context) and ``echo`` (status or null).
Running pynetdicom in a child keeps the test's event loop free to serve it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

CHILD = r"""
import json, sys
from pynetdicom import AE
from pynetdicom.pdu_primitives import UserIdentityNegotiation

import pynetdicom.acse
from pynetdicom.dul import DULServiceProvider
STANDARD_CONTEXT = pynetdicom.acse.APPLICATION_CONTEXT_NAME
ANSWERS = []
_receive = DULServiceProvider.receive_pdu

def _recording_receive(self, *args, **kwargs):
    # The A-ASSOCIATE response primitive, seen in the thread that asked for it (an event
    # handler could run after associate() has returned).
    primitive = _receive(self, *args, **kwargs)
    ANSWERS.append(primitive)
    return primitive

DULServiceProvider.receive_pdu = _recording_receive

def run(cfg):
  # pynetdicom has no option for it; its ACSE reads this module global per request.
  pynetdicom.acse.APPLICATION_CONTEXT_NAME = cfg.get("application_context", STANDARD_CONTEXT)
  report = {"established": False, "rejected": None, "server_response": None,
            "contexts": {}, "echo": None}
  ANSWERS.clear()

  ae = AE(ae_title=cfg.get("calling", "PYNETDICOM"))
  for uid in cfg.get("contexts", ["1.2.840.10008.1.1"]):
      ae.add_requested_context(uid)
  ext_neg = []
  ident = cfg.get("identity")
  if ident:
      item = UserIdentityNegotiation()
      item.user_identity_type = ident["type"]
      item.primary_field = ident["primary"].encode()
      if ident.get("secondary"):
          item.secondary_field = ident["secondary"].encode()
      item.positive_response_requested = ident.get("response", True)
      ext_neg.append(item)
  assoc = ae.associate(cfg["host"], cfg["port"], ae_title=cfg.get("called", "DICOMNET"),
                       ext_neg=ext_neg or None)
  # pynetdicom's associate() can miss an answer that came quickly: its DUL thread
  # connects, sends the request, receives A-ASSOCIATE-RJ, queues it for the user and
  # closes the socket, all before the calling thread checks that the socket is
  # connected; that thread then sees it closed, aborts and never takes the RJ off the
  # queue. What the DUL received is then still waiting there.
  unread = list(assoc.dul.to_user_queue.queue)
  for answer in (ANSWERS + unread)[:1]:
      if getattr(answer, "result", None) in (1, 2):
          report["rejected"] = [
              int(answer.result), int(answer.result_source), int(answer.diagnostic)
          ]
  if assoc.is_established:
      report["established"] = True
      ui = assoc.acceptor.user_identity
      if ui is not None and ui.server_response is not None:
          report["server_response"] = ui.server_response.decode("latin-1")
      for cx in assoc.accepted_contexts + assoc.rejected_contexts:
          report["contexts"][cx.abstract_syntax] = int(cx.result)
      if cfg.get("echo", True):
          status = assoc.send_c_echo()
          report["echo"] = int(status.Status) if "Status" in status else None
      assoc.release()
  return report

print(json.dumps([run(cfg) for cfg in json.loads(sys.argv[1])]))
"""


async def run_pynetdicom_scu(config: dict[str, Any], *, timeout: float = 60) -> dict[str, Any]:
    """Run the pynetdicom SCU described by ``config``; its JSON report as a dict."""
    (report,) = await run_pynetdicom_scus([config], timeout=timeout)
    return report


async def run_pynetdicom_scus(
    configs: list[dict[str, Any]], *, timeout: float = 60
) -> list[dict[str, Any]]:
    """Run one association per config, one after the other, in a single child process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        json.dumps(configs),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        raise AssertionError(
            f"pynetdicom SCU failed ({process.returncode}): {out!r} {err.decode(errors='replace')}"
        )
    reports: list[dict[str, Any]] = json.loads(lines[-1])
    return reports
