"""What ``dicomnet find``, ``mwl``, ``move`` and ``get`` share: options, identifier, association.

Exit codes of all four: 0 the operation ended with Success (for move and get:
every sub-operation succeeded, or warned); 1 it ended otherwise (a failure or
cancel status, failed sub-operations); 2 usage error (a key that is not one,
contradicting options, an AE title that is not one, a bad TLS file); 3
association rejected; 4 aborted; 5 a timer expired; 6 no connection, the
SCP accepted none of our presentation contexts, or another network error; 130
interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Final

from dicomnet.cli.options import (
    EXIT_USAGE,
    add_association_options,
    add_family_options,
    add_peer_arguments,
    add_timer_options,
    add_tls_options,
)
from dicomnet.cli.qr_keys import (
    DEFAULT_KEYS,
    WORKLIST_KEYS,
    BadKey,
    Key,
    build_identifier,
    build_worklist_identifier,
    level_of,
    parse_key,
)
from dicomnet.policy import ProposedContext
from dicomnet.query.models import Operation
from dicomnet.services.qr import sop_class_for
from dicomnet.transport import run

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "MODELS",
    "NATIVE",
    "add_query_options",
    "add_requestor_options",
    "column_order",
    "identifier_from",
    "key_argument",
    "model_name",
    "query_contexts",
    "run_command",
    "usage_error",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
#: 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C.
EXIT_INTERRUPTED: Final = 128 + signal.SIGINT

#: --model choices -> the model names of :func:`dicomnet.services.qr.sop_class_for`.
MODELS: Final = {"study": "study", "patient": "patient", "psonly": "patient-study"}
#: Explicit and Implicit VR Little Endian, proposed for every context.
NATIVE: Final = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


def key_argument(text: str) -> Key:
    """argparse ``type`` of ``-k``: a usage error (exit 2) for a key that is not one."""
    try:
        return parse_key(text)
    except BadKey as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_requestor_options(parser: argparse.ArgumentParser, *, aetitle: str) -> None:
    """Peer, association, timer, address-family and TLS options (as ``echo`` has them)."""
    add_peer_arguments(parser)
    add_association_options(parser, aetitle=aetitle)
    add_timer_options(parser)
    add_family_options(parser)
    add_tls_options(parser, server=False)


def add_query_options(
    parser: argparse.ArgumentParser, *, worklist: bool = False, retrieve: bool = False
) -> None:
    """``-k``, ``--no-default-keys`` (not for a retrieve, whose identifier holds only the
    ``-k`` keys) and (not for the worklist) ``--model`` and ``--level``."""
    parser.add_argument(
        "-k",
        "--key",
        dest="keys",
        action="append",
        type=key_argument,
        default=[],
        metavar="KEY[=VALUE]",
        help=(
            "a key by keyword or tag (PatientName=DOE*, 0010,0010=DOE*, "
            "ScheduledProcedureStepSequence[0].Modality=CT); without a value it is returned"
        ),
    )
    if retrieve:
        parser.set_defaults(default_keys=False)
    else:
        parser.add_argument(
            "--no-default-keys",
            dest="default_keys",
            action="store_false",
            help="send only the -k keys (and the level), not the level's usual return keys",
        )
    if worklist:
        return
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="study",
        help="information model: study root, patient root, patient/study only (study)",
    )
    parser.add_argument(
        "--level",
        type=str.upper,
        choices=("PATIENT", "STUDY", "SERIES", "IMAGE"),
        default=None,
        help="query/retrieve level (STUDY; PATIENT for the patient models; or -k's level)",
    )


def model_name(args: argparse.Namespace) -> str:
    """The model of ``--model`` as :func:`sop_class_for` names it."""
    return MODELS[args.model]


def identifier_from(args: argparse.Namespace, *, worklist: bool = False) -> Dataset:
    """The identifier the options ask for; raises :class:`BadKey` (a usage error)."""
    keys: Sequence[Key] = args.keys
    if worklist:
        return build_worklist_identifier(keys, defaults=args.default_keys)
    level = args.level or level_of(keys)
    if level is None:
        level = "STUDY" if args.model == "study" else "PATIENT"
    if args.model == "psonly" and level in ("SERIES", "IMAGE"):
        raise BadKey(f"the patient/study only model has no {level} level")
    if args.model == "study" and level == "PATIENT":
        raise BadKey("the study root model has no PATIENT level (use --model patient)")
    return build_identifier(level, keys, defaults=args.default_keys)


def column_order(args: argparse.Namespace, identifier: Dataset) -> list[int]:
    """The order of the output columns: the default keys, then the ``-k`` keys as given."""
    from pydicom.datadict import tag_for_keyword  # noqa: PLC0415 (loaded on first use)

    defaults: tuple[str, ...] = ()
    if args.default_keys:
        if "QueryRetrieveLevel" in identifier:
            defaults = DEFAULT_KEYS.get(str(identifier.QueryRetrieveLevel), ())
        else:
            defaults = (*WORKLIST_KEYS, "ScheduledProcedureStepSequence")
    tags = [int(tag_for_keyword(keyword) or 0) for keyword in defaults]
    keys: Sequence[Key] = args.keys
    tags.extend(key.path[0][0] if key.path else key.tag for key in keys)
    return tags


def query_contexts(sop_classes: Sequence[str]) -> list[ProposedContext]:
    """One context per SOP class, Explicit and Implicit VR Little Endian."""
    return [ProposedContext(abstract_syntax=uid, transfer_syntaxes=NATIVE) for uid in sop_classes]


def sop_class(args: argparse.Namespace, operation: Operation) -> str:
    """The Q/R SOP class UID of ``--model`` for ``operation``."""
    return sop_class_for(model_name(args), operation)


def usage_error(command: str, message: object) -> int:
    """Print a usage error; returns exit code 2."""
    print(f"dicomnet {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_command(command: str, coroutine: Coroutine[Any, Any, int]) -> int:
    """Run ``coroutine`` on a new loop; Ctrl-C ends it with exit code 130.

    SIGINT cancels the command (which aborts its association) on the loop, so
    that the error the cancellation causes is not reported as the outcome.
    """
    try:
        return run(_interruptible(command, coroutine))
    except KeyboardInterrupt:  # the loop starting or closing
        return _interrupted(command)


def _interrupted(command: str) -> int:
    print(f"dicomnet {command}: interrupted; association aborted", file=sys.stderr)
    return EXIT_INTERRUPTED


async def _interruptible(command: str, coroutine: Coroutine[Any, Any, int]) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError):  # no signal support here
        return await coroutine
    try:
        code = await coroutine
    except asyncio.CancelledError:
        if not interrupted:
            raise
        while task.uncancel():
            pass
        return _interrupted(command)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    return _interrupted(command) if interrupted else code
