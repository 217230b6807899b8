"""Error Comment (0000,0902) text that always fits its element.

Error Comment is an LO value in the command set (PS3.7 Annex C, PS3.5 §6.2):
at most 64 characters of the default character repertoire, no backslash
(the value delimiter) and no control characters. Failure text often quotes
what the peer sent, which may be anything; :func:`error_comment` turns any
text into a value the command-set encoder accepts, so that a failure
response can always be sent.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_ERROR_COMMENT", "error_comment"]

#: The most characters an Error Comment may hold (LO).
MAX_ERROR_COMMENT: Final = 64


def _replacement(char: str) -> str:
    if char == "\\":
        return "/"
    if char in "\t\n\r\f\v":
        return " "
    return "?"


def error_comment(text: str) -> str:
    """``text`` as a valid Error Comment: printable ASCII, no backslash, at most 64 characters.

    A backslash becomes ``/``, a whitespace control character a space, and
    any other character outside printable ASCII ``?``; the result is cut to
    :data:`MAX_ERROR_COMMENT` characters.
    """
    text = text[:MAX_ERROR_COMMENT]
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    return "".join(c if " " <= c <= "~" and c != "\\" else _replacement(c) for c in text)
