"""System files: every shipped one loads; bad ones fail naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet.errors import ConfigurationError
from dicomnet.services.commitment import ReportMode
from dicomnet.systems import QueryKeys, ServiceKind, list_systems, load_system, planned_ports

SHIPPED = {
    "lifesys": {"STORE_SCP", "QR_SCP", "MWL_SCP"},
    "kodak": {"DISK_SERVER", "MEMORY_SERVER"},
    "meddream": {"DCMRCV"},
    "dicomark": {"DICOMARK"},
    "printer": {"PRINTSCP"},  # dicomnet's own film printer (not a seed system)
}


def test_every_seed_server_system_is_shipped() -> None:
    assert set(list_systems()) == set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_system_loads_with_the_profiles_titles(name: str) -> None:
    spec = load_system(name)
    assert {ae.title for ae in spec.aes} == SHIPPED[name]
    assert spec.path.name == f"{name}.toml"
    for ae in spec.aes:
        assert ae.services, ae.name
        assert ae.title == ae.profile.ae_title


def test_lifesys_shares_one_port_and_one_index() -> None:
    spec = load_system("lifesys")
    assert len({ae.port for ae in spec.aes}) == 1
    assert spec.index and spec.store is not None and spec.worklist is not None
    storage, qr, mwl = (spec.ae(n) for n in ("storage", "qr", "mwl"))
    assert storage.services == (ServiceKind.STORAGE, ServiceKind.COMMITMENT)
    assert storage.commitment_report is ReportMode.NEW
    assert storage.unknown_called_ae and not qr.unknown_called_ae
    assert qr.services == (ServiceKind.QR,) and qr.query_keys is QueryKeys.PROFILE
    assert mwl.services == (ServiceKind.MWL,)


def test_load_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL)
    spec = load_system(str(path))
    assert spec.name == "mine" and spec.aes[0].title == "DCMRCV"
    assert spec.destinations == (("PEER", ("10.0.0.7", 104)),)
    assert spec.index and spec.index_url is None
    url = "postgresql://dicomnet@db.example:5432/archive"
    path.write_text(MINIMAL.replace('store = "s"', f'store = "s"\nindex_url = "{url}"'))
    assert load_system(str(path)).index_url == url


MINIMAL = """
[system]
name = "mine"
[resources]
store = "s"
[destinations]
PEER = "10.0.0.7:104"
[[ae]]
name = "one"
profile = "meddream-storage-server"
port = 4000
services = ["storage"]
"""


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('services = ["storage"]', 'services = ["storage", "fax"]', "ae[0].services[1]"),
        ("port = 4000", "port = 70000", "ae[0].port"),
        ("port = 4000", 'port = 4000\ncolour = "red"', "ae[0].colour"),
        ('profile = "meddream-storage-server"', 'profile = "nope"', "ae[0].profile"),
        ('store = "s"', "", "ae[0].services"),
        ('PEER = "10.0.0.7:104"', 'PEER = "10.0.0.7"', "destinations.PEER"),
        ('name = "mine"', "", "system.name"),
        ('store = "s"', 'store = "s"\nindex_url = "mysql://x/y"', "resources.index_url"),
    ],
)
def test_bad_system_file_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    assert old in MINIMAL
    path.write_text(MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigurationError) as info:
        load_system(path)
    assert str(path) in str(info.value)
    assert repr(key) in str(info.value)


def _two_on_one_port(extra: str = "", second: str = "kodak-memory-server") -> str:
    return f"""
[system]
name = "two"
[resources]
store = "s"
[[ae]]
name = "disk"
profile = "kodak-disk-server"
port = 4000
services = ["storage"]
{extra}
[[ae]]
name = "other"
profile = "{second}"
port = 4000
services = ["storage"]
"""


def test_shared_port_refuses_an_ae_answering_to_any_title(tmp_path: Path) -> None:
    path = tmp_path / "any.toml"
    path.write_text(_two_on_one_port(second="dicomark-inbound"))
    with pytest.raises(ConfigurationError, match="any called AE title"):
        load_system(path)


def test_two_aes_with_one_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "same.toml"
    path.write_text(_two_on_one_port().replace('name = "other"', 'name = "disk"'))
    with pytest.raises(ConfigurationError, match="two AEs are named 'disk'"):
        load_system(path)


def test_unknown_system_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="known: dicomark, kodak, lifesys, meddream"):
        load_system("nope")


def test_port_plan_offset_override_and_any_port() -> None:
    spec = load_system("kodak")
    assert planned_ports(spec) == {"disk": (11112, ""), "memory": (11113, "")}
    assert planned_ports(spec, port_offset=100) == {"disk": (11212, ""), "memory": (11213, "")}
    plan = planned_ports(spec, ae_ports={"memory": 0})
    assert plan == {"disk": (11112, ""), "memory": (0, "memory")}
    lifesys = load_system("lifesys")
    shared = planned_ports(lifesys, any_port=True)
    # Still one group (one free port shared by the three AEs).
    assert len(set(shared.values())) == 1 and next(iter(shared.values()))[0] == 0
    with pytest.raises(ConfigurationError, match="no AE named 'nope'"):
        planned_ports(spec, ae_ports={"nope": 1})
    with pytest.raises(ValueError, match="out of range"):
        planned_ports(spec, port_offset=60000)
