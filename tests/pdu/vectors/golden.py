"""Hand-written byte vectors for the seven PDU types, with the value each one encodes.

Each vector spells out the fields of PS3.8 Tables 9-11 to 9-26 (PDUs) and the item
tables of §9.3.2-9.3.3 / PS3.7 Annex D.3.3 (items and user-information sub-items).
Binary fields are hex; text fields (AE titles, UIDs) are ASCII literals.
"""

from __future__ import annotations

from dicomnet_pdu.codes import (
    AbortReason,
    AbortSource,
    PresentationContextResult,
    RejectReasonUser,
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

h = bytes.fromhex

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
STORAGE_SERVICE = "1.2.840.10008.4.2"

# ---------------------------------------------------------------------------- RQ
ASSOCIATE_RQ_BYTES = b"".join(
    [
        h("01"),  # PDU-type: A-ASSOCIATE-RQ
        h("00"),  # reserved
        h("000000af"),  # PDU-length: 175
        h("0001"),  # protocol-version: bit 0
        h("0000"),  # reserved
        b"ANY-SCP         ",  # called-AE-title, 16 bytes space padded
        b"ECHOSCU         ",  # calling-AE-title
        bytes(32),  # reserved (32 bytes)
        # application context item
        h("10 00 0015"),  # item-type 0x10, reserved, item-length 21
        b"1.2.840.10008.3.1.1.1",  # application-context-name (no padding)
        # presentation context item (RQ)
        h("20 00 002e"),  # item-type 0x20, reserved, item-length 46
        h("01 00 00 00"),  # presentation-context-ID 1, reserved x3
        h("30 00 0011"),  # abstract syntax sub-item, length 17
        b"1.2.840.10008.1.1",
        h("40 00 0011"),  # transfer syntax sub-item, length 17
        b"1.2.840.10008.1.2",
        # user information item
        h("50 00 001c"),  # item-type 0x50, reserved, item-length 28
        h("51 00 0004"),  # maximum length sub-item, length 4
        h("00004000"),  # maximum-length-received 16384
        h("52 00 0007"),  # implementation class UID sub-item, length 7
        b"1.2.3.4",
        h("55 00 0005"),  # implementation version name sub-item, length 5
        b"DN_01",
    ]
)
ASSOCIATE_RQ = AAssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(
        PresentationContextRQ(
            context_id=1, abstract_syntax=VERIFICATION, transfer_syntaxes=(IMPLICIT_LE,)
        ),
    ),
    user_information=UserInformation(
        items=(
            MaximumLength(maximum_length=16384),
            ImplementationClassUID(uid="1.2.3.4"),
            ImplementationVersionName(name="DN_01"),
        )
    ),
)

# A-ASSOCIATE-RQ carrying every other user-information sub-item.
ASSOCIATE_RQ_FULL_BYTES = b"".join(
    [
        h("01 00 00000176"),  # A-ASSOCIATE-RQ, reserved, PDU-length 374
        h("0001 0000"),  # protocol-version 1, reserved
        b"STORESCP        ",  # called-AE-title
        b"MODALITY        ",  # calling-AE-title
        bytes(32),  # reserved
        h("10 00 0015"),
        b"1.2.840.10008.3.1.1.1",  # application context (25 bytes)
        h("20 00 004d"),  # presentation context item, length 77
        h("03 00 00 00"),  # presentation-context-ID 3, reserved x3
        h("30 00 0019"),  # abstract syntax, length 25
        b"1.2.840.10008.5.1.4.1.1.2",
        h("40 00 0013"),  # transfer syntax, length 19
        b"1.2.840.10008.1.2.1",
        h("40 00 0011"),  # transfer syntax, length 17
        b"1.2.840.10008.1.2",  # (context item: 81 bytes)
        h("50 00 00c4"),  # user information, length 196
        h("51 00 0004 00000000"),  # maximum length 0: unlimited (8 bytes)
        h("53 00 0004"),  # asynchronous operations window sub-item, length 4
        h("0005 0001"),  # max-operations-invoked 5, max-operations-performed 1 (8 bytes)
        h("54 00 001d"),  # SCP/SCU role selection, length 29
        h("0019"),  # UID-length 25
        b"1.2.840.10008.5.1.4.1.1.2",  # SOP-class-uid
        h("01 00"),  # SCU-role 1, SCP-role 0 (33 bytes)
        h("56 00 001e"),  # SOP class extended negotiation, length 30
        h("0019"),  # SOP-class-uid-length 25
        b"1.2.840.10008.5.1.4.1.1.2",
        h("01 00 01"),  # service-class-application-information (34 bytes)
        h("57 00 004d"),  # SOP class common extended negotiation, version 0, length 77
        h("0019"),  # SOP-class-uid-length 25
        b"1.2.840.10008.5.1.4.1.1.2",
        h("0011"),  # service-class-uid-length 17
        b"1.2.840.10008.4.2",
        h("001d"),  # related-general-sop-class-identification-length 29
        h("001b"),  # related-general-sop-class-uid-length 27
        b"1.2.840.10008.5.1.4.1.1.2.1",  # (81 bytes)
        h("58 00 0011"),  # user identity negotiation (RQ), length 17
        h("02"),  # user-identity-type 2: username and passcode
        h("01"),  # positive-response-requested
        h("0005"),
        b"alice",  # primary-field-length, primary-field
        h("0006"),
        b"secret",  # secondary-field-length, secondary-field (21 bytes)
        h("52 00 0007"),
        b"1.2.3.4",  # implementation class UID (11 bytes)
    ]
)
ASSOCIATE_RQ_FULL = AAssociateRQ(
    called_ae_title="STORESCP",
    calling_ae_title="MODALITY",
    presentation_contexts=(
        PresentationContextRQ(
            context_id=3,
            abstract_syntax=CT_IMAGE,
            transfer_syntaxes=("1.2.840.10008.1.2.1", IMPLICIT_LE),
        ),
    ),
    user_information=UserInformation(
        items=(
            MaximumLength(maximum_length=0),
            AsynchronousOperationsWindow(max_operations_invoked=5, max_operations_performed=1),
            RoleSelection(sop_class_uid=CT_IMAGE, scu_role=True, scp_role=False),
            SOPClassExtendedNegotiation(
                sop_class_uid=CT_IMAGE, service_class_application_information=b"\x01\x00\x01"
            ),
            SOPClassCommonExtendedNegotiation(
                sop_class_uid=CT_IMAGE,
                service_class_uid=STORAGE_SERVICE,
                related_general_sop_classes=(ENHANCED_CT,),
            ),
            UserIdentityRQ(
                identity_type=UserIdentityType.USERNAME_AND_PASSCODE,
                positive_response_requested=True,
                primary_field=b"alice",
                secondary_field=b"secret",
            ),
            ImplementationClassUID(uid="1.2.3.4"),
        )
    ),
)

# ---------------------------------------------------------------------------- AC
ASSOCIATE_AC_BYTES = b"".join(
    [
        h("02"),  # PDU-type: A-ASSOCIATE-AC
        h("00"),  # reserved
        h("000000af"),  # PDU-length 175
        h("0001 0000"),  # protocol-version, reserved
        b"ANY-SCP         ",  # reserved (echo of called-AE-title)
        b"ECHOSCU         ",  # reserved (echo of calling-AE-title)
        bytes(32),  # reserved
        h("10 00 0015"),
        b"1.2.840.10008.3.1.1.1",  # application context (25 bytes)
        h("21 00 0019"),  # presentation context item (AC), length 25
        h("01 00 00 00"),  # presentation-context-ID 1, reserved, result 0 acceptance, reserved
        h("40 00 0011"),
        b"1.2.840.10008.1.2",  # transfer syntax (29 bytes in all)
        h("21 00 0008"),  # presentation context item (AC), length 8
        h("03 00 03 00"),  # ID 3, reserved, result 3 abstract syntax not supported, reserved
        h("40 00 0000"),  # transfer syntax sub-item, empty: not significant (12 bytes)
        h("50 00 0025"),  # user information, length 37
        h("51 00 0004 00004000"),  # maximum length 16384
        h("52 00 0007"),
        b"1.2.3.4",  # implementation class UID
        h("53 00 0004 0001 0001"),  # asynchronous operations window 1/1
        h("59 00 0006"),  # user identity negotiation (AC), length 6
        h("0004"),
        b"abcd",  # server-response-length, server-response
    ]
)
ASSOCIATE_AC = AAssociateAC(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(
        PresentationContextAC(
            context_id=1, result=PresentationContextResult.ACCEPTANCE, transfer_syntax=IMPLICIT_LE
        ),
        PresentationContextAC(
            context_id=3, result=PresentationContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED
        ),
    ),
    user_information=UserInformation(
        items=(
            MaximumLength(maximum_length=16384),
            ImplementationClassUID(uid="1.2.3.4"),
            AsynchronousOperationsWindow(max_operations_invoked=1, max_operations_performed=1),
            UserIdentityAC(server_response=b"abcd"),
        )
    ),
)

# ---------------------------------------------------------------------------- RJ
ASSOCIATE_RJ_BYTES = b"".join(
    [
        h("03"),  # PDU-type: A-ASSOCIATE-RJ
        h("00"),  # reserved
        h("00000004"),  # PDU-length 4
        h("00"),  # reserved
        h("01"),  # result: rejected-permanent
        h("01"),  # source: DICOM UL service-user
        h("07"),  # reason/diag: called-AE-title-not-recognized
    ]
)
ASSOCIATE_RJ = AAssociateRJ(
    result=RejectResult.PERMANENT,
    source=RejectSource.SERVICE_USER,
    reason=RejectReasonUser.CALLED_AE_TITLE_NOT_RECOGNIZED,
)

# ---------------------------------------------------------------------------- P-DATA
P_DATA_BYTES = b"".join(
    [
        h("04"),  # PDU-type: P-DATA-TF
        h("00"),  # reserved
        h("00000011"),  # PDU-length 17
        h("00000005"),  # PDV item-length 5
        h("01"),  # presentation-context-ID 1
        h("03"),  # message control header: command, last fragment
        h("010203"),  # fragment
        h("00000004"),  # PDV item-length 4
        h("03"),  # presentation-context-ID 3
        h("00"),  # message control header: data set, not last
        h("abcd"),  # fragment
    ]
)
P_DATA = PDataTF(
    pdvs=(
        PDV(context_id=1, is_command=True, is_last=True, data=b"\x01\x02\x03"),
        PDV(context_id=3, is_command=False, is_last=False, data=b"\xab\xcd"),
    )
)

# ---------------------------------------------------------------------------- release/abort
RELEASE_RQ_BYTES = h("05 00 00000004 00000000")  # type, reserved, length 4, reserved x4
RELEASE_RP_BYTES = h("06 00 00000004 00000000")  # type, reserved, length 4, reserved x4
ABORT_BYTES = b"".join(
    [
        h("07"),  # PDU-type: A-ABORT
        h("00"),  # reserved
        h("00000004"),  # PDU-length 4
        h("00 00"),  # reserved, reserved
        h("02"),  # source: DICOM UL service-provider
        h("06"),  # reason/diag: invalid-PDU-parameter-value
    ]
)
ABORT = AAbort(source=AbortSource.SERVICE_PROVIDER, reason=AbortReason.INVALID_PDU_PARAMETER_VALUE)

GOLDEN: list[tuple[str, PDU, bytes]] = [
    ("associate-rq", ASSOCIATE_RQ, ASSOCIATE_RQ_BYTES),
    ("associate-rq-all-sub-items", ASSOCIATE_RQ_FULL, ASSOCIATE_RQ_FULL_BYTES),
    ("associate-ac", ASSOCIATE_AC, ASSOCIATE_AC_BYTES),
    ("associate-rj", ASSOCIATE_RJ, ASSOCIATE_RJ_BYTES),
    ("p-data-tf", P_DATA, P_DATA_BYTES),
    ("release-rq", AReleaseRQ(), RELEASE_RQ_BYTES),
    ("release-rp", AReleaseRP(), RELEASE_RP_BYTES),
    ("abort", ABORT, ABORT_BYTES),
]
