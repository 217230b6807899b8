"""The SOP classes of the Query/Retrieve models (PS3.4 Annex C) by model name and operation."""

from __future__ import annotations

from typing import Final

from dicomnet.errors import LocalError
from dicomnet.query.models import Operation

__all__ = ["FIND", "GET", "MODALITY_WORKLIST_FIND", "MOVE", "NATIVE", "sop_class_for"]

#: The native transfer syntaxes: Explicit and Implicit VR Little Endian.
NATIVE: Final = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")

#: SOP class UIDs by (model name, operation); model names: patient, study, patient-study.
_NAMES: Final = {"patient": "1", "study": "2", "patient-study": "3", "patient/study": "3"}
_OPS: Final = {"FIND": "1", "MOVE": "2", "GET": "3"}
FIND: Final = Operation.FIND
MOVE: Final = Operation.MOVE
GET: Final = Operation.GET
MODALITY_WORKLIST_FIND: Final = "1.2.840.10008.5.1.4.31"


def sop_class_for(model: str, operation: Operation) -> str:
    """The SOP class UID for ``model`` (a UID, or patient / study / patient-study)."""
    if model[:1].isdigit():
        return model
    if model.lower() == "worklist" and operation is Operation.FIND:
        return MODALITY_WORKLIST_FIND
    number = _NAMES.get(model.lower())
    if number is None:
        raise LocalError(f"unknown query/retrieve model {model!r}")
    return f"1.2.840.10008.5.1.4.1.2.{number}.{_OPS[operation.value]}"
