"""Character sets of query answers: an AE's declared repertoires decide how it answers.

DICOM does not negotiate character sets. A requester says which it can read by
the Specific Character Set (0008,0005) of its identifier (PS3.4: present when
the SCU supports expanded or replacement sets); an AE's profile declares the
repertoires it supports (``[character_sets] supported``; empty: the default
repertoire, ISO-IR 6). Matching compares decoded text, so a query in one
repertoire matches data stored in another (MÜLLER in ISO_IR 192 finds MÜLLER
stored in ISO_IR 100).

:class:`CharsetPolicy` picks the Specific Character Set of each response:

1. the requester's set, when the AE declares it and every value fits;
2. else the first declared set in which every value fits;
3. else the default repertoire when every value is ASCII;
4. else ISO_IR 192 when the requester's identifier names ISO_IR 192 (it can read
   anything, even from an AE that does not declare UTF-8);
5. else the AE's first declared set (or the default repertoire) with every
   character it cannot hold replaced by ``?`` (PS3.18 §8.8.5 suggests the same
   replacement), and a warning logged naming the attribute: 山田^太郎 from an
   ISO_IR 100 AE to a requester that named only ISO_IR 100 reads ``??^??``.

An identifier without Specific Character Set whose text is not ASCII is read in
the AE's first declared set (:meth:`CharsetPolicy.decoding`), rather than as
the default repertoire it cannot be.

As SCU (:meth:`CharsetPolicy.request`), an identifier given without Specific
Character Set whose text is not ASCII is written in the AE's first declared set
that holds every value, named in (0008,0005): MÜLLER^HANS goes out in ISO_IR 100
from an AE that declares ISO_IR 100 first, 山田^太郎 in ISO_IR 192. When no
declared set holds a value, its characters that do not fit are sent as ``?``
(in a query: the single-character wildcard, so the query still finds the name)
and a warning is logged naming the attribute. An identifier that names its own
Specific Character Set is sent as given.
"""

from __future__ import annotations

import codecs
import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset


__all__ = [
    "DEFAULT",
    "TEXT_VRS",
    "UTF8",
    "CharsetPolicy",
    "leading_charset",
    "requester_charsets",
]

_log = logging.getLogger("dicomnet.query")

#: The default repertoire's defined term as this module writes it.
DEFAULT = "ISO_IR 6"
UTF8 = "ISO_IR 192"
#: VRs whose values are in the Specific Character Set (PS3.5 6.1.2.3).
TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "PN", "UC", "UT"})
_SCS = 0x00080005


def _term(value: str) -> str:
    value = value.strip()
    return DEFAULT if value in ("", "ISO_IR 6") else value


def requester_charsets(identifier: Dataset) -> tuple[str, ...]:
    """The repertoires the identifier's Specific Character Set names (default first)."""
    element = identifier.get(_SCS)
    if element is None or element.value in (None, ""):
        return (DEFAULT,)
    values = element.value if isinstance(element.value, list | tuple) else [element.value]
    out = [DEFAULT]
    out.extend(_term(str(v)) for v in values if _term(str(v)) not in out)
    return tuple(out)


def _codec(term: str) -> str | None:
    """Python codec of a single-byte or UTF-8 defined term (None: ISO 2022 or unknown)."""
    from pydicom.charset import python_encoding  # noqa: PLC0415 (loaded on first use)

    if term == DEFAULT:
        return "ascii"
    if term.startswith("ISO 2022"):
        return None
    name = python_encoding.get(term)
    if name is None:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _fits(term: str, text: str) -> bool:
    codec = _codec(term)
    if codec is None:
        return False
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _replace(term: str, text: str) -> str:
    codec = _codec(term) or "ascii"
    return "".join(c if _fits_char(codec, c) else "?" for c in text)


def _fits_char(codec: str, char: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _is_text(tag: int, raw: object) -> bool:
    from pydicom.datadict import dictionary_VR  # noqa: PLC0415 (loaded on first use)

    vr = getattr(raw, "VR", None)
    if vr is None:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return False
    return vr in TEXT_VRS


def leading_charset(data: bytes, transfer_syntax_uid: str) -> str | list[str] | None:
    """The Specific Character Set an encoded identifier starts with (its lowest tag), if any."""
    explicit = transfer_syntax_uid != "1.2.840.10008.1.2"
    if len(data) < 8 or data[:4] != b"\x08\x00\x05\x00":
        return None
    if explicit:
        length, start = int.from_bytes(data[6:8], "little"), 8
    else:
        length, start = int.from_bytes(data[4:8], "little"), 8
    text = data[start : start + length].decode("ascii", errors="replace").strip(" \0")
    values = text.split("\\")
    return values if len(values) > 1 else values[0]


def _text_elements(dataset: Dataset) -> Iterable[DataElement]:
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value or ():
                yield from _text_elements(item)
        elif element.VR in TEXT_VRS and element.value not in (None, ""):
            yield element


def _text(element: DataElement) -> str:
    value = element.value
    if isinstance(value, list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class CharsetPolicy:
    """An AE's declared repertoires (``()``: the default repertoire only)."""

    supported: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "supported", tuple(_term(t) for t in self.supported))

    # ------------------------------------------------------------------ reading

    def decoding(self, identifier: Dataset) -> Dataset:
        """``identifier`` with the AE's first declared set when it names none but needs one.

        Call it before any element of a freshly read identifier is accessed (the
        text is still bytes then).
        """
        if _SCS in identifier or not self.supported:
            return identifier
        declared = next((t for t in self.supported if t != DEFAULT), None)
        if declared is None:
            return identifier
        for tag in list(identifier.keys()):
            raw = identifier.get_item(tag)
            value = getattr(raw, "value", None)
            if (
                isinstance(value, bytes)
                and _is_text(int(tag), raw)
                and any(b > 0x7F for b in value)
            ):
                identifier.SpecificCharacterSet = declared
                # Raw elements are converted with the encoding the data set was read in.
                implicit, little = identifier.original_encoding
                identifier.set_original_encoding(implicit, little, identifier._character_set)
                break
        return identifier

    # ------------------------------------------------------------------ requesting

    def request(self, identifier: Dataset, log: object = None, *, named: bool = True) -> Dataset:
        """``identifier`` as this AE sends it as SCU (see the module text).

        Returns ``identifier`` itself when nothing changes (it names a Specific
        Character Set, or all its text is ASCII), else a copy. ``named`` False
        writes the text in the chosen set without naming it (an AE whose
        statement says its queries carry no Specific Character Set).
        """
        if _SCS in identifier:
            return identifier
        elements = list(_text_elements(identifier))
        texts = [_text(e) for e in elements]
        if all(_fits(DEFAULT, t) for t in texts):
            return identifier
        declared = [t for t in self.supported if t != DEFAULT]
        term = next((t for t in declared if all(_fits(t, v) for v in texts)), None)
        out = copy.deepcopy(identifier)
        if term is None:
            term = declared[0] if declared else DEFAULT
            changed = []
            for element in _text_elements(out):
                text = _text(element)
                if not _fits(term, text):
                    parts = _replace(term, text).split("\\")
                    element.value = parts if len(parts) > 1 else parts[0]
                    changed.append(element.keyword or str(element.tag))
            logger = log if isinstance(log, logging.LoggerAdapter | logging.Logger) else _log
            logger.warning(
                "request: %s cannot be written in %s (the character sets this AE declares):"
                " characters replaced by '?'",
                ", ".join(changed),
                ", ".join(declared) or "the default repertoire",
            )
        if term != DEFAULT:
            out.SpecificCharacterSet = term
            if not named:
                # Values become bytes in ``term``, then the name is dropped.
                for element in _text_elements(out):
                    element.value = _text(element).encode(_codec(term) or "ascii")
                del out[_SCS]
        return out

    # ------------------------------------------------------------------ answering

    def choose(self, texts: Iterable[str], requester: tuple[str, ...]) -> tuple[str, bool]:
        """(Specific Character Set term, whether characters must be replaced)."""
        values = list(texts)
        order: list[str] = [t for t in requester if t in self.supported and t != DEFAULT]
        order += [t for t in self.supported if t not in order]
        order.append(DEFAULT)
        for term in order:
            if all(_fits(term, v) for v in values):
                return term, False
        if UTF8 in requester:
            return UTF8, False
        return (self.supported[0] if self.supported else DEFAULT), True

    def fits_as_stored(self, stored: str | list[str] | None, requester: tuple[str, ...]) -> bool:
        """Whether a response encoded in the stored set can go out unchanged.

        True when the stored set is the default repertoire, or is declared by
        the AE and is the set :meth:`choose` would try first.
        """
        if isinstance(stored, list):
            return False
        term = _term(stored or "")
        if term == DEFAULT:
            return True
        if term not in self.supported:
            return False
        preferred = [t for t in requester if t in self.supported and t != DEFAULT]
        return not preferred or preferred[0] == term

    def answer(
        self, identifier: Dataset, requester: tuple[str, ...], log: object = None
    ) -> Dataset:
        """``identifier`` re-encoded for the requester (see the module text); in place."""
        # Values are read as text (PersonName and raw elements decode with the
        # encodings they came with), then written back as plain str.
        elements = list(_text_elements(identifier))
        term, replace = self.choose((_text(e) for e in elements), requester)
        changed: list[str] = []
        for element in elements:
            text = _text(element)
            if replace and not _fits(term, text):
                text = _replace(term, text)
                changed.append(element.keyword or str(element.tag))
            values = text.split("\\") if element.VM > 1 else [text]
            element.value = values if len(values) > 1 else values[0]
        if term == DEFAULT:
            if _SCS in identifier:
                del identifier[_SCS]
        else:
            identifier.SpecificCharacterSet = term
        if changed:
            logger = log if isinstance(log, logging.LoggerAdapter | logging.Logger) else _log
            logger.warning(
                "response: %s cannot be written in %s (the requester reads %s): characters"
                " replaced by '?'",
                ", ".join(changed),
                term,
                ", ".join(requester),
            )
        return identifier
