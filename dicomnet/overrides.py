"""What an integrator changes in a profile's Policy: one set of names everywhere.

The same settings are given on the command line of ``dicomnet serve`` and of
every example server (``--calling-aet``, ``--called-aet``, ``--max-pdu``,
``--max-associations``, ``--on-association-limit``, ``--pack-command-and-data``,
``--max-pdvs-per-pdu``, ``--tcp-nodelay``; ``--host`` binds) or per AE in a system
file (``calling_aet``, ``called_aet``, ``max_pdu``, ``max_associations``,
``on_association_limit``, ``pack_command_and_data``, ``max_pdvs_per_pdu``,
``tcp_nodelay``): the option's name with ``-`` for ``_``. A value not given
keeps the profile's. The command line wins over the system file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from dicomnet.policy import LimitMode, Policy

__all__ = ["OVERRIDE_KEYS", "PolicyOverrides"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyOverrides:
    """Changes to a Policy; ``None`` keeps the profile's value."""

    #: Calling AE titles accepted (an allow list; ``("*",)`` or empty: any).
    calling_aet: tuple[str, ...] | None = None
    #: Called AE titles answered to (``"*"`` matches any).
    called_aet: tuple[str, ...] | None = None
    #: Maximum PDU length received (0 = unlimited).
    max_pdu: int | None = None
    #: Associations at once (0 = unlimited).
    max_associations: int | None = None
    on_association_limit: LimitMode | None = None
    pack_command_and_data: bool | None = None
    #: PDVs per P-DATA-TF PDU sent (0 = as many as fit).
    max_pdvs_per_pdu: int | None = None
    tcp_nodelay: bool | None = None

    def __post_init__(self) -> None:
        for name in ("max_pdu", "max_associations", "max_pdvs_per_pdu"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or positive: {value}")

    def merged(self, later: PolicyOverrides) -> PolicyOverrides:
        """These overrides with ``later``'s given values on top (command line over file)."""
        changes = {
            f.name: getattr(later, f.name)
            for f in fields(later)
            if getattr(later, f.name) is not None
        }
        return replace(self, **changes)

    def apply(self, policy: Policy) -> Policy:
        """``policy`` with the given values replaced."""
        titles = policy.ae_titles
        if self.calling_aet is not None:
            allow = None if not self.calling_aet or "*" in self.calling_aet else self.calling_aet
            titles = replace(titles, calling_ae_titles=allow)
        if self.called_aet is not None:
            titles = replace(titles, called_ae_titles=self.called_aet or ("*",))
        changes: dict[str, object] = {"ae_titles": titles}
        if self.max_pdu is not None:
            changes["max_pdu_receive"] = self.max_pdu
        for name in (
            "max_associations",
            "on_association_limit",
            "pack_command_and_data",
            "max_pdvs_per_pdu",
            "tcp_nodelay",
        ):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        return replace(policy, **changes)  # type: ignore[arg-type]


#: The names of the settings (system file keys; the options are ``--`` + ``-`` for ``_``).
OVERRIDE_KEYS = tuple(f.name for f in fields(PolicyOverrides))
