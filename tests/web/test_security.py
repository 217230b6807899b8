"""HTTP side security: loopback default, Basic/Bearer from the [http] table, TLS."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import httpx
import pytest
from helpers.certs import make_certs

from dicomnet.cli import serve as cli_serve
from dicomnet.errors import ConfigurationError
from dicomnet.web import create_app
from dicomnet.web.settings import (
    HttpSettings,
    hash_password,
    hash_token,
    load_http_config,
    parse_http,
)

from .conftest import WebFixture
from .serving import HttpServing

TOKEN = "s3cret-token"


def settings_with_users() -> HttpSettings:
    return HttpSettings(
        basic_users={"alice": hash_password("wonderland", iterations=1000)},
        bearer_tokens=frozenset({hash_token(TOKEN)}),
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_credentials_are_required_when_users_are_set(web: WebFixture) -> None:
    transport = httpx.ASGITransport(app=create_app(web.archive, settings_with_users()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        anonymous = await client.get("/dicomweb/studies")
        assert anonymous.status_code == 401
        challenges = anonymous.headers.get_list("www-authenticate")
        assert any(c.startswith("Basic") for c in challenges)
        assert any(c.startswith("Bearer") for c in challenges)
        wrong = await client.get(
            "/dicomweb/studies", headers={"Authorization": basic("alice", "nope")}
        )
        assert wrong.status_code == 401
        unknown = await client.get(
            "/dicomweb/studies", headers={"Authorization": basic("bob", "x")}
        )
        assert unknown.status_code == 401
        for _ in range(2):  # the second is answered from the remembered check
            ok = await client.get(
                "/dicomweb/studies", headers={"Authorization": basic("alice", "wonderland")}
            )
            assert ok.status_code == 200
        bearer = await client.get("/dicomweb/studies", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200
        bad_bearer = await client.get("/dicomweb/studies", headers={"Authorization": "Bearer x"})
        assert bad_bearer.status_code == 401
        garbage = await client.get("/dicomweb/studies", headers={"Authorization": "Basic !!!"})
        assert garbage.status_code == 401


def test_http_table_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "web.toml"
    good = parse_http(
        {
            "port": 0,
            "tls_cert": "a.pem",
            "tls_key": "a.key",
            "max_results": 5,
            "basic_users": {"alice": hash_password("x", iterations=1000)},
            "bearer_tokens": [hash_token("t")],
        },
        path,
    )
    assert good.port == 0
    assert good.host == "127.0.0.1"
    assert good.tls_cert == tmp_path / "a.pem"
    assert good.limits.max_results == 5
    assert good.authenticated
    for bad in (
        {"tls_cert": "a.pem"},
        {"basic_users": {"alice": "plain-text-password"}},
        {"bearer_tokens": ["plain"]},
        {"prot": 1},
    ):
        with pytest.raises(ConfigurationError):
            parse_http(bad, path)
    path.write_text("[web]\n")
    with pytest.raises(ConfigurationError, match=r"no \[http\]"):
        load_http_config(path)


async def test_serve_http_config_with_tls_and_basic_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "certs").mkdir()
    certs = make_certs(tmp_path / "certs")
    config = tmp_path / "web.toml"
    config.write_text(
        "[http]\n"
        f'tls_cert = "{certs.server_cert}"\n'
        f'tls_key = "{certs.server_key}"\n'
        "[http.basic_users]\n"
        f'alice = "{hash_password("wonderland", iterations=1000)}"\n'
    )
    running = HttpServing(
        ["--output", str(tmp_path / "store"), "--http-config", str(config)], capsys, https=True
    )
    _, port = await running.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}",
            verify=ssl.create_default_context(cafile=str(certs.ca)),
        ) as client:
            refused = await client.get("/dicomweb/studies")
            assert refused.status_code == 401
            ok = await client.get(
                "/dicomweb/studies", headers={"Authorization": basic("alice", "wonderland")}
            )
            assert ok.status_code == 204
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get("/dicomweb/studies")
    finally:
        assert await running.stop() == 0


async def test_loopback_by_default(tmp_path: Path) -> None:
    args = cli_serve.build_parser().parse_args(["--http", "0", "--output", str(tmp_path)])
    from dicomnet.cli.http_side import bind_http

    bound = bind_http(args)
    assert bound is not None
    try:
        assert bound.sock.getsockname()[0] == "127.0.0.1"
        assert bound.ssl_context is None
    finally:
        bound.close()


async def test_system_file_http_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import re

    from dicomnet.cli.system import serve_system
    from dicomnet.conformance.locate import default_data_dir

    text = (default_data_dir() / "systems" / "dicomark.toml").read_text()
    system = tmp_path / "dicomark-web.toml"
    system.write_text(text + "\n[http]\nport = 0\n" + f'bearer_tokens = ["{hash_token(TOKEN)}"]\n')
    args = cli_serve.build_parser().parse_args(
        ["--system", str(system), "--root", str(tmp_path), "--any-port"]
    )
    stop = asyncio.Event()
    ready: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(serve_system(args, ready=ready.set_result, stop=stop))
    try:
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        assert ready.done(), task.result()
        found = re.search(r"http listening on (\d+)", capsys.readouterr().out)
        assert found
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{found.group(1)}") as client:
            assert (await client.get("/dicomweb/studies")).status_code == 401
            answer = await client.get(
                "/dicomweb/studies", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert answer.status_code == 204
    finally:
        stop.set()
        assert await task == 0
