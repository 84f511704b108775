"""`cek-proxy selftest`: the certification-style battery against real servers on 127.0.0.1."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.app import create_app
from proxy.settings import load_settings
from tests.simulator.conftest import cek_proxy, identity
from tests.support.stubs import valid_cek_answer
from tests.support.tls import TestCA

REFUSALS = ("no signature", "bad signature", "tampered body", "wrong extension id", "oversized", "malformed")


def _row(stdout: str, check: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(check))


async def test_the_proxy_passes_every_check_over_http(dev_key: Path, proxy_url: str) -> None:
    run = await cek_proxy("selftest", proxy_url, *identity(dev_key))
    assert run.status == 0, run.stdout
    for check in REFUSALS:
        assert " pass " in _row(run.stdout, check), run.stdout
    assert "valid CEK answer" in _row(run.stdout, "signed LaunchRequest answered")
    assert " n/a " in _row(run.stdout, "TLS certificate")
    assert "all checks hold" in run.stdout


async def test_a_server_that_answers_everything_with_200_fails(aiohttp_server: Any, dev_key: Path) -> None:
    async def always_ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(valid_cek_answer("네"))

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/cek", always_ok)
    server = await aiohttp_server(app)
    run = await cek_proxy("selftest", str(server.make_url("/cek")), *identity(dev_key))
    assert run.status == 1
    for check in REFUSALS:
        assert re.search(r"\sFAIL\s+HTTP 200 \(a 4xx is required\)$", _row(run.stdout, check))
    assert " pass " in _row(run.stdout, "signed LaunchRequest answered")
    assert "6 check(s) failed" in run.stdout


async def _site(
    app: web.Application, port: int = 0, context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    return runner, runner.addresses[0][1]


async def test_over_https_the_certificate_and_the_redirect_are_checked(
    tmp_path: Path, dev_key: Path, dev_public_key: Path, base_env: dict[str, str]
) -> None:
    ca = TestCA()
    cert, key = ca.issue("localhost").write(tmp_path, "localhost")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    proxy = create_app(load_settings({**base_env, "CEK_PROXY_CEK_PUBLIC_KEY_FILES": str(dev_public_key)}))
    https, https_port = await _site(proxy, context=context)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(f"https://localhost:{https_port}{request.path}")

    plain = web.Application()
    plain.router.add_route("*", "/{tail:.*}", redirect)
    http, http_port = await _site(plain)
    url = f"https://localhost:{https_port}/cek"
    try:
        run = await cek_proxy(
            "selftest", url, *identity(dev_key), "--cacert", ca_file, "--http-port", str(http_port)
        )
        untrusted = await cek_proxy("selftest", url, *identity(dev_key), "--http-port", str(http_port))
    finally:
        await http.cleanup()
        await https.cleanup()
    assert run.status == 0, run.stdout
    assert re.search(
        r"pass\s+verified for localhost, expires in 2[34] h$", _row(run.stdout, "TLS certificate")
    )
    assert f"HTTP 308 to https://localhost:{https_port}/cek" in _row(run.stdout, "HTTP redirects to HTTPS")
    assert untrusted.status == 1
    assert "CERTIFICATE_VERIFY_FAILED" in _row(untrusted.stdout, "TLS certificate")
