"""Send side from the profile, against DCMTK storescp.

DicomArk Send Queue (000, Table 3 and §5.2.2.3): it proposes "the instance's
own transfer syntax" then Implicit VR Little Endian, and cannot transcode on the
fly from JPEG Lossless SV1, JPEG Lossless, JPEG Baseline, JPEG Extended or MPEG2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dicomnet.ae import AE, default_policy
from dicomnet.conformance import load_profile
from dicomnet.policy import ProposedContext
from dicomnet.storage.scu import policy_contexts_for, store_all
from dicomnet.storage.source import InstanceSource
from dicomnet.storage.synthetic import make_image, write_part10
from interop.test_store_scu_dcmtk import program, storescp  # noqa: F401 (fixture)

pytestmark = pytest.mark.interop

SC = "1.2.840.10008.5.1.4.1.1.7"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


def _jpeg() -> InstanceSource:
    path = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    assert path is not None
    return InstanceSource.from_path(path)


def test_the_instance_syntax_is_proposed_first(tmp_path: Path) -> None:
    policy = load_profile("dicomark-send-queue").policy()
    native = tmp_path / "native.dcm"
    write_part10(native, make_image(sop_class_uid=SC), EXPLICIT_LE)
    sources = [_jpeg(), InstanceSource.from_path(native)]
    contexts = policy_contexts_for(sources, policy.proposed_contexts)
    assert [c.transfer_syntaxes for c in contexts if c.abstract_syntax == SC] == [
        (JPEG_BASELINE, IMPLICIT_LE),
        (EXPLICIT_LE, IMPLICIT_LE),
    ]


@pytest.mark.parametrize("profile", ["dicomark-send-queue", None])
async def test_no_transcoding_from_jpeg_for_dicomark(
    program: str,  # noqa: F811
    tmp_path: Path,
    profile: str | None,
) -> None:
    """storescp accepting only uncompressed syntaxes: DicomArk does not send the JPEG
    Baseline instance; an AE without that rule converts and sends it."""
    # An AE without a profile has no no_transcode_from.
    policy = default_policy("SCU") if profile is None else load_profile(profile).policy()
    source = _jpeg()
    contexts = policy_contexts_for([source], policy.proposed_contexts)
    if profile is None:
        contexts = [ProposedContext(abstract_syntax=SC, transfer_syntaxes=(IMPLICIT_LE,))]
    with storescp(program, tmp_path / "out", "+xi") as port:  # Implicit VR LE only
        assoc = await AE("SCU", policy).associate(
            "127.0.0.1", port, called_ae="STORESCP", contexts=contexts
        )
        results = await store_all(assoc, [source])
        await assoc.release()
    (result,) = results
    if profile is None:
        assert result.ok and result.transcoded
    else:
        assert result.status is None and not result.ok
        assert result.error is not None and "does not convert" in result.error
        assert not list((tmp_path / "out").iterdir())
