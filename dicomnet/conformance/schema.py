"""Every profile key, and what it drives: the code that consumes it, or why it is information.

The design promise is that a profile's tables drive the stack. :data:`FIELDS`
holds one entry per key of the profile schema (dotted path, ``[[array]]``
tables without their index; free-form tables such as ``[info]`` as one
entry). An entry is either:

* :class:`Consumed`: ``modules`` name the code that reads the value (through the
  :class:`~dicomnet.policy.Policy` or the :class:`~.profile.Profile`) and
  ``attribute`` the name that code uses; ``tests/conformance/test_schema_walk.py``
  imports each module and requires the name in its source; or
* :class:`Informational`: rendered into the statement only, with the reason.

The test loads every profile while recording each key the reader asks for and
fails on a key with no entry here, or an entry for no key. To make a key drive
behaviour, change its entry from ``Informational`` to ``Consumed`` naming the
module that now reads it (the test then checks that module).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIELDS", "FREE_FORM", "UPCOMING", "Consumed", "Informational"]


@dataclass(frozen=True, slots=True)
class Consumed:
    """The key changes behaviour: ``modules`` read it under the name ``attribute``."""

    modules: tuple[str, ...]
    attribute: str


@dataclass(frozen=True, slots=True)
class Informational:
    """The key is rendered only; ``reason`` says why that is right."""

    reason: str


#: Tables whose keys are data (topics, service names): one entry covers the whole table.
FREE_FORM = ("info", "timers.notes", "timers.responses")

_NEG_ACC = "dicomnet.negotiation.acceptor"
_NEG_REQ = "dicomnet.negotiation.requestor"
_CORE = "dicomnet.association.core"
_SENDING = "dicomnet.association.sending"
_AE = "dicomnet.ae"

_RENDERED_TEXT = "free text of the statement; nothing to enforce"

_CONTEXT_RULE = {
    "sop_classes": "abstract syntaxes of the contexts",
    "sop_class_group": "abstract syntaxes of the contexts",
    "sop_class_kind": "abstract syntaxes of the contexts",
    "include_retired": "abstract syntaxes of the contexts",
    "transfer_syntaxes": "transfer syntaxes of the contexts",
    "transfer_syntax_group": "transfer syntaxes of the contexts",
    "role": "SCU/SCP role selection of the contexts",
    "unlisted_only": "abstract syntaxes of the contexts",
}

FIELDS: dict[str, Consumed | Informational] = {
    # [profile]
    "profile.system": Informational("names the system in the statement"),
    "profile.application_entity": Informational("names the AE in the statement"),
    "profile.document": Informational("the seed document the tables were transcribed from"),
    "profile.summary": Informational("functional definition of the AE: prose"),
    # [ae_title]
    "ae_title.title": Consumed((_CORE, "dicomnet.systems.router"), "ae_title"),
    "ae_title.called": Consumed((_NEG_ACC, "dicomnet.systems.router"), "called_ae_titles"),
    "ae_title.calling": Consumed((_NEG_ACC,), "calling_ae_titles"),
    "ae_title.wrong_called_ae": Consumed((_NEG_ACC, "dicomnet.systems.router"), "wrong_called_ae"),
    "ae_title.calling_allow_list_configurable": Informational(
        "says whether a site may set the allow list; the list itself is ae_title.calling"
    ),
    # [association]
    "association.role": Informational(
        "summary of the tables: what the AE accepts or proposes is [[accepted]]/[[proposed]]"
    ),
    "association.application_context": Informational(
        "every profile names the one DICOM application context, which the acceptor checks"
        " against PS3.7's value"
    ),
    "association.max_pdu_receive": Consumed((_AE, _NEG_REQ), "max_pdu_receive"),
    "association.max_pdu_send": Consumed((_CORE,), "max_pdu_send"),
    "association.max_operations_invoked": Consumed((_CORE,), "max_operations_invoked"),
    "association.max_operations_performed": Consumed((_CORE,), "max_operations_performed"),
    "association.max_associations": Consumed((_AE,), "max_associations"),
    "association.on_association_limit": Consumed((_AE,), "on_association_limit"),
    "association.association_limit_note": Informational(_RENDERED_TEXT),
    "association.transfer_syntax_preference": Consumed((_NEG_ACC,), "transfer_syntax_preference"),
    "association.pack_command_and_data": Consumed((_SENDING,), "pack_command_and_data"),
    "association.max_pdvs_per_pdu": Consumed((_SENDING,), "max_pdvs_per_pdu"),
    "association.min_peer_max_pdu": Consumed((_NEG_ACC, _NEG_REQ), "min_peer_max_pdu"),
    "association.max_command_set": Consumed((_CORE,), "max_command_set"),
    "association.tcp_nodelay": Consumed(("dicomnet.transport",), "tcp_nodelay"),
    "association.tls": Consumed(("dicomnet.systems.tls",), "tls"),  # none|optional|required
    # [implementation]
    "implementation.class_uid": Consumed((_NEG_ACC, _NEG_REQ), "implementation_class_uid"),
    "implementation.version_name": Consumed((_NEG_ACC, _NEG_REQ), "implementation_version_name"),
    "implementation.document_class_uid": Informational(
        "the document's own implementation UID; dicomnet sends its own unless class_uid is set"
    ),
    "implementation.document_version_name": Informational(
        "the document's own version name; dicomnet sends its own unless version_name is set"
    ),
    # [timers]
    "timers.artim": Consumed((_AE,), "artim"),
    "timers.associate": Consumed((_CORE,), "associate"),
    "timers.dimse": Consumed(("dicomnet.association.dimse_timer",), "dimse"),
    "timers.connect": Consumed((_AE,), "connect"),
    "timers.release": Consumed((_CORE,), "release"),
    "timers.notes": Informational(
        "the document's own words about its timers, rendered beside them; the values in force"
        " are the other [timers] keys (closing, responses)"
    ),
    # [character_sets]
    "character_sets.supported": Consumed(
        ("dicomnet.systems.runner", "dicomnet.cli.serve", "dicomnet.services.qr"),
        "character_sets",
    ),
    "character_sets.named_in_requests": Consumed(
        ("dicomnet.services.qr", "dicomnet.services.qr_retrieve"), "name_charset_in_requests"
    ),
    # [security]
    "security.tls_profile": Consumed(("dicomnet.systems.tls",), "tls_profile"),
    "security.document_tls_profile": Informational(
        "what the source document names; rendered as the substitution of a retired profile"
    ),
    "security.association_level": Informational(_RENDERED_TEXT),
    "security.application_level": Informational(_RENDERED_TEXT),
    # [[status]]
    "status.direction": Consumed(("dicomnet.conformance.profile",), "status_policy"),
    "status.service": Consumed(("dicomnet.conformance.profile",), "status_policy"),
    "status.status": Consumed(("dicomnet.conformance.profile",), "status_policy"),
    "status.code": Consumed(("dicomnet.conformance.profile",), "status_policy"),
    "status.meaning": Informational(_RENDERED_TEXT),
    "status.behaviour": Informational(_RENDERED_TEXT),
    # [query]
    "query.keys.model": Consumed(("dicomnet.systems.runner",), "query_keys"),
    "query.keys.level": Consumed(("dicomnet.systems.runner",), "query_keys"),
    "query.keys.name": Informational("the attribute's name, for the reader; the tag is matched"),
    "query.keys.tag": Consumed(("dicomnet.systems.runner",), "query_keys"),
    "query.keys.vr": Informational("the attribute's VR as the document prints it"),
    "query.keys.matching": Consumed(("dicomnet.systems.runner",), "query_keys"),
    # [retrieve]
    "retrieve.on_failure": Consumed(("dicomnet.services.suboperations",), "retrieve_on_failure"),
    "retrieve.warning": Consumed(("dicomnet.services.suboperations",), "retrieve_warning"),
    # [send] (the send queue, dicomnet.queue)
    "send.max_associations": Consumed(("dicomnet.queue.service",), "send_max_associations"),
    "send.no_transcode_group": Consumed(("dicomnet.queue.service",), "no_transcode"),
    "send.no_transcode_reason": Consumed(("dicomnet.queue.service",), "no_transcode_reason"),
    # [[parameter]]
    "parameter.name": Informational("the document's list of configurable parameters"),
    "parameter.configurable": Informational("the document's list of configurable parameters"),
    "parameter.default": Informational("the document's list of configurable parameters"),
    # [info] and [statement]
    "info": Informational(_RENDERED_TEXT),
    **{
        f"statement.{key}": Informational("PS3.2 Annex A prose of the statement")
        for key in (
            "revision",
            "audience",
            "remarks",
            "data_flow",
            "sequencing",
            "physical_network",
            "additional_protocols",
            "address_mapping",
            "media",
            "iod_contents",
            "private_attributes",
            "coded_terminology",
            "grayscale",
            "extended_sop_classes",
            "private_transfer_syntaxes",
        )
    },
    # [[accepted]] and [[proposed]]
    # The acceptor answers each proposed context from policy.accepted(abstract syntax).
    **{f"accepted.{key}": Consumed((_NEG_ACC,), "accepted") for key in _CONTEXT_RULE},
    **{
        f"proposed.{key}": Consumed(("dicomnet.negotiation.request",), "proposed_contexts")
        for key in _CONTEXT_RULE
        if key != "include_retired"  # read only beside sop_class_kind, which no proposal uses
    },
    "accepted.alternative_groups": Consumed(("examples.flux_store_scu",), "policy"),
    "proposed.alternative_groups": Consumed(("examples.flux_store_scu",), "policy"),
    "accepted.extended_negotiation": Informational(
        "text of the context table; what is negotiated is accepted.relational"
    ),
    "proposed.extended_negotiation": Informational(_RENDERED_TEXT),
    "accepted.note": Informational(_RENDERED_TEXT),
    "proposed.note": Informational(_RENDERED_TEXT),
    "accepted.instance_transfer_syntax_first": Informational(
        "only meaningful for proposed contexts"
    ),
    # ------------------------------------------------------------------------------------
    # Keys of the behaviour side of issue 10 (statuses, timers, association rules, send side,
    # coercion); [[status]] code/direction/service/status are consumed through them.
    "accepted.relational": Consumed((_NEG_ACC,), "relational"),
    "proposed.relational": Informational(
        "read with every context row; only an accepted row's answer is negotiated"
    ),
    "association.reject_without_contexts": Consumed((_NEG_ACC,), "reject_without_contexts"),
    "coercion.pixel_data_ow_to_ob_8bit": Consumed(
        ("dicomnet.services.storage_scp",), "coerce_ow_to_ob_8bit"
    ),
    "timers.closing": Consumed((_AE, "dicomnet.systems.router"), "closing"),
    "timers.responses": Consumed(("dicomnet.association.dimse_timer",), "responses"),
    "status.situations": Consumed(
        ("dicomnet.services.storage_scp", "dicomnet.services.answers"), "statuses"
    ),
    "status.outcome": Consumed(
        ("dicomnet.storage.scu", "dicomnet.services.qr", "dicomnet.services.print_scu"), "statuses"
    ),
    "status.abort": Consumed(("dicomnet.services.storage_scp",), "statuses"),
    # [retry]: how a C-STORE (a send or a C-MOVE sub-operation) with a retry outcome goes again.
    "retry.attempts": Consumed(("dicomnet.storage.scu",), "retry"),
    "retry.delay": Consumed(("dicomnet.storage.scu",), "retry"),
    **{
        f"query.constraints.{key}": Consumed(("dicomnet.systems.runner",), "query_constraints")
        for key in ("level", "models", "unless_level_value", "unless_present", "value_in")
    },
    "query.constraints.note": Informational(_RENDERED_TEXT),
    "proposed.instance_transfer_syntax_first": Consumed(
        ("dicomnet.storage.scu",), "instance_syntax_first"
    ),
}

#: Keys of :data:`FIELDS` that the profile reader does not have yet: the behaviour side of
#: issue 10 adds them. The walk does not call them stale, and does not check their
#: consumers until the reader asks for them; once it does, drop them from this set (the
#: walk says so).
UPCOMING: frozenset[str] = frozenset()
