"""TLS from the profile: MedDream, LifeSys and Kodak AEs serve TLS when their profile says so.

Each system file is run with certificate paths added to every ``[[ae]]`` entry
(relative to the system file). DCMTK's echoscu with its Non-Downgrading BCP 195
profile (``+py``) verifies every AE over TLS; plain TCP, a TLS 1.1 client and a
client offering only the retired profile's non-AEAD ciphers are refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.certs import CertSet, make_certs
from helpers.peers import dcmtk_program

from dicomnet.conformance import default_data_dir, load_profile
from dicomnet.errors import ConfigurationError
from dicomnet.systems import load_system, start_system
from dicomnet.systems.runner import RunningSystem
from dicomnet.systems.tls import ae_tls_contexts
from dicomnet.tls import apply_tls_profile

pytestmark = pytest.mark.interop

SYSTEMS = ("meddream", "lifesys", "kodak")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertSet:
    return make_certs(tmp_path_factory.mktemp("certs"))


def system_with_tls(name: str, folder: Path, certs: CertSet, extra: str = "") -> Path:
    """The system file ``name`` with certificate paths (relative) in each [[ae]]."""
    for source, target in ((certs.server_cert, "server.pem"), (certs.server_key, "server.key")):
        shutil.copy(source, folder / target)
    text = (default_data_dir() / "systems" / f"{name}.toml").read_text(encoding="utf-8")
    keys = f'[[ae]]\ntls_cert = "server.pem"\ntls_key = "server.key"\n{extra}'
    path = folder / f"{name}-tls.toml"
    path.write_text(text.replace("[[ae]]\n", keys), encoding="utf-8")
    return path


@pytest.fixture(params=SYSTEMS)
async def running(
    request: pytest.FixtureRequest, tmp_path: Path, certs: CertSet
) -> AsyncIterator[RunningSystem]:
    spec = load_system(system_with_tls(request.param, tmp_path, certs))
    system = await start_system(spec, host="127.0.0.1", root=tmp_path, any_port=True, fsync=False)
    try:
        yield system
    finally:
        await system.close()


async def echoscu(port: int, title: str, *tls: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        dcmtk_program("echoscu"), "-aec", title, "-to", "10", "-ta", "10", "-td", "10",
        *tls, "127.0.0.1", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_every_tls_ae_answers_dcmtk_over_tls_and_refuses_plain_tcp(
    running: RunningSystem, certs: CertSet
) -> None:
    served = [ae for ae in running.spec.aes if ae.profile.tls != "none"]
    assert served
    for ae in served:
        port = running.ports[ae.name]
        code, out = await echoscu(port, ae.title, "+tla", "+py", "+cf", str(certs.ca))
        assert code == 0, out
        code, out = await echoscu(port, ae.title)
        assert code != 0, out  # a plain A-ASSOCIATE-RQ is not a TLS ClientHello


async def _handshake(port: int, certs: CertSet, adjust: object) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca))
    context.check_hostname = False
    adjust(context)  # type: ignore[operator]
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.close()


def _tls_1_1(context: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")


def _non_aead_only(context: ssl.SSLContext) -> None:
    # What a Basic-TLS-era peer offers at best: RSA key exchange, CBC, SHA-1.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("AES128-SHA:AES256-SHA:DES-CBC3-SHA:@SECLEVEL=0")


@pytest.mark.parametrize("adjust", [_tls_1_1, _non_aead_only])
async def test_downgraded_clients_are_refused(
    running: RunningSystem, certs: CertSet, adjust: object
) -> None:
    ae = next(ae for ae in running.spec.aes if ae.profile.tls != "none")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        await _handshake(running.ports[ae.name], certs, adjust)


async def test_a_bcp195_client_is_accepted(running: RunningSystem, certs: CertSet) -> None:
    ae = next(ae for ae in running.spec.aes if ae.profile.tls != "none")
    await _handshake(running.ports[ae.name], certs, apply_tls_profile)


def test_profile_rules(tmp_path: Path, certs: CertSet) -> None:
    spec = load_system(system_with_tls("lifesys", tmp_path, certs))
    contexts = ae_tls_contexts(spec.aes)
    assert all(c is not None for c in contexts.values())
    assert {c.minimum_version for c in contexts.values() if c} == {ssl.TLSVersion.TLSv1_2}
    plain = load_system(default_data_dir() / "systems" / "lifesys.toml")
    assert set(ae_tls_contexts(plain.aes).values()) == {None}  # optional, no files: plain TCP
    # required without files: an error naming the AE; none with files: an error too.
    ae = plain.aes[0]
    strict = dataclasses.replace(ae, profile=dataclasses.replace(ae.profile, tls="required"))
    with pytest.raises(ConfigurationError, match=f"AE '{ae.name}'.*requires TLS"):
        ae_tls_contexts([strict])
    tls_ae = spec.aes[0]
    none = dataclasses.replace(tls_ae, profile=dataclasses.replace(tls_ae.profile, tls="none"))
    with pytest.raises(ConfigurationError, match="tls = none"):
        ae_tls_contexts([none])


def test_system_file_tls_keys_are_checked(tmp_path: Path, certs: CertSet) -> None:
    path = system_with_tls("meddream", tmp_path, certs, extra="require_client_cert = true\n")
    with pytest.raises(ConfigurationError, match="require_client_cert"):
        load_system(path)


def test_statements_name_the_substitution() -> None:
    for name in ("meddream-storage-server", "lifesys-qr", "kodak-disk-server"):
        assert load_profile(name).security.tls_profile == "non-downgrading-bcp195"
        assert load_profile(name).security.document_tls_profile == "basic"
