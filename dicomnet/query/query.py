"""Evaluating a C-FIND/C-MOVE/C-GET identifier against an :class:`InstanceIndex`.

:func:`parse_query` checks the identifier against the information model
(PS3.4 C.4.1.2.2, C.4.2.2.1) and raises :class:`QueryError` (status A900) when
it does not fit: no or unknown Query/Retrieve Level, keys below the level,
missing unique keys of the levels above (hierarchical queries; relational
ones may leave them out), a key sent as a sequence that is not one (or the
other way round), a key sequence with more than one item (PS3.4 C.2.2.2.6),
a value its VR does not allow (:func:`~dicomnet.query.values.value_problem`),
more than :data:`MAX_KEY_VALUES` values in one key (status A700 for C-FIND,
A701 for a retrieve). Private keys are not supported: they are left out of
matching and of the responses, which are then FF01 (PS3.4 C.4.1.1.4).
:func:`find_matches` yields one response identifier per matching entity at
the query level; :func:`select_instances` gives the instances a retrieve
sends.

A :class:`KeySupport` (from a conformance profile's query keys) restricts
what the SCP matches on: a key it does not list is returned empty and not
matched, a key whose matching type it does not list is returned but not
matched, a ``NONE`` key is returned only. Either makes the pending status
FF01 (optional keys not supported).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .index import InstanceIndex, InstanceRecord
from .matching import ConversionError, MatchType, converted, match_element, matching_type
from .models import REQUIRED_KEYS, UNIQUE_KEYS, InformationModel
from .values import value_problem

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = [
    "KeySupport",
    "Match",
    "PlainIdentifier",
    "Query",
    "QueryError",
    "computed_attributes",
    "find_matches",
    "key_verdict",
    "match_keys",
    "parse_query",
    "respond",
    "select_instances",
]

QUERY_RETRIEVE_LEVEL = 0x00080052
SPECIFIC_CHARACTER_SET = 0x00080005
RETRIEVE_AE_TITLE = 0x00080054
#: C001 (PS3.4 C.4.1.1.4): the identifier cannot be processed.
UNABLE_TO_PROCESS = 0xC001
#: A700 (C-FIND) / A701 (C-MOVE, C-GET): out of resources.
OUT_OF_RESOURCES: Final = 0xA700
OUT_OF_RESOURCES_RETRIEVE: Final = 0xA701
#: The most values one key may list (a UID list, backslash alternatives): the
#: answer to a longer list is refused rather than matched value by value.
MAX_KEY_VALUES: Final = 10_000
_NOT_MATCHED = frozenset({SPECIFIC_CHARACTER_SET, QUERY_RETRIEVE_LEVEL, RETRIEVE_AE_TITLE})


class QueryError(Exception):
    """The identifier does not fit the SOP class (status A900 unless said otherwise)."""

    def __init__(self, comment: str, *, status: int = 0xA900, offending: int | None = None):
        super().__init__(comment)
        self.status = status
        self.comment = comment
        self.offending = offending


@dataclass(frozen=True, slots=True)
class KeySupport:
    """The keys an SCP supports for one model: tag -> matching types (S, *, U, R, L, NONE).

    An empty set of matching types means the document does not say: every
    type is used. ``with_required`` adds the model's Required and Unique keys
    (for statements that list only their optional keys). ``omit_unsupported``
    leaves unsupported keys out of the responses instead of returning them
    empty.
    """

    keys: dict[int, frozenset[str]]
    with_required: bool = False
    omit_unsupported: bool = False

    @classmethod
    def from_profile(
        cls,
        query_keys: Iterable[object],
        model_uid: str,
        *,
        with_required: bool = False,
        omit_unsupported: bool = False,
    ) -> KeySupport:
        """Keys of a :class:`~dicomnet.conformance.profile.Profile`'s ``query_keys`` for a model."""
        keys: dict[int, frozenset[str]] = {}
        for key in query_keys:
            if getattr(key, "model", None) != model_uid:
                continue
            group, element = str(getattr(key, "tag", "")).split(",")
            keys[int(group, 16) << 16 | int(element, 16)] = frozenset(getattr(key, "matching", ()))
        return cls(keys, with_required=with_required, omit_unsupported=omit_unsupported)

    def verdict(self, tag: int, kind: MatchType) -> str:
        """``"match"``, ``"return"`` (value returned, not matched) or ``"empty"``."""
        types = self.keys.get(tag)
        if types is None and self.with_required and tag in REQUIRED_KEYS:
            types = frozenset()
        if types is None:
            return "empty"
        if kind is MatchType.UNIVERSAL:
            return "return"
        if not types or kind.value in types:
            return "match"
        return "return"


#: An identifier as plain values: ([(tag, VR, value), ...], Specific Character Set).
PlainIdentifier = tuple[list[tuple[int, str, str | list[str] | None]], str | list[str] | None]


@dataclass(frozen=True, slots=True)
class Query:
    """A checked identifier: model, level, and the keys (Query/Retrieve Level removed)."""

    model: InformationModel
    level: str
    keys: Dataset
    support: KeySupport | None = None
    #: Keys of the identifier left out (private ones): responses are FF01.
    ignored: frozenset[int] = frozenset()


class Match:
    """One matching entity: its response identifier and the instances below it.

    A source may give, instead of the identifier, a function that builds it
    (called once, when :attr:`identifier` is first read) and one that encodes
    it straight to bytes (:meth:`encoded`), so that the Q/R service can send a
    response without building a pydicom Dataset, and one that gives its
    elements as plain values (:meth:`elements`, for DICOM JSON).
    """

    __slots__ = ("_build", "_elements", "_encode", "_identifier", "partial", "records")

    def __init__(
        self,
        identifier: Dataset | None = None,
        records: tuple[InstanceRecord, ...] = (),
        partial: bool = False,
        *,
        build: Callable[[], Dataset] | None = None,
        encode: Callable[[str], bytes | None] | None = None,
        elements: Callable[[], PlainIdentifier | None] | None = None,
    ) -> None:
        if identifier is None and build is None:
            raise ValueError("a Match needs an identifier or a function that builds it")
        self._identifier = identifier
        self._build = build
        self._encode = encode
        self._elements = elements
        self.records = records
        #: Some optional keys were not supported (pending status FF01).
        self.partial = partial

    @property
    def identifier(self) -> Dataset:
        """The response identifier."""
        if self._identifier is None:
            assert self._build is not None
            self._identifier = self._build()
        return self._identifier

    def encoded(self, transfer_syntax_uid: str) -> bytes | None:
        """The identifier encoded in ``transfer_syntax_uid`` if the source can, else ``None``."""
        return None if self._encode is None else self._encode(transfer_syntax_uid)

    def elements(self) -> PlainIdentifier | None:
        """The identifier's elements as plain values if the source can, else ``None``.

        (``[(tag, VR, value), ...]`` in tag order, ``value`` a string, a list of
        strings or ``None`` for empty; and the Specific Character Set), the
        elements :meth:`encoded` writes.
        """
        return None if self._elements is None else self._elements()

    def __repr__(self) -> str:
        return f"Match({self.identifier!r}, records={len(self.records)}, partial={self.partial})"


def parse_query(
    identifier: Dataset,
    model: InformationModel,
    *,
    relational: bool = False,
    retrieve: bool = False,
    support: KeySupport | None = None,
) -> Query:
    """Check ``identifier`` against ``model``; raise :class:`QueryError` when it does not fit.

    An element whose value cannot be converted raises :class:`QueryError`
    with status C001 (unable to process) naming it as the offending element.
    """
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    try:
        identifier = converted(identifier)
    except ConversionError as exc:
        raise QueryError(
            f"identifier unreadable: {exc}", status=UNABLE_TO_PROCESS, offending=exc.tag
        ) from exc
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if not level:
        raise QueryError("no Query/Retrieve Level", offending=QUERY_RETRIEVE_LEVEL)
    if level not in model.levels:
        raise QueryError(
            f"level {level} not in the {model.name} model", offending=QUERY_RETRIEVE_LEVEL
        )
    depth = model.level_index(level)
    keys = Dataset()
    ignored: set[int] = set()
    for element in identifier:
        tag = int(element.tag)
        if tag == QUERY_RETRIEVE_LEVEL or element.tag.group in (0x0000, 0x0002):
            continue
        if element.tag.element == 0x0000:
            continue  # a group length: not a key
        if element.tag.is_private:
            ignored.add(tag)
            continue
        _check_key(element, retrieve=retrieve)
        home = model.home_level(tag, level)
        if home is not None and (home not in model.levels or model.level_index(home) > depth):
            raise QueryError(
                f"{element.keyword or hex(tag)} is below the {level} level", offending=tag
            )
        keys.add(element)
    for upper in model.levels[:depth]:
        tag = UNIQUE_KEYS[upper]
        element = keys.get(tag)
        kind = MatchType.UNIVERSAL if element is None else matching_type(element.VR, element.value)
        if relational:
            continue
        if kind is not MatchType.SINGLE:
            raise QueryError(f"unique key of the {upper} level needs a single value", offending=tag)
    if retrieve:
        unique = keys.get(UNIQUE_KEYS[level])
        kind = MatchType.UNIVERSAL if unique is None else matching_type(unique.VR, unique.value)
        if kind not in (MatchType.SINGLE, MatchType.LIST):
            raise QueryError(
                f"retrieve at {level} level needs its unique key", offending=UNIQUE_KEYS[level]
            )
    return Query(model=model, level=level, keys=keys, support=support, ignored=frozenset(ignored))


def _is_sequence(tag: int) -> bool | None:
    from pydicom.datadict import dictionary_VR  # noqa: PLC0415 (loaded on first use)

    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return None


def _check_key(element: DataElement, *, retrieve: bool) -> None:
    """Refuse a key the standard does not allow in an identifier (see the module doc)."""
    from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

    tag = int(element.tag)
    name = element.keyword or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    sequence = _is_sequence(tag)
    if sequence is not None and sequence != (element.VR == "SQ"):
        kind = "not a sequence" if element.VR == "SQ" else "a sequence"
        raise QueryError(f"{name} is {kind}", offending=tag)
    if element.VR == "SQ":
        if len(element.value) > 1:
            raise QueryError(f"{name}: a key sequence holds one item", offending=tag)
        for item in element.value:
            for sub in item:
                if not sub.tag.is_private:
                    _check_key(sub, retrieve=retrieve)
        return
    if isinstance(element.value, MultiValue) and len(element.value) > MAX_KEY_VALUES:
        raise QueryError(
            f"{name} lists {len(element.value)} values (at most {MAX_KEY_VALUES})",
            status=OUT_OF_RESOURCES_RETRIEVE if retrieve else OUT_OF_RESOURCES,
            offending=tag,
        )
    problem = value_problem(element)
    if problem is not None:
        raise QueryError(f"{name}: {problem}", offending=tag)


# ------------------------------------------------------------------ entities


def _group_key(query: Query, record: InstanceRecord) -> tuple[str, ...]:
    depth = query.model.level_index(query.level)
    return tuple(record.value_of(UNIQUE_KEYS[lvl]) for lvl in query.model.levels[: depth + 1])


def _computed(level: str, records: list[InstanceRecord]) -> Dataset:
    """Attributes that summarize the instances below an entity (PS3.4 C.3.4)."""

    def distinct(keyword: str) -> list[str]:
        return sorted({r.value(keyword) for r in records if r.value(keyword)})

    return computed_attributes(
        level,
        instances=len(records),
        series=len(distinct("SeriesInstanceUID")),
        studies=len(distinct("StudyInstanceUID")),
        modalities=distinct("Modality"),
        sop_classes=distinct("SOPClassUID"),
    )


def computed_attributes(
    level: str,
    *,
    instances: int,
    series: int = 0,
    studies: int = 0,
    modalities: Iterable[str] = (),
    sop_classes: Iterable[str] = (),
) -> Dataset:
    """The computed attributes of an entity at ``level`` from its counts (PS3.4 C.3.4).

    ``modalities`` and ``sop_classes`` are returned sorted, without empty values.
    """
    from pydicom import config  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    ds = Dataset()
    count = str(instances)

    def put(tag: int, vr: str, value: str | list[str]) -> None:
        # Counts and sorted code lists are valid by construction: pydicom's value
        # checks (most of the cost of a response row) are skipped.
        ds.add(DataElement(tag, vr, value, validation_mode=config.IGNORE))

    if level == "PATIENT":
        put(0x00201200, "IS", str(studies))
        put(0x00201202, "IS", str(series))
        put(0x00201204, "IS", count)
    elif level == "STUDY":
        put(0x00080061, "CS", sorted({m for m in modalities if m}))
        put(0x00080062, "UI", sorted({c for c in sop_classes if c}))
        put(0x00201206, "IS", str(series))
        put(0x00201208, "IS", count)
    elif level == "SERIES":
        put(0x00201209, "IS", count)
    return ds


class _Entity:
    """One entity at the query level: the first instance's attributes plus summaries."""

    def __init__(self, query: Query, records: list[InstanceRecord]) -> None:
        self.records = records
        self._computed = _computed(query.level, records)

    def get(self, tag: int) -> DataElement | None:
        from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)

        element = self._computed.get(tag)
        if element is not None:
            return element
        value = self.records[0].header.get(tag)
        return value if isinstance(value, DataElement) else None


def _entities(index: InstanceIndex, query: Query) -> Iterator[_Entity]:
    groups: dict[tuple[str, ...], list[InstanceRecord]] = {}
    for record in index:
        groups.setdefault(_group_key(query, record), []).append(record)
    for records in groups.values():
        yield _Entity(query, records)


def key_verdict(query: Query, element: DataElement) -> str:
    """``"match"``, ``"return"`` or ``"empty"``: what the SCP does with a key of ``query``."""
    tag = int(element.tag)
    if tag in _NOT_MATCHED:
        return "return"
    if tag in UNIQUE_KEYS.values() or query.support is None:
        return "match"
    return query.support.verdict(tag, matching_type(element.VR, element.value))


def _response_element(key: DataElement, found: DataElement | None) -> DataElement:
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    if found is None:
        return DataElement(key.tag, key.VR, [] if key.VR == "SQ" else None)
    if key.VR == "SQ" and key.value and len(key.value[0]):
        wanted = key.value[0]
        items = []
        for item in found.value:
            reduced = Dataset()
            for sub in wanted:
                reduced.add(_response_element(sub, item.get(sub.tag)))
            items.append(reduced)
        return DataElement(key.tag, "SQ", items)
    return DataElement(found.tag, found.VR, found.value)


def _matches(query: Query, lookup: Callable[[int], DataElement | None]) -> tuple[bool, bool]:
    partial = False
    for element in query.keys:
        verdict = key_verdict(query, element)
        if verdict != "match":
            asked = matching_type(element.VR, element.value) is not MatchType.UNIVERSAL
            if verdict == "empty" or asked:
                partial = partial or int(element.tag) not in _NOT_MATCHED
            continue
        if not match_element(element, lookup(int(element.tag))):
            return False, partial
    return True, partial


def match_keys(query: Query) -> tuple[list[DataElement], bool]:
    """The keys an entity must match (universal ones left out), and whether FF01 applies.

    What :func:`respond` checks for every entity, worked out once per query.
    """
    keys: list[DataElement] = []
    partial = False
    for element in query.keys:
        verdict = key_verdict(query, element)
        asked = matching_type(element.VR, element.value) is not MatchType.UNIVERSAL
        if verdict != "match":
            if verdict == "empty" or asked:
                partial = partial or int(element.tag) not in _NOT_MATCHED
            continue
        if asked or element.VR == "SQ":
            keys.append(element)
    return keys, partial or bool(query.ignored)


def respond(
    query: Query,
    lookup: Callable[[int], DataElement | None],
    records: tuple[InstanceRecord, ...] = (),
    *,
    retrieve_ae_title: str | None = None,
) -> Match | None:
    """The response for one entity at the query level, or ``None`` when it does not match.

    ``lookup(tag)`` gives the entity's element for a tag (its computed
    attributes, else the attributes of its first instance); index backends
    use this to finish, with the in-memory matcher, what they did not match
    themselves.
    """
    from pydicom.dataelem import DataElement  # noqa: PLC0415 (loaded on first use)
    from pydicom.dataset import Dataset  # noqa: PLC0415 (loaded on first use)

    ok, partial = _matches(query, lookup)
    if not ok:
        return None
    partial = partial or bool(query.ignored)
    response = Dataset()
    for key in query.keys:
        tag = int(key.tag)
        if tag == RETRIEVE_AE_TITLE and retrieve_ae_title:
            response.add(DataElement(tag, "AE", retrieve_ae_title))
            continue
        if key_verdict(query, key) == "empty":
            if query.support is not None and query.support.omit_unsupported:
                continue
            response.add(DataElement(tag, key.VR, [] if key.VR == "SQ" else None))
            continue
        response.add(_response_element(key, lookup(tag)))
    charset = lookup(SPECIFIC_CHARACTER_SET)
    if charset is not None:
        response.add(DataElement(SPECIFIC_CHARACTER_SET, "CS", charset.value))
    response.QueryRetrieveLevel = query.level
    return Match(identifier=response, records=records, partial=partial)


def find_matches(
    index: InstanceIndex, query: Query, *, retrieve_ae_title: str | None = None
) -> Iterator[Match]:
    """Every entity at the query level that matches, with its response identifier.

    The identifier holds the Query/Retrieve Level and every key asked for,
    with the entity's values (empty when it has none or the key is not
    supported), plus Specific Character Set when the instance has one.
    """
    for entity in _entities(index, query):
        match = respond(
            query, entity.get, tuple(entity.records), retrieve_ae_title=retrieve_ae_title
        )
        if match is not None:
            yield match


def select_instances(index: InstanceIndex, query: Query) -> list[InstanceRecord]:
    """The instances below every matching entity (what a C-MOVE or C-GET sends)."""
    selected: dict[str, InstanceRecord] = {}
    for match in find_matches(index, query):
        for record in match.records:
            selected[record.sop_instance_uid] = record
    return list(selected.values())
