"""The instances a study, series or instance resource names, with their files, in order.

Asked of the index through the same query path as C-FIND (an IMAGE-level
relational query of the Study Root model), so a resource only ever reaches a
file the index holds: a UID from the URL is a match key, never part of a path.
The order is the one a viewer shows: Series Number, Instance Number, UID.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from dicomnet.archive.backend import IndexBackend
from dicomnet.query.models import STUDY_ROOT
from dicomnet.query.query import QueryError, parse_query
from dicomnet.storage.filenames import is_valid_uid

__all__ = ["ImageRef", "find_images"]


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One instance of a resource: where its file is and where it sorts."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    path: Path
    series_number: int | None
    instance_number: int | None

    def sort_key(self) -> tuple[int, str, int, str]:
        """Series Number (missing last), series, Instance Number (missing last), UID."""
        big = 1 << 62
        return (
            self.series_number if self.series_number is not None else big,
            self.series_uid,
            self.instance_number if self.instance_number is not None else big,
            self.sop_instance_uid,
        )


def _number(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


async def find_images(
    index: IndexBackend,
    study_uid: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> list[ImageRef]:
    """The indexed instances below the resource, sorted; empty when there are none.

    A UID that is not a valid UID value simply matches nothing.
    """
    uids = (study_uid, series_uid or "1", sop_instance_uid or "1")
    if not all(is_valid_uid(uid) for uid in uids):
        return []
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "IMAGE"
    identifier.StudyInstanceUID = study_uid
    identifier.SeriesInstanceUID = series_uid or ""
    identifier.SOPInstanceUID = sop_instance_uid or ""
    identifier.SeriesNumber = ""
    identifier.InstanceNumber = ""
    try:
        query = parse_query(identifier, STUDY_ROOT, relational=True)
    except QueryError:
        return []
    found: dict[str, tuple[str, int | None, int | None]] = {}
    async for match in index.matches(query):
        ident = match.identifier
        found[str(ident.SOPInstanceUID)] = (
            str(ident.get("SeriesInstanceUID", "")),
            _number(ident.get("SeriesNumber")),
            _number(ident.get("InstanceNumber")),
        )
    refs: list[ImageRef] = []
    for record in await index.instances(query):
        uid = record.sop_instance_uid
        if record.path is None or uid not in found:
            continue
        series, series_number, instance_number = found[uid]
        refs.append(ImageRef(study_uid, series, uid, record.path, series_number, instance_number))
    refs.sort(key=ImageRef.sort_key)
    return refs
