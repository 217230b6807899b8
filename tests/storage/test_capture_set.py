"""capture_set: a check given the set made once captures what one given the tuple does."""

from __future__ import annotations

from dicomnet.archive.walked import WALK_TAGS
from dicomnet.services.dataset_check import DatasetCheck, capture_set
from dicomnet.services.iod_check import IOD_TAGS
from dicomnet.storage.sinks import InstanceInfo
from storage.test_scp_support import EXPLICIT_LE, encoded, make_dataset

CT = "1.2.840.10008.5.1.4.1.1.2"


def _captured(
    data: bytes, capture: tuple[int, ...] | frozenset[int], *, iod: bool
) -> dict[int, bytes]:
    info = InstanceInfo(sop_class_uid=CT, sop_instance_uid="1.2.3", transfer_syntax_uid=EXPLICIT_LE)
    check = DatasetCheck(info, iod=iod, capture=capture)
    assert check.feed(data) is None
    assert check.finish() is None
    assert check.walker is not None
    return dict(check.walker.captured)


def test_the_set_made_once_captures_the_same_values() -> None:
    data = encoded(make_dataset(sop_instance="1.2.3", pixels=256), EXPLICIT_LE)
    for iod in (False, True):
        made = capture_set(iod=iod, capture=WALK_TAGS)
        assert _captured(data, made, iod=iod) == _captured(data, WALK_TAGS, iod=iod)
        # The SOP Class and Instance UIDs the check compares are always in it.
        assert {0x00080016, 0x00080018} <= made
        assert (set(IOD_TAGS) <= made) is iod


def test_the_set_holds_the_uids_the_check_compares_and_nothing_else_unasked() -> None:
    assert capture_set() == {0x00080016, 0x00080018}
    assert capture_set(iod=True) == {0x00080016, 0x00080018, *IOD_TAGS}
    assert capture_set(capture=(0x00280100,)) == {0x00080016, 0x00080018, 0x00280100}
