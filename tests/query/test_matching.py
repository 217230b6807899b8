"""The matching engine, per matching type of PS3.4 C.2.2.2."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet.query.matching import MatchType, match_dataset, match_element, match_strings
from dicomnet.query.matching import matching_type as kind

TEXT = st.text(alphabet=string.ascii_uppercase + string.digits + "^", min_size=1, max_size=12)


def test_matching_type_by_vr_and_value() -> None:
    assert kind("PN", "") is MatchType.UNIVERSAL
    assert kind("PN", "*") is MatchType.UNIVERSAL
    assert kind("PN", "DOE*") is MatchType.WILDCARD
    assert kind("DA", "20200101-") is MatchType.RANGE
    assert kind("UI", "1.2\\1.3") is MatchType.LIST
    assert kind("UI", "1.2") is MatchType.SINGLE
    assert kind("DA", "2020*") is MatchType.SINGLE  # no wildcards for dates
    assert kind("SQ", [Dataset()]) is MatchType.UNIVERSAL


@given(TEXT)
def test_universal_matches_anything_even_absent(value: str) -> None:
    assert match_strings("LO", "", [value])
    assert match_strings("LO", "", [])
    assert match_strings("PN", "*", [value])


@given(TEXT)
def test_single_value_is_exact_and_case_sensitive_except_pn(value: str) -> None:
    assert match_strings("LO", value, [value])
    assert match_strings("LO", f" {value} ", [value])
    assert not match_strings("LO", value + "X", [value])
    assert match_strings("PN", value.lower(), [value])
    if value.lower() != value:
        assert not match_strings("LO", value.lower(), [value])


@given(TEXT, TEXT)
def test_wildcard_prefix_and_question_mark(head: str, tail: str) -> None:
    value = head + tail
    assert match_strings("SH", head + "*", [value])
    assert match_strings("SH", "*" + tail, [value])
    assert match_strings("SH", "?" * len(value), [value])
    assert not match_strings("SH", "?" * (len(value) + 1), [value])


def test_wildcard_does_not_match_absent_value() -> None:
    assert not match_strings("PN", "DOE*", [])
    assert not match_strings("PN", "DOE*", ["ROE^JANE"])
    assert match_strings("PN", "doe*", ["DOE^JOHN"])


DATES = st.dates().map(lambda d: d.strftime("%Y%m%d"))


@settings(max_examples=60)
@given(DATES, DATES, DATES)
def test_date_range(low: str, high: str, value: str) -> None:
    assert match_strings("DA", f"{low}-{high}", [value]) == (low <= value <= high)
    assert match_strings("DA", f"{low}-", [value]) == (value >= low)
    assert match_strings("DA", f"-{high}", [value]) == (value <= high)


def test_time_range_upper_bound_covers_its_precision() -> None:
    assert match_strings("TM", "0800-1000", ["100059.5"])
    assert not match_strings("TM", "0800-1000", ["100100"])
    assert match_strings("TM", "08:00-10:00", ["0930"])
    assert not match_strings("TM", "0800-", ["0759"])
    assert not match_strings("DA", "20200101-20201231", [])


def test_uid_list_matches_any_listed() -> None:
    assert match_strings("UI", "1.2.3\\1.2.4", ["1.2.4"])
    assert not match_strings("UI", "1.2.3\\1.2.4", ["1.2.5"])


def test_multi_valued_candidate_matches_when_one_value_does() -> None:
    assert match_strings("CS", "MR", ["CT", "MR"])
    assert match_strings("CS", "CT\\US", ["US"])
    assert not match_strings("CS", "PT", ["CT", "MR"])


def _steps(*items: dict[str, str]) -> DataElement:
    datasets = []
    for item in items:
        ds = Dataset()
        for keyword, value in item.items():
            setattr(ds, keyword, value)
        datasets.append(ds)
    return DataElement(0x00400100, "SQ", datasets)


def test_sequence_matching_uses_the_items_keys() -> None:
    key = _steps({"Modality": "CT", "ScheduledProcedureStepStartDate": "20240101-20240131"})
    assert match_element(
        key,
        _steps(
            {"Modality": "MR"}, {"Modality": "CT", "ScheduledProcedureStepStartDate": "20240115"}
        ),
    )
    assert not match_element(
        key, _steps({"Modality": "CT", "ScheduledProcedureStepStartDate": "20240215"})
    )
    assert not match_element(key, None)
    assert match_element(_steps({}), None)


def test_match_dataset_needs_every_key() -> None:
    keys = Dataset()
    keys.PatientName = "DOE*"
    keys.PatientID = "P1"
    keys.SpecificCharacterSet = "ISO_IR 100"
    entity = Dataset()
    entity.PatientName = "Doe^John"
    entity.PatientID = "P1"
    assert match_dataset(keys, entity)
    entity.PatientID = "P2"
    assert not match_dataset(keys, entity)
