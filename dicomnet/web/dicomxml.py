"""The Native DICOM Model (PS3.19 §A.1) as XML: metadata for ``application/dicom+xml``.

``<NativeDicomModel>`` holds one ``<DicomAttribute>`` per attribute (tag,
VR, keyword) with ``<Value number="n">``, ``<PersonName>`` (with the name
components of each group), ``<Item>`` for sequence items, ``<BulkData
uri>`` or ``<InlineBinary>``. Built with :mod:`xml.etree.ElementTree`, which
escapes text.
"""

from __future__ import annotations

from typing import Any, Final
from xml.etree import ElementTree as ET

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from .dicomjson import BulkDataHandler, element_to_json

__all__ = ["NAMESPACE", "dataset_to_xml"]

NAMESPACE: Final = "http://dicom.nema.org/PS3.19/models/NativeDICOM"
_PN_PARTS: Final = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")


def _person_name(parent: ET.Element, number: int, value: dict[str, str] | None) -> None:
    name = ET.SubElement(parent, "PersonName", number=str(number))
    for group, text in (value or {}).items():
        node = ET.SubElement(name, group)
        for part, component in zip(_PN_PARTS, text.split("^"), strict=False):
            if component:
                ET.SubElement(node, part).text = component


def _fill(parent: ET.Element, obj: dict[str, Any]) -> None:
    for tag, attribute in obj.items():
        keyword = keyword_for_tag(int(tag, 16))
        node = ET.SubElement(parent, "DicomAttribute", {"tag": tag, "vr": attribute["vr"]})
        if keyword:
            node.set("keyword", keyword)
        if "BulkDataURI" in attribute:
            ET.SubElement(node, "BulkData", uri=attribute["BulkDataURI"])
            continue
        if "InlineBinary" in attribute:
            ET.SubElement(node, "InlineBinary").text = attribute["InlineBinary"]
            continue
        for number, value in enumerate(attribute.get("Value", ()), start=1):
            if attribute["vr"] == "SQ":
                item = ET.SubElement(node, "Item", number=str(number))
                _fill(item, value)
            elif attribute["vr"] == "PN":
                _person_name(node, number, value)
            else:
                element = ET.SubElement(node, "Value", number=str(number))
                if value is not None:
                    element.text = str(value)


def dataset_to_xml(ds: Dataset, *, bulk: BulkDataHandler | None = None) -> bytes:
    """The data set as a UTF-8 Native DICOM Model document."""
    root = ET.Element("NativeDicomModel", xmlns=NAMESPACE)
    obj: dict[str, Any] = {}
    for element in ds:
        tag = int(element.tag)
        if tag >> 16 == 0x0002 or element.tag.element == 0x0000:
            continue
        obj[f"{tag:08X}"] = element_to_json(element, bulk=bulk)
    _fill(root, obj)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
