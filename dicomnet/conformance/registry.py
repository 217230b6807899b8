"""The registry: SOP classes, transfer syntaxes and named groups of them, read from TOML.

Every ``*.toml`` file of ``conformance/registry/`` is read, in name order, and
may hold any of four arrays or tables (schema in ``conformance/README.md``):
``sop_class``, ``transfer_syntax``, ``[transfer_syntax_group.<id>]`` and
``[sop_class_group.<id>]``. A UID may be registered once only, and a group may
name only registered UIDs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from dicomnet.errors import ConfigurationError

from .locate import registry_dir
from .tomlcheck import Section, load_toml

__all__ = [
    "ENCODINGS",
    "SOP_CLASS_KINDS",
    "Registry",
    "SopClass",
    "SopClassGroup",
    "TransferSyntax",
    "TransferSyntaxGroup",
    "load_registry",
]

SOP_CLASS_KINDS = ("storage", "qr", "mwl", "commitment", "print", "verification", "other")
ENCODINGS = ("implicit-le", "explicit-le", "explicit-be", "deflated", "encapsulated")


@dataclass(frozen=True, slots=True, kw_only=True)
class SopClass:
    """One SOP class (or Meta SOP class) of the registry."""

    uid: str
    name: str
    kind: str
    retired: bool = False
    meta: bool = False
    #: Not in the DICOM UID registry: a private class kept with the document's value.
    private: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferSyntax:
    """One transfer syntax of the registry.

    ``encodable_by_pydicom`` is the static fact "pydicom writes it without an
    optional plugin"; :meth:`can_encode` also asks pydicom at run time whether
    an encoder plugin for an encapsulated syntax is importable.
    """

    uid: str
    name: str
    encoding: str
    compressed: bool
    encodable_by_pydicom: bool
    retired: bool = False
    private: bool = False

    @property
    def is_native(self) -> bool:
        """Uncompressed, unencapsulated pixel data (implicit/explicit VR, LE or BE)."""
        return self.encoding in ("implicit-le", "explicit-le", "explicit-be")

    def can_encode(self) -> bool:
        """Whether a data set can be written in this syntax here, plugins included."""
        if self.encodable_by_pydicom:
            return True
        from pydicom.pixels.encoders.base import get_encoder  # noqa: PLC0415 (slow import)

        try:
            return bool(get_encoder(self.uid).is_available)
        except (NotImplementedError, ValueError):
            return False


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferSyntaxGroup:
    """A named, ordered list of transfer syntaxes (e.g. LifeSys's "image storage" group)."""

    ident: str
    title: str
    source: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SopClassGroup:
    """A named list of SOP classes (e.g. every class DicomArk's Inbound Server archives)."""

    ident: str
    title: str
    source: str
    sop_classes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Registry:
    """SOP classes and transfer syntaxes by UID, and groups by id (read-only mappings)."""

    sop_classes: Mapping[str, SopClass]
    transfer_syntaxes: Mapping[str, TransferSyntax]
    transfer_syntax_groups: Mapping[str, TransferSyntaxGroup]
    sop_class_groups: Mapping[str, SopClassGroup]

    def of_kind(self, kind: str, *, retired: bool = False) -> tuple[SopClass, ...]:
        """SOP classes of ``kind`` in registry order; retired ones only when asked."""
        if kind not in SOP_CLASS_KINDS:
            raise ValueError(f"unknown SOP class kind {kind!r}")
        return tuple(
            sop
            for sop in self.sop_classes.values()
            if sop.kind == kind and (retired or not sop.retired)
        )

    def storage_sop_classes(self, *, retired: bool = False) -> tuple[SopClass, ...]:
        """Every storage SOP class (current ones unless ``retired``)."""
        return self.of_kind("storage", retired=retired)

    def name_of(self, uid: str) -> str:
        """The registered name of a SOP class or transfer syntax UID (the UID if unknown)."""
        if uid in self.sop_classes:
            return self.sop_classes[uid].name
        if uid in self.transfer_syntaxes:
            return self.transfer_syntaxes[uid].name
        return uid

    def transfer_syntax_group(self, ident: str) -> tuple[str, ...]:
        """The transfer syntax UIDs of group ``ident`` (KeyError when unknown)."""
        return self.transfer_syntax_groups[ident].transfer_syntaxes

    def sop_class_group(self, ident: str) -> tuple[str, ...]:
        """The SOP class UIDs of group ``ident`` (KeyError when unknown)."""
        return self.sop_class_groups[ident].sop_classes


def load_registry(data_dir: Path | None = None) -> Registry:
    """Read every ``registry/*.toml`` under ``data_dir`` (default: the repository's)."""
    files = sorted(registry_dir(data_dir).glob("*.toml"))
    sops: dict[str, SopClass] = {}
    syntaxes: dict[str, TransferSyntax] = {}
    ts_groups: dict[str, TransferSyntaxGroup] = {}
    sop_groups: dict[str, SopClassGroup] = {}
    group_sections: list[tuple[str, Section, str]] = []
    for path in files:
        top = load_toml(path)
        for entry in top.tables("sop_class"):
            sop = _sop_class(entry)
            if sop.uid in sops:
                raise entry.error("uid", f"{sop.uid} is registered twice")
            sops[sop.uid] = sop
        for entry in top.tables("transfer_syntax"):
            syntax = _transfer_syntax(entry)
            if syntax.uid in syntaxes:
                raise entry.error("uid", f"{syntax.uid} is registered twice")
            syntaxes[syntax.uid] = syntax
        group_sections.extend(
            (ident, section, "ts") for ident, section in top.named_tables("transfer_syntax_group")
        )
        group_sections.extend(
            (ident, section, "sop") for ident, section in top.named_tables("sop_class_group")
        )
        top.done()
    # Groups are read last so that they may name UIDs registered in any file.
    for ident, section, what in group_sections:
        if ident in ts_groups or ident in sop_groups:
            raise ConfigurationError(f"{section.path}: key {section.prefix!r}: group defined twice")
        title = section.string("title")
        source = section.string("source", "")
        if what == "ts":
            members = section.uids("transfer_syntaxes")
            _check_members(section, "transfer_syntaxes", members, syntaxes, "transfer syntax")
            ts_groups[ident] = TransferSyntaxGroup(
                ident=ident, title=title, source=source, transfer_syntaxes=members
            )
        else:
            members = section.uids("sop_classes")
            _check_members(section, "sop_classes", members, sops, "SOP class")
            sop_groups[ident] = SopClassGroup(
                ident=ident, title=title, source=source, sop_classes=members
            )
        section.done()
    return Registry(
        sop_classes=MappingProxyType(sops),
        transfer_syntaxes=MappingProxyType(syntaxes),
        transfer_syntax_groups=MappingProxyType(ts_groups),
        sop_class_groups=MappingProxyType(sop_groups),
    )


def _check_members(
    section: Section, key: str, members: tuple[str, ...], known: Mapping[str, object], what: str
) -> None:
    if not members:
        raise section.error(key, "a group needs at least one member")
    for index, uid in enumerate(members):
        if uid not in known:
            raise section.error(f"{key}[{index}]", f"{uid} is not a registered {what}")
    if len(set(members)) != len(members):
        raise section.error(key, "a UID is listed twice")


def _sop_class(entry: Section) -> SopClass:
    sop = SopClass(
        uid=entry.uid("uid"),
        name=entry.string("name"),
        kind=entry.choice("kind", SOP_CLASS_KINDS),
        retired=entry.boolean("retired", False),
        meta=entry.boolean("meta", False),
        private=entry.boolean("private", False),
    )
    entry.done()
    return sop


def _transfer_syntax(entry: Section) -> TransferSyntax:
    syntax = TransferSyntax(
        uid=entry.uid("uid"),
        name=entry.string("name"),
        encoding=entry.choice("encoding", ENCODINGS),
        compressed=entry.boolean("compressed", False),
        encodable_by_pydicom=entry.boolean("encodable_by_pydicom", False),
        retired=entry.boolean("retired", False),
        private=entry.boolean("private", False),
    )
    entry.done()
    return syntax
