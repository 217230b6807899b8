"""C-FIND on the index: a checked :class:`~dicomnet.query.query.Query` as one SQL statement.

:func:`plan_query` translates the keys it can (indexed columns; single
values, wildcards, date and time ranges, UID lists) into a ``WHERE`` clause
that selects a *superset* of the matching entities; every row is then
finished by the in-memory matcher (:func:`dicomnet.query.query.respond`),
which has the last word. So a key the SQL does not translate (no column, a
sequence, a numeric VR, a computed attribute, a UID list longer than
:data:`MAX_SQL_UIDS`) still matches exactly as the in-memory index would,
only with less help from the database.

The statement selects, per entity at the query level, its primary key, its
kept header, the computed attributes the identifier asks for and the column
of every key that has one (joining the upper levels' tables as needed), so
that most responses are built without decoding the kept header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from dicomnet.query.matching import MatchType, matching_type
from dicomnet.query.query import Query, key_verdict

from .entry import pn_fold
from .schema import LEVEL_TABLES, Column, column_for

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement

__all__ = [
    "COMPUTED",
    "COMPUTED_NAMES",
    "MAX_SQL_UIDS",
    "POSTGRESQL",
    "SQLITE",
    "Plan",
    "numbered",
    "plan_query",
    "upward_join",
]

#: The SQL dialects :func:`plan_query` writes.
SQLITE: Final = "sqlite"
POSTGRESQL: Final = "postgresql"
_AGG: Final = "string_agg(DISTINCT {}, ',')"

#: UID lists longer than this are matched in Python, not with ``IN (...)``.
MAX_SQL_UIDS: Final = 1000
_LEVELS: Final = ("PATIENT", "STUDY", "SERIES", "IMAGE")
#: Sorts after every ASCII text that starts the same way (an upper bound for a prefix).
_ABOVE_ASCII: Final = "\U0010ffff"
_ALIASES: Final = {"PATIENT": "p", "STUDY": "st", "SERIES": "se", "IMAGE": "i"}
_PARENT_FK: Final = {"STUDY": "patient_fk", "SERIES": "study_fk", "IMAGE": "series_fk"}
_VRS: Final = {
    "uid": frozenset({"UI"}),
    "text": frozenset({"AE", "CS", "LO", "SH"}),
    "pn": frozenset({"PN"}),
    "date": frozenset({"DA"}),
    "time": frozenset({"TM"}),
}

_STUDY_SERIES: Final = "(SELECT count(*) FROM series y WHERE y.study_fk = t.pk)"
_STUDY_INSTANCES: Final = (
    "(SELECT count(*) FROM instance z JOIN series y ON z.series_fk = y.pk WHERE y.study_fk = t.pk)"
)
#: Computed attribute name -> SQL expression over the query level's row ``t``, per level.
COMPUTED: Final = {
    "PATIENT": {
        "studies": "(SELECT count(*) FROM study x WHERE x.patient_fk = t.pk)",
        "series": "(SELECT count(*) FROM series y JOIN study x ON y.study_fk = x.pk"
        " WHERE x.patient_fk = t.pk)",
        "instances": "(SELECT count(*) FROM instance z JOIN series y ON z.series_fk = y.pk"
        " JOIN study x ON y.study_fk = x.pk WHERE x.patient_fk = t.pk)",
    },
    "STUDY": {
        "series": _STUDY_SERIES,
        "instances": _STUDY_INSTANCES,
        "modalities": "(SELECT group_concat(DISTINCT y.modality) FROM series y"
        " WHERE y.study_fk = t.pk)",
        "sop_classes": "(SELECT group_concat(DISTINCT z.sop_class) FROM instance z"
        " JOIN series y ON z.series_fk = y.pk WHERE y.study_fk = t.pk)",
    },
    "SERIES": {"instances": "(SELECT count(*) FROM instance z WHERE z.series_fk = t.pk)"},
    "IMAGE": {},
}
#: The same in PostgreSQL (``string_agg`` for SQLite's ``group_concat``).
_COMPUTED_POSTGRESQL: Final = {
    level: {
        name: expression.replace(
            "group_concat(DISTINCT y.modality)", _AGG.format("y.modality")
        ).replace("group_concat(DISTINCT z.sop_class)", _AGG.format("z.sop_class"))
        for name, expression in expressions.items()
    }
    for level, expressions in COMPUTED.items()
}
#: The computed attributes of each level (PS3.4 C.3.4): tag -> name in :data:`COMPUTED`.
COMPUTED_NAMES: Final = {
    "PATIENT": {0x00201200: "studies", 0x00201202: "series", 0x00201204: "instances"},
    "STUDY": {
        0x00080061: "modalities",
        0x00080062: "sop_classes",
        0x00201206: "series",
        0x00201208: "instances",
    },
    "SERIES": {0x00201209: "instances"},
    "IMAGE": {},
}


@dataclass(slots=True)
class Plan:
    """One SELECT: ``pk``, ``attrs``, the ``computed`` and then the ``columns`` values."""

    sql: str
    params: list[object] = field(default_factory=list)
    computed: tuple[str, ...] = ()
    #: The keys translated to SQL (tags), for logs and tests.
    translated: tuple[int, ...] = ()
    #: Tags whose column values follow the computed columns, in this order (the
    #: response takes them from there instead of decoding the kept header).
    columns: tuple[int, ...] = ()


def upward_join(level: str, top: str) -> str:
    """``FROM`` the level's table (alias ``t``) joined up to ``top``'s table."""
    table = LEVEL_TABLES[level]
    sql = f"{table} t"
    child = "t"
    for upper in reversed(_LEVELS[_LEVELS.index(top) : _LEVELS.index(level)]):
        alias = _ALIASES[upper]
        lower = _LEVELS[_LEVELS.index(upper) + 1]
        sql += f" JOIN {LEVEL_TABLES[upper]} {alias} ON {child}.{_PARENT_FK[lower]} = {alias}.pk"
        child = alias
    return sql


def _glob(pattern: str) -> str:
    return pattern.replace("[", "[[]")


def _like(pattern: str) -> str:
    """A DICOM wildcard as a ``LIKE`` pattern (``\\`` escapes; ``*``: ``%``, ``?``: ``_``)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _wildcard(column: str, pattern: str, dialect: str, params: list[object]) -> str:
    """``column`` matches the DICOM wildcard ``pattern`` (case-sensitive in both dialects)."""
    if dialect == POSTGRESQL:
        params.append(_like(pattern))
        return f"{column} LIKE ?"
    params.append(_glob(pattern))
    return f"{column} GLOB ?"


def _strip(text: str) -> str:
    return text.strip(" \0")


def _condition(
    column: str, kind: str, vr: str, text: str, params: list[object], *, dialect: str = SQLITE
) -> str | None:
    """SQL for one alternative of a key, or ``None`` when it matches everything."""
    sub = matching_type(vr, text)
    if sub is MatchType.UNIVERSAL:
        return None
    if sub is MatchType.WILDCARD:
        if kind == "pn":
            return _wildcard(f"{column}_fold", pn_fold(text), dialect, params)
        return _wildcard(column, text, dialect, params)
    if sub is MatchType.RANGE:
        low, _, high = text.partition("-")
        low, high = _strip(low), _strip(high)
        clauses = [f"{column} <> ''"]
        if kind == "date":
            low, high = low.replace(".", ""), high.replace(".", "")
        else:
            low, high = low.replace(":", ""), high.replace(":", "")
        if low:
            params.append(low)
            clauses.append(f"{column} >= ?")
        if high:
            # The prefix comparison is exact; the plain one above it lets an index bound the scan.
            params.extend((high + _ABOVE_ASCII, len(high), high))
            clauses.append(f"{column} <= ? AND substr({column}, 1, ?) <= ?")
        return "(" + " AND ".join(clauses) + ")"
    if kind == "pn":
        params.append(pn_fold(text))
        return f"{column}_fold = ?"
    if kind == "date":
        params.append(text.replace(".", ""))
        return f"{column} = ?"
    if kind == "time":
        value = text.replace(":", "")
        if "." in value:
            params.append(value)
            return f"{column} = ?"
        params.extend((len(value), value))
        return f"substr({column}, 1, ?) = ?"
    params.append(text)
    return f"{column} = ?"


def _key_sql(
    column: Column, alias: str, element: DataElement, params: list[object], dialect: str
) -> str | None:
    from pydicom.multival import MultiValue  # noqa: PLC0415 (loaded on first use)

    vr = str(element.VR)
    if column.kind not in _VRS or vr not in _VRS[column.kind] or element.value is None:
        return None
    raw = element.value
    text = "\\".join(str(v) for v in raw) if isinstance(raw, MultiValue) else str(raw)
    text = _strip(text)
    kind = matching_type(vr, text)
    name = f"{alias}.{column.name}"
    if kind is MatchType.UNIVERSAL:
        return None
    if kind is MatchType.LIST:
        uids = sorted({_strip(v) for v in text.split("\\")})
        if len(uids) > MAX_SQL_UIDS:
            return None
        params.extend(uids)
        return f"{name} IN ({', '.join('?' * len(uids))})"
    local: list[object] = []
    clauses = []
    for alternative in (_strip(a) for a in text.split("\\")):
        clause = _condition(name, column.kind, vr, alternative, local, dialect=dialect)
        if clause is None:
            return None  # one alternative matches everything
        clauses.append(clause)
    params.extend(local)
    return clauses[0] if len(clauses) == 1 else "(" + " OR ".join(clauses) + ")"


def plan_query(query: Query, dialect: str = SQLITE) -> Plan:
    """The SELECT for ``query`` (see the module docstring) in ``dialect``.

    Parameters are ``?`` in both dialects (a PostgreSQL backend numbers them).
    """
    if dialect not in (SQLITE, POSTGRESQL):
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    level = query.level
    depth = _LEVELS.index(level)
    params: list[object] = []
    where: list[str] = []
    translated: list[int] = []
    top = level
    for element in query.keys:
        tag = int(element.tag)
        column = column_for(tag)
        if column is None or _LEVELS.index(column.level) > depth:
            continue
        if key_verdict(query, element) != "match":
            continue
        alias = "t" if column.level == level else _ALIASES[column.level]
        clause = _key_sql(column, alias, element, params, dialect)
        if clause is None:
            continue
        where.append(clause)
        translated.append(tag)
        if _LEVELS.index(column.level) < _LEVELS.index(top):
            top = column.level
    names = COMPUTED_NAMES[level]
    wanted = {names[int(e.tag)] for e in query.keys if int(e.tag) in names}
    computed = tuple(name for name in COMPUTED[level] if name in wanted)
    selected: list[str] = []
    tags: list[int] = []
    for element in query.keys:
        column = column_for(int(element.tag))
        if column is None or _LEVELS.index(column.level) > depth or element.VR == "SQ":
            continue
        alias = "t" if column.level == level else _ALIASES[column.level]
        selected.append(f"{alias}.{column.name}")
        tags.append(int(element.tag))
        if _LEVELS.index(column.level) < _LEVELS.index(top):
            top = column.level
    expressions = COMPUTED[level] if dialect == SQLITE else _COMPUTED_POSTGRESQL[level]
    select = ", ".join(["t.pk", "t.attrs", *(expressions[name] for name in computed), *selected])
    sql = f"SELECT {select} FROM {upward_join(level, top)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return Plan(
        sql=sql,
        params=params,
        computed=computed,
        translated=tuple(translated),
        columns=tuple(tags),
    )


def numbered(sql: str) -> str:
    """``sql`` with its ``?`` parameters written ``$1``, ``$2``... (PostgreSQL's style).

    The statements of this package hold no ``?`` other than parameters
    (values, patterns included, are always parameters).
    """
    parts = sql.split("?")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        out.append(f"${n}{part}")
    return "".join(out)
