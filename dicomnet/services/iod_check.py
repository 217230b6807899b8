"""Does a C-STORE data set conform to the IOD of its SOP class? (the checks dicomnet makes)

A Storage SCP whose profile names the ``not-iod-conformant`` situation
(LifeSys: warning B007 "Data Set does not match SOP Class", stored; DicomArk:
the association is aborted) runs these checks on the data set's top-level
elements while it streams in (the values are captured by the data set walker,
nothing is decoded):

1. The Type 1 attributes every composite IOD has (SOP Common, General Study,
   General Series): SOP Class UID, SOP Instance UID, Study Instance UID,
   Series Instance UID and Modality are present with a value.
2. An image SOP class (its registry name says "Image Storage") has the Type 1
   attributes of the Image Pixel module (PS3.3 C.7.6.3): Samples per Pixel,
   Photometric Interpretation, Rows, Columns, Bits Allocated, Bits Stored,
   High Bit, Pixel Representation, and Pixel Data (or Float / Double Float
   Pixel Data).
3. Where the IOD fixes Modality (the enumerated value of its series module,
   e.g. CT Image: ``CT``), the data set's Modality is that value.
4. A SOP class that has no pixel data (structured reports, presentation
   states, key object selection, encapsulated documents) carries no Pixel
   Data: an attribute that is not part of the SOP class.

These are not a full IOD validation (module conditions, Type 2 attributes,
sequences and value ranges are not checked); they catch the data sets sent
under the wrong SOP class and those missing what every image needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["IOD_TAGS", "iod_problems"]

SOP_CLASS: Final = 0x00080016
SOP_INSTANCE: Final = 0x00080018
MODALITY: Final = 0x00080060
STUDY_UID: Final = 0x0020000D
SERIES_UID: Final = 0x0020000E
PIXEL_DATA: Final = 0x7FE00010
FLOAT_PIXEL_DATA: Final = 0x7FE00008
DOUBLE_FLOAT_PIXEL_DATA: Final = 0x7FE00009
_PIXELS: Final = (PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA)

_COMMON: Final = {
    SOP_CLASS: "SOP Class UID",
    SOP_INSTANCE: "SOP Instance UID",
    STUDY_UID: "Study Instance UID",
    SERIES_UID: "Series Instance UID",
    MODALITY: "Modality",
}
_IMAGE_PIXEL: Final = {
    0x00280002: "Samples per Pixel",
    0x00280004: "Photometric Interpretation",
    0x00280010: "Rows",
    0x00280011: "Columns",
    0x00280100: "Bits Allocated",
    0x00280101: "Bits Stored",
    0x00280102: "High Bit",
    0x00280103: "Pixel Representation",
}

#: Every element the checks look at (captured by the walker).
IOD_TAGS: Final = (*_COMMON, *_IMAGE_PIXEL, *_PIXELS)

#: Modality fixed by the IOD's series module (PS3.3 enumerated values).
_MODALITY: Final[Mapping[str, str]] = {
    "1.2.840.10008.5.1.4.1.1.1": "CR",
    "1.2.840.10008.5.1.4.1.1.1.1": "DX",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "DX",
    "1.2.840.10008.5.1.4.1.1.1.2": "MG",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "MG",
    "1.2.840.10008.5.1.4.1.1.1.3": "IO",
    "1.2.840.10008.5.1.4.1.1.1.3.1": "IO",
    "1.2.840.10008.5.1.4.1.1.2": "CT",
    "1.2.840.10008.5.1.4.1.1.2.1": "CT",
    "1.2.840.10008.5.1.4.1.1.4": "MR",
    "1.2.840.10008.5.1.4.1.1.4.1": "MR",
    "1.2.840.10008.5.1.4.1.1.6.1": "US",
    "1.2.840.10008.5.1.4.1.1.3.1": "US",
    "1.2.840.10008.5.1.4.1.1.12.1": "XA",
    "1.2.840.10008.5.1.4.1.1.12.2": "RF",
    "1.2.840.10008.5.1.4.1.1.20": "NM",
    "1.2.840.10008.5.1.4.1.1.128": "PT",
    "1.2.840.10008.5.1.4.1.1.481.1": "RTIMAGE",
    "1.2.840.10008.5.1.4.1.1.481.2": "RTDOSE",
    "1.2.840.10008.5.1.4.1.1.481.3": "RTSTRUCT",
    "1.2.840.10008.5.1.4.1.1.481.5": "RTPLAN",
    "1.2.840.10008.5.1.4.1.1.66.4": "SEG",
    "1.2.840.10008.5.1.4.1.1.88.59": "KO",
    "1.2.840.10008.5.1.4.1.1.11.1": "PR",
}

#: Words of a SOP class name whose IOD holds no pixel data.
_NO_PIXELS: Final = ("SR Storage", "Presentation State", "Key Object", "Encapsulated")


def _value(raw: bytes) -> str:
    return raw.rstrip(b"\0 ").decode("ascii", "replace").strip()


def iod_problems(
    sop_class_uid: str,
    sop_class_name: str,
    captured: Mapping[int, bytes],
    uncaptured: set[int] | frozenset[int],
) -> list[str]:
    """What in a data set does not conform to the IOD of ``sop_class_uid`` (empty: nothing).

    ``captured`` holds the values of the :data:`IOD_TAGS` elements present,
    ``uncaptured`` those present whose value was too long to capture.
    """

    def present(tag: int) -> bool:
        raw = captured.get(tag, b"")
        # US values are binary (0 is a value); the others are text, padding stripped.
        return tag in uncaptured or bool(raw if tag in _IMAGE_PIXEL else _value(raw))

    problems = [f"{name} missing or empty" for tag, name in _COMMON.items() if not present(tag)]
    is_image = "Image Storage" in sop_class_name
    if is_image:
        problems.extend(
            f"{name} missing or empty (Image Pixel module)"
            for tag, name in _IMAGE_PIXEL.items()
            if not present(tag)
        )
        if not any(tag in uncaptured or tag in captured for tag in _PIXELS):
            problems.append("Pixel Data missing (Image Pixel module)")
    elif any(word in sop_class_name for word in _NO_PIXELS) and any(
        tag in uncaptured or tag in captured for tag in _PIXELS
    ):
        problems.append(f"Pixel Data is not part of {sop_class_name}")
    expected = _MODALITY.get(sop_class_uid)
    modality = _value(captured.get(MODALITY, b""))
    if expected is not None and modality and modality != expected:
        problems.append(f"Modality {modality} is not {expected}, as {sop_class_name} requires")
    return problems
