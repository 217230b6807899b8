"""Error Comment text is always encodable (PS3.7 Annex C, LO of PS3.5 §6.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dicomnet.dimse.codec import decode_command, encode_command
from dicomnet.dimse.commands import CFindRQ, CFindRSP
from dicomnet.dimse.comments import MAX_ERROR_COMMENT, error_comment
from dicomnet.dimse.responses import build_response

FIND = "1.2.840.10008.5.1.4.1.2.2.1"


def test_valid_text_is_kept() -> None:
    text = "level PATIENT not in the Study Root model"
    assert error_comment(text) == text


def test_replacements_keep_the_length_and_position() -> None:
    assert error_comment("a\\b\tc\u00e9d\x00e\n") == "a/b c?d?e "


def test_cut_to_64_characters() -> None:
    assert error_comment("x" * 70) == "x" * 64
    assert len(error_comment("\u00e9" * 70)) == MAX_ERROR_COMMENT


@given(st.text(max_size=100))
def test_any_text_encodes_in_a_response(text: str) -> None:
    comment = error_comment(text)
    assert len(comment) <= MAX_ERROR_COMMENT
    assert all(" " <= c <= "~" and c != "\\" for c in comment)
    rsp = CFindRSP(message_id_being_responded_to=1, status=0xC001, error_comment=comment)
    decoded = decode_command(encode_command(rsp))
    assert isinstance(decoded, CFindRSP)
    assert (decoded.error_comment or "") == comment.strip(" ")


def test_build_response_makes_the_comment_valid() -> None:
    request = CFindRQ(message_id=7, affected_sop_class_uid=FIND)
    rsp = build_response(request, 0x0110, error_comment="level '\u00e9X' \\ " + "y" * 80)
    assert rsp.error_comment == "level '?X' / " + "y" * 51
    encode_command(rsp)  # does not raise
