"""System files: the AEs of one seed system, their ports and shared resources (TOML).

A system file (``conformance/systems/NAME.toml``) says which Application
Entities one process runs, each with its conformance profile, its TCP port and
the services it offers, and what they share: the store folder with its index,
the worklist folder, the move and report destinations. The format is described
in ``conformance/README.md`` ("System files"). :func:`load_system` reads and checks
one; every error names the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from dicomnet.conformance import load_profile
from dicomnet.conformance.locate import default_data_dir
from dicomnet.conformance.profile import Profile
from dicomnet.conformance.tomlcheck import Section, load_toml
from dicomnet.errors import ConfigurationError
from dicomnet.overrides import PolicyOverrides
from dicomnet.policy import LimitMode
from dicomnet.queue.config import QueueSpec, read_queue
from dicomnet.services.commitment import ReportMode
from dicomnet.storage.sinks import Duplicate

from .tls_files import TLSFiles, read_tls_files

__all__ = [
    "AESpec",
    "QueryKeys",
    "ServiceKind",
    "SystemSpec",
    "list_systems",
    "load_system",
    "parse_address",
    "systems_dir",
]


class ServiceKind(Enum):
    """What an AE of a system does besides Verification."""

    STORAGE = "storage"  # C-STORE SCP into the shared store folder (and its index)
    MEMORY_STORAGE = "memory-storage"  # C-STORE SCP keeping instances in memory
    QR = "qr"  # C-FIND/C-MOVE/C-GET SCP over the shared index
    MWL = "mwl"  # Modality Worklist C-FIND SCP over the worklist folder
    COMMITMENT = "commitment"  # Storage Commitment Push Model SCP over the store
    PRINT = "print"  # Print Management SCP writing each film into the films folder


class QueryKeys(Enum):
    """Which query keys a Q/R or MWL AE matches and returns."""

    ALL = "all"  # every key the index knows
    PROFILE = "profile"  # the profile's [[query_key]] tables (others returned empty)
    PROFILE_ONLY = "profile-only"  # only the profile's keys (others left out), plus required


@dataclass(frozen=True, slots=True)
class AESpec:
    """One AE of a system."""

    name: str  # the name in the system file (used on the command line)
    profile: Profile
    port: int
    services: tuple[ServiceKind, ...]
    #: This AE takes the associations whose called AE title no AE on its port answers to.
    unknown_called_ae: bool = False
    commitment_report: ReportMode = ReportMode.SAME_OR_NEW
    query_keys: QueryKeys = QueryKeys.ALL
    #: Abort the association when an instance cannot be stored (DicomArk).
    abort_on_store_failure: bool = False
    #: ``tls_cert``/``tls_key``/``tls_ca``/``require_client_cert`` (see :mod:`.tls`).
    tls_files: TLSFiles | None = None
    #: ``memory-storage``: the most bytes held in memory (A700 past it); None: no limit.
    memory_limit: int | None = None
    #: The integrator's changes to the profile's Policy (keys of dicomnet.overrides).
    overrides: PolicyOverrides = field(default_factory=PolicyOverrides)

    @property
    def title(self) -> str:
        """The AE title (the profile's)."""
        return self.profile.ae_title


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A whole system: its AEs and the resources they share."""

    path: Path
    name: str
    description: str
    aes: tuple[AESpec, ...]
    store: Path | None = None  # folder of the stored files (relative: to the root given)
    index: bool = True  # the store folder's SQLite index (STORE/.index/index.sqlite)
    #: A PostgreSQL database for the index instead (``index_url = "postgresql://..."``).
    index_url: str | None = None
    duplicates: Duplicate = Duplicate.KEEP_FIRST
    worklist: Path | None = None  # folder of worklist items (DICOM, .wl, .json)
    max_bytes: int | None = None  # disk quota of the store (A700 past it)
    auto_delete_over: int | None = None  # least-recently-used auto-delete above this size
    destinations: tuple[tuple[str, tuple[str, int]], ...] = ()
    films: Path | None = None  # folder the printed films are written to (PNG, JSON)
    film_dpi: int = 150  # resolution of the films
    #: The send queue (``[queue]``), if the system forwards what it stores.
    queue: QueueSpec | None = None
    #: The ``[http]`` table as written (read by :mod:`dicomnet.web.settings`), if any.
    http: dict[str, Any] | None = None

    def ae(self, name: str) -> AESpec:
        """The AE called ``name`` in the file (raises ConfigurationError)."""
        for spec in self.aes:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.aes)
        raise ConfigurationError(f"{self.path}: no AE named {name!r} (known: {known})")


def systems_dir(data_dir: Path | None = None) -> Path:
    """``<data_dir>/systems``: one TOML file per seed system."""
    return (data_dir or default_data_dir()) / "systems"


def list_systems(data_dir: Path | None = None) -> tuple[str, ...]:
    """Names (file stems) of the shipped system files."""
    folder = systems_dir(data_dir)
    return tuple(sorted(path.stem for path in folder.glob("*.toml"))) if folder.is_dir() else ()


def load_system(name_or_path: str | Path, *, data_dir: Path | None = None) -> SystemSpec:
    """Load a system file by name (``"lifesys"``) or path (raises ConfigurationError)."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = systems_dir(data_dir) / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(list_systems(data_dir))
            raise ConfigurationError(f"unknown system {str(name_or_path)!r} (known: {known})")
    return _read(load_toml(path), data_dir)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host may be bracketed); raises ValueError."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


def _read(top: Section, data_dir: Path | None) -> SystemSpec:
    head = top.table("system", required=True)
    name = head.string("name")
    description = head.string("description", "")
    head.done()
    resources = top.table("resources")
    store = resources.optional_string("store")
    index = resources.boolean("index", True)
    index_url = resources.optional_string("index_url")
    if index_url is not None and not index_url.startswith(("postgresql://", "postgres://")):
        raise resources.error("index_url", "must be a postgresql:// URL")
    duplicates = Duplicate(
        resources.choice("duplicates", [d.value for d in Duplicate], Duplicate.KEEP_FIRST.value)
    )
    worklist = resources.optional_string("worklist")
    films = resources.optional_string("films")
    film_dpi = resources.integer("film_dpi", 150, low=10, high=1200)
    max_bytes = resources.integer("max_bytes", 0, low=1) if resources.has("max_bytes") else None
    auto_delete = (
        resources.integer("auto_delete_over", 0, low=1)
        if resources.has("auto_delete_over")
        else None
    )
    if (max_bytes or auto_delete) and not (store and index):
        raise resources.error(
            "max_bytes" if max_bytes else "auto_delete_over", "needs store and index = true"
        )
    resources.done()
    destinations = []
    for title, address in top.string_map("destinations"):
        try:
            destinations.append((title, parse_address(address)))
        except ValueError as exc:
            raise top.table("destinations").error(title, str(exc)) from None
    queue = read_queue(top.table("queue"), parse_address)
    aes = tuple(_ae(section, data_dir) for section in top.tables("ae"))
    http = dict(top.table("http").data) if top.has("http") else None
    top.done()
    if queue is not None and not (store and index):
        raise top.error("queue", "needs [resources] store and index = true")
    if not aes:
        raise top.error("ae", "a system needs at least one [[ae]]")
    spec = SystemSpec(
        path=top.path,
        name=name,
        description=description,
        aes=aes,
        store=None if store is None else Path(store),
        index=index,
        index_url=index_url,
        duplicates=duplicates,
        worklist=None if worklist is None else Path(worklist),
        max_bytes=max_bytes,
        auto_delete_over=auto_delete,
        destinations=tuple(destinations),
        films=None if films is None else Path(films),
        film_dpi=film_dpi,
        queue=queue,
        http=http,
    )
    _check(spec, top)
    return spec


def _ae(section: Section, data_dir: Path | None) -> AESpec:
    name = section.string("name")
    try:
        profile = load_profile(section.string("profile"), data_dir=data_dir)
    except ConfigurationError as exc:
        raise section.error("profile", str(exc)) from None
    port = section.integer("port", 11112, low=0, high=65535)
    kinds = [kind.value for kind in ServiceKind]
    services = []
    for position, value in enumerate(section.strings("services", ())):
        if value not in kinds:
            raise section.error(f"services[{position}]", f"{value!r} is not one of {kinds}")
        services.append(ServiceKind(value))
    spec = AESpec(
        name=name,
        profile=profile,
        port=port,
        services=tuple(services),
        unknown_called_ae=section.boolean("unknown_called_ae", False),
        commitment_report=ReportMode(
            section.choice(
                "commitment_report", [m.value for m in ReportMode], ReportMode.SAME_OR_NEW.value
            )
        ),
        query_keys=QueryKeys(
            section.choice("query_keys", [k.value for k in QueryKeys], QueryKeys.ALL.value)
        ),
        abort_on_store_failure=section.boolean("abort_on_store_failure", False),
        tls_files=read_tls_files(section),
        overrides=_overrides(section),
        memory_limit=(
            section.integer("memory_limit", 0, low=1) if section.has("memory_limit") else None
        ),
    )
    section.done()
    return spec


def _overrides(section: Section) -> PolicyOverrides:
    """The per-AE keys of :mod:`dicomnet.overrides` (``max_pdu = 32768`` ...)."""

    def titles(key: str) -> tuple[str, ...] | None:
        return section.strings(key) if section.has(key) else None

    def number(key: str) -> int | None:
        return section.integer(key, 0) if section.has(key) else None

    def flag(key: str) -> bool | None:
        return section.boolean(key, False) if section.has(key) else None

    limit = section.optional_string("on_association_limit")
    if limit is not None and limit not in [mode.value for mode in LimitMode]:
        raise section.error("on_association_limit", f"{limit!r} is not reject or queue")
    return PolicyOverrides(
        calling_aet=titles("calling_aet"),
        called_aet=titles("called_aet"),
        max_pdu=number("max_pdu"),
        max_associations=number("max_associations"),
        on_association_limit=None if limit is None else LimitMode(limit),
        pack_command_and_data=flag("pack_command_and_data"),
        max_pdvs_per_pdu=number("max_pdvs_per_pdu"),
        tcp_nodelay=flag("tcp_nodelay"),
    )


def _check(spec: SystemSpec, top: Section) -> None:
    """What only the whole file can show: names, resources the services need, ports."""
    seen: set[str] = set()
    for position, ae in enumerate(spec.aes):
        key = f"ae[{position}]"
        if ae.name in seen:
            raise top.error(f"{key}.name", f"two AEs are named {ae.name!r}")
        seen.add(ae.name)
        needs_store = {ServiceKind.STORAGE, ServiceKind.COMMITMENT, ServiceKind.QR}
        in_memory = ServiceKind.MEMORY_STORAGE in ae.services  # its Q/R answers from memory
        if in_memory:
            needs_store -= {ServiceKind.QR}
        if needs_store & set(ae.services) and spec.store is None:
            raise top.error(f"{key}.services", "needs [resources] store (a folder)")
        if ServiceKind.QR in ae.services and not spec.index and not in_memory:
            raise top.error(f"{key}.services", "'qr' needs the index ([resources] index = true)")
        if ServiceKind.MWL in ae.services and spec.worklist is None:
            raise top.error(f"{key}.services", "'mwl' needs [resources] worklist (a folder)")
        if ServiceKind.PRINT in ae.services and spec.films is None:
            raise top.error(f"{key}.services", "'print' needs [resources] films (a folder)")
        if not any(rule.scp for rule in ae.profile.accepted):
            raise top.error(f"{key}.profile", "accepts no presentation context as SCP")
    for port in {ae.port for ae in spec.aes}:
        sharing = [ae for ae in spec.aes if ae.port == port]
        if len(sharing) < 2:
            continue
        if port == 0:
            raise top.error("ae", "port 0 cannot be shared: give the AEs one port number")
        fallbacks = [ae.name for ae in sharing if ae.unknown_called_ae]
        if len(fallbacks) > 1:
            raise top.error("ae", f"port {port}: several AEs take unknown called AE titles")
        for ae in sharing:
            if "*" in ae.profile.policy().ae_titles.called_ae_titles:
                raise top.error(
                    "ae", f"port {port}: {ae.name} answers to any called AE title ('*')"
                )
