"""Safe file names for stored instances, whatever the peer put in the UID.

A SOP Instance UID that is a valid UID (PS3.5 §9.1: digit components without
leading zeros, separated by single dots, at most 64 characters) is used as the
file name as it is: it holds only digits and dots, can never be ``.`` or
``..``, and two different UIDs give two different names.

Anything else (``../../etc/passwd``, ``1.2/3``, a UID longer than 64
characters, non-ASCII text) is *stored*, not refused, under a name made from
its SHA-256 digest: ``invalid-uid-<64 hex digits>.dcm``. The prefix cannot
occur in a valid-UID name, so the two kinds never collide, and the digest
keeps different invalid UIDs apart. The original UID is kept inside the file
(Media Storage SOP Instance UID in the file meta information).
"""

from __future__ import annotations

import hashlib
from typing import Final

from dicomnet.dimse.uids import MAX_UID_LENGTH, is_valid_uid

__all__ = ["INVALID_UID_PREFIX", "MAX_UID_LENGTH", "instance_filename", "is_valid_uid"]

#: File name prefix of instances whose SOP Instance UID is not a valid UID.
INVALID_UID_PREFIX: Final = "invalid-uid-"


def instance_filename(sop_instance_uid: str, suffix: str = ".dcm") -> str:
    """The file name (no directory) for an instance; never contains a path separator."""
    if is_valid_uid(sop_instance_uid):
        return sop_instance_uid + suffix
    digest = hashlib.sha256(sop_instance_uid.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{INVALID_UID_PREFIX}{digest}{suffix}"
