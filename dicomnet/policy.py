"""The Policy: everything an Application Entity negotiates with, as plain data.

A Policy is built from a conformance profile (``conformance/*.toml``) by
:mod:`dicomnet.conformance`, or in code. Nothing here does I/O. Negotiation
(:mod:`dicomnet.negotiation`) is a set of pure functions over a Policy and a
received A-ASSOCIATE-RQ/AC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from dicomnet.status_policy import StatusPolicy
from dicomnet_pdu.pdv import DEFAULT_MAX_COMMAND_SET

__all__ = [
    "SMALLEST_USABLE_PDU",
    "AETitlePolicy",
    "AcceptedContext",
    "LimitMode",
    "Policy",
    "ProposedContext",
    "Timers",
    "TransferSyntaxPreference",
    "WrongCalledAE",
]

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"

#: The smallest Maximum Length Received that can carry anything: one PDV item header
#: (4-byte item length, context ID, message control header) plus one byte of command.
SMALLEST_USABLE_PDU = 6 + 1


class TransferSyntaxPreference(Enum):
    """Whose order picks the transfer syntax of an accepted context."""

    REQUESTOR = "requestor"  # first of the proposed ones that we accept (the usual default)
    ACCEPTOR = "acceptor"  # first of our list that was proposed (e.g. Kodak: BE > LE > implicit)


class WrongCalledAE(Enum):
    """What to do when the called AE title is not ours."""

    REJECT = "reject"  # A-ASSOCIATE-RJ (1, 1, 7) called-AE-title-not-recognized
    VERIFICATION_ONLY = "verification-only"  # accept, but only the Verification context (LifeSys)


class LimitMode(Enum):
    """What happens to a connection beyond the association limit."""

    REJECT = "reject"  # A-ASSOCIATE-RJ (2, 3, 2) transient, local-limit-exceeded
    QUEUE = "queue"  # hold the connection until a slot frees (DicomArk "block")


@dataclass(frozen=True, slots=True, kw_only=True)
class AETitlePolicy:
    """AE-title rules of an acceptor.

    ``called_ae_titles`` lists the titles we answer to; ``"*"`` matches any.
    ``calling_ae_titles`` is an allow list; ``None`` accepts any calling AE.
    """

    called_ae_titles: tuple[str, ...] = ("*",)
    calling_ae_titles: tuple[str, ...] | None = None
    wrong_called_ae: WrongCalledAE = WrongCalledAE.REJECT


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptedContext:
    """One abstract syntax an acceptor accepts, with its transfer syntaxes.

    ``transfer_syntaxes`` is in our preference order. ``scu_role``/``scp_role``
    are the roles *this* AE can play for the SOP class (PS3.7 D.3.3.4); an
    acceptor normally plays SCP only.
    """

    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]
    scu_role: bool = False
    scp_role: bool = True
    #: Relational queries / retrieve (PS3.4 C.5.1.1): True grants them in SOP class
    #: extended negotiation; False refuses them (and a retrieve must be hierarchical,
    #: Kodak); None: not stated (not granted; retrieves are matched relationally).
    relational: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedContext:
    """One presentation context a requestor proposes.

    ``scu_role``/``scp_role`` are the roles *this* AE proposes to play; a role
    selection sub-item is sent only when they differ from the default
    (SCU only).
    """

    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]
    scu_role: bool = True
    scp_role: bool = False
    #: Sending instances: each instance's own transfer syntax is proposed ahead of
    #: ``transfer_syntaxes`` (DicomArk Send Queue, see storage.scu.policy_contexts_for).
    instance_syntax_first: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Timers:
    """Timers in seconds; ``None`` means wait forever (PS3.8 §9.1.5 ARTIM; the rest local)."""

    artim: float = 5.0  # waiting for A-ASSOCIATE-RQ, or for the close after RP/RJ/ABORT
    associate: float | None = 30.0  # SCU waiting for AC/RJ; SCP: longest hold (QUEUE)
    dimse: float | None = 60.0  # peer silent in Sta6: response, rest of a message, next request
    connect: float | None = 30.0  # TCP connect
    release: float | None = 5.0  # waiting for A-RELEASE-RP
    #: After sending A-RELEASE-RP or A-ABORT: how long the peer has to close the
    #: connection (ARTIM in Sta13; None: the ARTIM value). LifeSys 16 s, MedDream 0.5 s.
    closing: float | None = None
    #: Waiting for the responses to a request, per service ("C-FIND", "C-MOVE", ...):
    #: replaces ``dimse`` while such a request is outstanding (MedDream C-MOVE-RSP 600 s;
    #: None: no timeout, Kodak's C-STORE sub-operations).
    responses: tuple[tuple[str, float | None], ...] = ()

    def response(self, service: str) -> float | None:
        """The DIMSE timeout while a ``service`` request waits for its responses."""
        for name, seconds in self.responses:
            if name == service:
                return seconds
        return self.dimse


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What one Application Entity negotiates with.

    Defaults are those of the seed statements: 16 KB PDUs both ways, ARTIM 5 s,
    synchronous operation, command and data set in separate PDUs.
    """

    ae_title: str
    ae_titles: AETitlePolicy = field(default_factory=AETitlePolicy)
    accepted_contexts: tuple[AcceptedContext, ...] = ()
    proposed_contexts: tuple[ProposedContext, ...] = ()
    transfer_syntax_preference: TransferSyntaxPreference = TransferSyntaxPreference.REQUESTOR
    max_pdu_receive: int = 16384  # what we announce (0 = unlimited)
    max_pdu_send: int = 16384  # cap on what we send, below the peer's announced value (0 = none)
    max_operations_invoked: int = 1  # async window we propose/accept (0 = unlimited)
    max_operations_performed: int = 1
    max_associations: int = 0  # 0 = unlimited
    on_association_limit: LimitMode = LimitMode.REJECT
    timers: Timers = field(default_factory=Timers)
    implementation_class_uid: str = "2.25.101256110695524707673615620948783894353"
    implementation_version_name: str = "DICOMNET_010"
    pack_command_and_data: bool = False
    max_pdvs_per_pdu: int = 0  # 0 = as many as fit
    #: Smallest Maximum Length Received accepted from a peer (0, unlimited, always is).
    #: A value below it can never carry a response: the association is refused.
    min_peer_max_pdu: int = SMALLEST_USABLE_PDU
    #: Largest command set accepted (bytes of its PDVs, each counted with its 6-byte
    #: header); a longer one is answered with A-ABORT. Command sets are small: the
    #: longest a DIMSE service defines holds a few UIDs and an attribute list.
    max_command_set: int = DEFAULT_MAX_COMMAND_SET
    tcp_nodelay: bool = True
    #: Reject (1, 1, 1) an association in which no presentation context was accepted
    #: (LifeSys Q/R and MWL); otherwise it is accepted with every context refused.
    reject_without_contexts: bool = False
    #: Transfer syntaxes an instance is never converted from when sending: one whose
    #: syntax the peer did not accept is not sent (DicomArk: JPEG, MPEG2).
    no_transcode_from: tuple[str, ...] = ()
    #: Storage SCP: 8-bit Pixel Data received as OW is kept as OB, answered with the
    #: ``coercion`` status (Kodak Disk-Server; services.coercion).
    coerce_ow_to_ob_8bit: bool = False
    #: The status returned in each situation and the handling of each status received.
    statuses: StatusPolicy = field(default_factory=StatusPolicy)
    #: The AE's declared character repertoires (``[character_sets] supported``; empty: the
    #: default repertoire). As SCU it writes a non-ASCII identifier in the first that holds
    #: every value and names it in (0008,0005) (query.charsets.CharsetPolicy.request).
    character_sets: tuple[str, ...] = ()
    #: Whether such an identifier names its set in (0008,0005); False: the bytes are in the
    #: set but unnamed (Flux Find SCU: "does not make use of Specific Character Set").
    name_charset_in_requests: bool = True
    #: Free-form facts from the conformance statement kept for rendering (not behaviour).
    info: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.min_peer_max_pdu < SMALLEST_USABLE_PDU:
            raise ValueError(
                f"min_peer_max_pdu must be at least {SMALLEST_USABLE_PDU}"
                f" (one PDV header and one byte): {self.min_peer_max_pdu}"
            )
        if self.max_command_set < 1:
            raise ValueError(f"max_command_set must be positive: {self.max_command_set}")

    def accepted(self, abstract_syntax: str) -> AcceptedContext | None:
        """The accepted-context rule for ``abstract_syntax``, if any."""
        for rule in self.accepted_contexts:
            if rule.abstract_syntax == abstract_syntax:
                return rule
        return None
