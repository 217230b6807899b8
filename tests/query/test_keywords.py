"""The keyword table the Q/R models and index schema use instead of pydicom's dictionary."""

from __future__ import annotations

import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword

from dicomnet.archive.schema import COLUMNS
from dicomnet.query.keywords import KEYWORDS, tag_of, vr_of


@pytest.mark.parametrize("keyword", sorted(KEYWORDS))
def test_each_row_matches_the_data_dictionary(keyword: str) -> None:
    tag = tag_for_keyword(keyword)
    assert tag is not None
    assert tag_of(keyword) == tag
    assert vr_of(keyword) == dictionary_VR(tag)


def test_every_index_column_has_its_dictionary_tag_and_vr() -> None:
    for tag, column in COLUMNS.items():
        assert tag_for_keyword(column.keyword) == tag
        assert column.vr == dictionary_VR(tag)


def test_an_unknown_keyword_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        tag_of("NoSuchKeyword")
