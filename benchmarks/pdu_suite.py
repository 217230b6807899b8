"""Suite ``pdu``: PDU decode and encode, dicomnet_pdu beside pynetdicom's own PDU classes.

Two PDUs, each decoded from and encoded to the same bytes by both libraries:

* a P-DATA-TF of 16 KB (PDU-length 16384, one PDV of a data set fragment), the
  PDU a C-STORE is made of (PDUs/s and MB/s, MB = 10**6 bytes of whole PDU);
* an A-ASSOCIATE-RQ proposing 120 storage presentation contexts of four
  transfer syntaxes each, with maximum length, implementation class UID and
  version name (per second).

dicomnet builds its A-ASSOCIATE-RQ from its data model and encodes it; those
bytes are what both decoders read. Each figure is the best of several
calibrated loops (:func:`benchmarks.harness.best_of`).
"""

from __future__ import annotations

import copy
import importlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .harness import Column, Options, Ratio, Row, SuiteResult, Table, best_of, ratio

__all__ = ["PDATA_PDU_LENGTH", "build_pdata_bytes", "run"]

#: PDU-length of the P-DATA-TF under test: the seeds' default maximum PDU.
PDATA_PDU_LENGTH = 16384

_CONTEXT_COUNT = 120
_TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
)
_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.10.1374.1"
_IMPLEMENTATION_VERSION = "DICOMNET_BENCH"
_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def build_pdata_bytes(pdu_length: int = PDATA_PDU_LENGTH) -> bytes:
    """A P-DATA-TF with one last-fragment data PDV filling ``pdu_length`` (PS3.8 Table 9-22)."""
    item_length = pdu_length - 4
    payload = (bytes(range(256)) * (item_length // 256 + 1))[: item_length - 2]
    return struct.pack(">BBIIBB", 0x04, 0, pdu_length, item_length, 1, 0x02) + payload


def _abstract_syntaxes() -> list[str]:
    """120 storage SOP class UIDs (pynetdicom's own list when installed)."""
    try:
        from pynetdicom.presentation import StoragePresentationContexts
    except ImportError:
        return [f"{_CT_IMAGE_STORAGE}.{i}" for i in range(_CONTEXT_COUNT)]
    return [str(c.abstract_syntax) for c in StoragePresentationContexts][:_CONTEXT_COUNT]


@dataclass(frozen=True, slots=True)
class _Case:
    """One timed operation of one library."""

    label: str
    func: Callable[[], object]
    pdu_bytes: int


def _dicomnet_rq() -> Any:
    from dicomnet_pdu.items import (
        ImplementationClassUID,
        ImplementationVersionName,
        MaximumLength,
        PresentationContextRQ,
        UserInformation,
    )
    from dicomnet_pdu.pdus import AAssociateRQ

    contexts = tuple(
        PresentationContextRQ(
            context_id=2 * index + 1, abstract_syntax=uid, transfer_syntaxes=_TRANSFER_SYNTAXES
        )
        for index, uid in enumerate(_abstract_syntaxes())
    )
    user = UserInformation(
        items=(
            MaximumLength(maximum_length=PDATA_PDU_LENGTH),
            ImplementationClassUID(uid=_IMPLEMENTATION_UID),
            ImplementationVersionName(name=_IMPLEMENTATION_VERSION),
        )
    )
    return AAssociateRQ(
        called_ae_title="BENCH-SCP",
        calling_ae_title="BENCH-SCU",
        presentation_contexts=contexts,
        user_information=user,
    )


def _pynetdicom_rq_bytes() -> bytes:
    """The same A-ASSOCIATE-RQ built with pynetdicom (used when dicomnet cannot encode)."""
    from pynetdicom.pdu import A_ASSOCIATE_RQ
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
    )
    from pynetdicom.presentation import build_context

    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title = "BENCH-SCU"
    primitive.called_ae_title = "BENCH-SCP"
    contexts = []
    for index, uid in enumerate(_abstract_syntaxes()):
        context = build_context(uid, list(_TRANSFER_SYNTAXES))
        context.context_id = 2 * index + 1
        contexts.append(context)
    primitive.presentation_context_definition_list = contexts
    maximum = MaximumLengthNotification()
    maximum.maximum_length_received = PDATA_PDU_LENGTH
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = _IMPLEMENTATION_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = _IMPLEMENTATION_VERSION
    primitive.user_information = [maximum, class_uid, version]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    encoded: bytes = pdu.encode()
    return encoded


def _dicomnet_cases(pdata: bytes) -> tuple[dict[str, _Case], bytes | None, str | None]:
    """dicomnet's timed operations, the RQ bytes it encodes, or why it cannot run."""
    try:
        codec = importlib.import_module("dicomnet_pdu.codec")
        from dicomnet_pdu.pdus import PDataTF
    except ImportError as exc:
        return {}, None, f"dicomnet_pdu.codec not importable ({exc})"
    decode_pdu: Callable[[Any], Any] = codec.decode_pdu
    encode_pdu: Callable[[Any], bytes] = codec.encode_pdu
    try:
        return _checked_dicomnet_cases(pdata, decode_pdu, encode_pdu, PDataTF)
    except Exception as exc:  # a codec still being written must not stop the suite
        return {}, None, f"dicomnet codec failed: {type(exc).__name__}: {exc}"


def _checked_dicomnet_cases(
    pdata: bytes,
    decode_pdu: Callable[[Any], Any],
    encode_pdu: Callable[[Any], bytes],
    pdata_type: type[Any],
) -> tuple[dict[str, _Case], bytes | None, str | None]:
    decoded: Any = decode_pdu(pdata)
    if not isinstance(decoded, pdata_type) or len(decoded.pdvs) != 1:
        return {}, None, f"decode_pdu gave {type(decoded).__name__}, expected one-PDV PDataTF"
    if bytes(encode_pdu(decoded)) != pdata:
        return {}, None, "encode_pdu(decode_pdu(P-DATA-TF)) does not give the same bytes"
    rq = _dicomnet_rq()
    rq_bytes = bytes(encode_pdu(rq))
    if len(decode_pdu(rq_bytes).presentation_contexts) != _CONTEXT_COUNT:
        return {}, None, "decoded A-ASSOCIATE-RQ lost presentation contexts"
    cases = {
        "pdata_decode": _Case("dicomnet decode", lambda: decode_pdu(pdata), len(pdata)),
        "pdata_encode": _Case("dicomnet encode", lambda: encode_pdu(decoded), len(pdata)),
        "rq_decode": _Case("dicomnet decode", lambda: decode_pdu(rq_bytes), len(rq_bytes)),
        "rq_encode": _Case("dicomnet encode", lambda: encode_pdu(rq), len(rq_bytes)),
    }
    return cases, rq_bytes, None


def _pynetdicom_cases(pdata: bytes, rq_bytes: bytes) -> tuple[dict[str, _Case], str | None]:
    try:
        from pynetdicom.pdu import A_ASSOCIATE_RQ, P_DATA_TF
    except ImportError as exc:
        return {}, f"pynetdicom not importable ({exc})"

    def decode_pdata() -> object:
        pdu = P_DATA_TF()
        pdu.decode(pdata)
        return pdu

    def decode_rq() -> object:
        pdu = A_ASSOCIATE_RQ()
        pdu.decode(rq_bytes)
        return pdu

    pdata_pdu = decode_pdata()
    if pdata_pdu.encode() != pdata:  # type: ignore[attr-defined]
        return {}, "pynetdicom P-DATA-TF round trip differs"
    rq_pdu = decode_rq()
    if len(rq_pdu.presentation_context) != _CONTEXT_COUNT:  # type: ignore[attr-defined]
        return {}, "pynetdicom decoded a different number of presentation contexts"
    rq_copy = copy.deepcopy(rq_pdu)
    cases = {
        "pdata_decode": _Case("pynetdicom decode", decode_pdata, len(pdata)),
        "pdata_encode": _Case("pynetdicom encode", pdata_pdu.encode, len(pdata)),  # type: ignore[attr-defined]
        "rq_decode": _Case("pynetdicom decode", decode_rq, len(rq_bytes)),
        "rq_encode": _Case("pynetdicom encode", rq_copy.encode, len(rq_bytes)),  # type: ignore[attr-defined]
    }
    return cases, None


_PDATA_COLUMNS = [
    Column("per_second", "PDUs/s", ",.0f"),
    Column("mb_per_second", "MB/s", ",.1f"),
    Column("microseconds", "us/PDU", ".2f"),
]
_RQ_COLUMNS = [
    Column("per_second", "PDUs/s", ",.0f"),
    Column("microseconds", "us/PDU", ".1f"),
    Column("bytes", "bytes", "d"),
]


def _measure(case: _Case, options: Options) -> Row:
    seconds = best_of(
        case.func, repeat=3 if options.quick else 7, min_time=0.05 if options.quick else 0.25
    )
    return Row(
        case.label,
        {
            "per_second": 1.0 / seconds,
            "mb_per_second": case.pdu_bytes / seconds / 1e6,
            "microseconds": seconds * 1e6,
            "seconds_per_call": seconds,
            "bytes": case.pdu_bytes,
        },
    )


def run(options: Options) -> SuiteResult:
    """Time both libraries on both PDUs; ratios are dicomnet over pynetdicom (above 1: faster)."""
    pdata = build_pdata_bytes()
    dn_cases, rq_bytes, dn_missing = _dicomnet_cases(pdata)
    if rq_bytes is None:
        rq_bytes = _pynetdicom_rq_bytes()
    pn_cases, pn_missing = _pynetdicom_cases(pdata, rq_bytes)

    pdata_table = Table(f"P-DATA-TF, {len(pdata):,} bytes (PDU-length 16384)", _PDATA_COLUMNS)
    rq_table = Table(
        f"A-ASSOCIATE-RQ, {_CONTEXT_COUNT} presentation contexts, {len(rq_bytes):,} bytes",
        _RQ_COLUMNS,
    )
    result = SuiteResult("pdu", tables=[pdata_table, rq_table])
    for key, table in (
        ("pdata_decode", pdata_table),
        ("pdata_encode", pdata_table),
        ("rq_decode", rq_table),
        ("rq_encode", rq_table),
    ):
        operation = key.split("_")[1]
        for library, cases, missing in (
            ("dicomnet", dn_cases, dn_missing),
            ("pynetdicom", pn_cases, pn_missing),
        ):
            label = f"{library} {operation}"
            if not options.selected(f"{key} {label}"):
                continue
            if missing is not None:
                table.rows.append(Row(label, unavailable=missing))
            else:
                table.rows.append(_measure(cases[key], options))

    def rate(table: Table, label: str) -> float | None:
        row = table.row(label)
        return row.values.get("per_second") if row is not None and row.ok else None

    for table, what in ((pdata_table, "P-DATA-TF 16 KB"), (rq_table, "A-ASSOCIATE-RQ 120 ctx")):
        for operation in ("decode", "encode"):
            result.ratios.append(
                Ratio(
                    name=f"{what} {operation}: dicomnet / pynetdicom",
                    metric="PDUs/s",
                    numerator=f"dicomnet {operation}",
                    denominator=f"pynetdicom {operation}",
                    value=ratio(
                        rate(table, f"dicomnet {operation}"),
                        rate(table, f"pynetdicom {operation}"),
                    ),
                )
            )
    result.notes.append(
        "each figure is the best of several calibrated loops (time.perf_counter); "
        "MB/s counts whole PDU bytes, MB = 10**6 bytes"
    )
    result.notes.append(
        "decode makes a new PDU object from bytes; encode turns a prepared PDU object into "
        "bytes; both libraries read the same input bytes (dicomnet's encoding of the RQ when "
        "available, else pynetdicom's)"
    )
    result.notes.append("aims: >= 10x on P-DATA-TF decode, >= 3x on A-ASSOCIATE-RQ")
    result.settings.update({"pdata_pdu_length": PDATA_PDU_LENGTH, "contexts": _CONTEXT_COUNT})
    return result
