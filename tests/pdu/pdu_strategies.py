"""Hypothesis strategies for every item, sub-item and PDU of ``dicomnet_pdu``.

Sizes are kept small so that every generated PDU fits the 16-bit item lengths.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from dicomnet_pdu.codes import (
    AbortReason,
    AbortSource,
    PresentationContextResult,
    RejectResult,
    RejectSource,
    UserIdentityType,
)
from dicomnet_pdu.items import (
    AsynchronousOperationsWindow,
    ImplementationClassUID,
    ImplementationVersionName,
    MaximumLength,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    SubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet_pdu.pdus import (
    PDU,
    PDV,
    AAbort,
    AAssociateAC,
    AAssociateRJ,
    AAssociateRQ,
    AReleaseRP,
    AReleaseRQ,
    PDataTF,
)

_AE_CHARS = "".join(c for c in string.printable if c.isprintable() and c != "\\")

uids = st.one_of(
    st.text(alphabet="0123456789.", min_size=1, max_size=64),
    st.sampled_from(["1.2.840.10008.1.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.50"]),
)
ae_titles = st.text(alphabet=_AE_CHARS, min_size=1, max_size=16).filter(lambda t: t.strip(" "))
small_bytes = st.binary(max_size=40)
u16 = st.integers(0, 0xFFFF)

maximum_lengths = st.builds(MaximumLength, maximum_length=st.integers(0, 0xFFFFFFFF))
implementation_class_uids = st.builds(ImplementationClassUID, uid=uids)
implementation_version_names = st.builds(
    ImplementationVersionName,
    name=st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=16),
)
async_windows = st.builds(
    AsynchronousOperationsWindow, max_operations_invoked=u16, max_operations_performed=u16
)
role_selections = st.builds(
    RoleSelection, sop_class_uid=uids, scu_role=st.booleans(), scp_role=st.booleans()
)
extended_negotiations = st.builds(
    SOPClassExtendedNegotiation,
    sop_class_uid=uids,
    service_class_application_information=small_bytes,
)
common_extended_negotiations = st.builds(
    SOPClassCommonExtendedNegotiation,
    sop_class_uid=uids,
    service_class_uid=uids,
    related_general_sop_classes=st.lists(uids, max_size=3).map(tuple),
)


@st.composite
def user_identity_rqs(draw: st.DrawFn) -> UserIdentityRQ:
    """User identity RQ: a passcode only with type 2."""
    kind = draw(st.sampled_from(UserIdentityType))
    secondary = draw(small_bytes) if kind == UserIdentityType.USERNAME_AND_PASSCODE else b""
    return UserIdentityRQ(
        identity_type=kind,
        positive_response_requested=draw(st.booleans()),
        primary_field=draw(small_bytes),
        secondary_field=secondary,
    )


user_identity_acs = st.builds(UserIdentityAC, server_response=small_bytes)

sub_items: st.SearchStrategy[SubItem] = st.one_of(
    maximum_lengths,
    implementation_class_uids,
    implementation_version_names,
    async_windows,
    role_selections,
    extended_negotiations,
    common_extended_negotiations,
    user_identity_rqs(),
    user_identity_acs,
)
other_sub_items = sub_items.filter(lambda item: not isinstance(item, MaximumLength))


@st.composite
def user_informations(draw: st.DrawFn) -> UserInformation:
    """User information as PS3.8 requires it: exactly one Maximum Length, anywhere."""
    items = draw(st.lists(other_sub_items, max_size=5))
    items.insert(draw(st.integers(0, len(items))), draw(maximum_lengths))
    return UserInformation(items=tuple(items))


odd_context_ids = st.integers(0, 127).map(lambda n: 2 * n + 1)
contexts_rq = st.builds(
    PresentationContextRQ,
    context_id=odd_context_ids,
    abstract_syntax=uids,
    transfer_syntaxes=st.lists(uids, min_size=1, max_size=4).map(tuple),
)


@st.composite
def contexts_ac(draw: st.DrawFn) -> PresentationContextAC:
    """Presentation context AC: a transfer syntax is required only when accepted."""
    result = draw(st.sampled_from(PresentationContextResult))
    if result == PresentationContextResult.ACCEPTANCE:
        ts = draw(uids)
    else:
        ts = draw(st.one_of(st.just(""), uids))
    return PresentationContextAC(
        context_id=draw(st.integers(1, 255)), result=result, transfer_syntax=ts
    )


associate_rqs = st.builds(
    AAssociateRQ,
    called_ae_title=ae_titles,
    calling_ae_title=ae_titles,
    presentation_contexts=st.lists(
        contexts_rq, min_size=1, max_size=5, unique_by=lambda pc: pc.context_id
    ).map(tuple),
    user_information=user_informations(),
    application_context_name=uids,
    protocol_version=u16,
)
associate_acs = st.builds(
    AAssociateAC,
    called_ae_title=st.one_of(st.just(""), ae_titles),
    calling_ae_title=st.one_of(st.just(""), ae_titles),
    presentation_contexts=st.lists(
        contexts_ac(), max_size=5, unique_by=lambda pc: pc.context_id
    ).map(tuple),
    user_information=user_informations(),
    application_context_name=uids,
    protocol_version=u16,
)
associate_rjs = st.builds(
    AAssociateRJ,
    result=st.sampled_from(RejectResult),
    source=st.sampled_from(RejectSource),
    reason=st.integers(0, 255),
)
pdvs = st.builds(
    PDV,
    context_id=st.integers(1, 255),
    is_command=st.booleans(),
    is_last=st.booleans(),
    data=st.binary(max_size=200),
)
pdata_tfs = st.builds(PDataTF, pdvs=st.lists(pdvs, min_size=1, max_size=4).map(tuple))
aborts = st.builds(AAbort, source=st.sampled_from(AbortSource), reason=st.sampled_from(AbortReason))

pdus: st.SearchStrategy[PDU] = st.one_of(
    associate_rqs,
    associate_acs,
    associate_rjs,
    pdata_tfs,
    st.just(AReleaseRQ()),
    st.just(AReleaseRP()),
    aborts,
)
