"""build_response's C-STORE and C-ECHO shortcuts give what the general path gives."""

from __future__ import annotations

from typing import Any

from dimse_strategies import messages
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse import commands as c
from dicomnet.dimse.responses import _general_response, build_response

_UIDS = st.sampled_from(["1.2.840.10008.5.1.4.1.1.2", "1.2.3", "1.02.3", "x", "", "1." * 40])


@settings(max_examples=300, deadline=None)
@given(
    messages(
        c.CStoreRQ,
        {"affected_sop_class_uid": _UIDS, "affected_sop_instance_uid": _UIDS},
    ),
    st.integers(0, 0xFFFF),
    st.none() | st.booleans(),
)
def test_store_response_matches_the_general_path(
    request: c.DimseMessage, status: int, has_dataset: bool | None
) -> None:
    assert isinstance(request, c.CStoreRQ)
    fields: dict[str, Any] = {} if has_dataset is None else {"has_dataset": has_dataset}
    fast = build_response(request, status, **fields)
    assert fast == _general_response(request, status, fields)
    assert type(fast) is c.CStoreRSP


def test_other_fields_take_the_general_path() -> None:
    request = c.CStoreRQ(
        message_id=3, affected_sop_class_uid="1.2.3", affected_sop_instance_uid="1.2.4"
    )
    response = build_response(request, 0xA700, error_comment="disk full")
    assert response.error_comment == "disk full"
    assert response.message_id_being_responded_to == 3


@settings(max_examples=200, deadline=None)
@given(messages(c.CEchoRQ, {"affected_sop_class_uid": _UIDS}), st.integers(0, 0xFFFF))
def test_echo_response_matches_the_general_path(request: c.DimseMessage, status: int) -> None:
    assert isinstance(request, c.CEchoRQ)
    fast = build_response(request, status)
    assert fast == _general_response(request, status, {})
    assert type(fast) is c.CEchoRSP
