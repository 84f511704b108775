"""The generated Caddyfile is valid Caddy config that forwards only the public paths."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.build_images import build_caddy
from infra.caddyfile import (
    IDEMPOTENT_METHODS,
    PROXIED_PATHS,
    RETRY_SECONDS,
    CaddyfileParams,
    render_caddyfile,
)
from infra.engine import PLATFORMS
from infra.settings import TlsMode
from tests.support.tools import missing

DEV = CaddyfileParams("dev", "localhost", TlsMode.INTERNAL, "", 443, "proxy", 8080, 65536)
PROD = CaddyfileParams("prod", "cek.example.com", TlsMode.ACME, "ops@example.com", 443, "proxy", 8080, 65536)


@pytest.fixture(scope="session")
def caddy() -> Path:
    """The gateway's own Caddy (built from images/gateway/caddy for this machine), not the system's."""
    if shutil.which("go") is None:
        missing("go", "Go 1.25 or newer builds the gateway's Caddy (https://go.dev/dl/)")
    return build_caddy(PLATFORMS[platform.machine()])


def adapt(caddy: Path, params: CaddyfileParams) -> dict[str, Any]:
    done = subprocess.run(
        [str(caddy), "adapt", "--adapter", "caddyfile", "--config", "/dev/stdin"],
        input=render_caddyfile(params),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "not formatted" not in done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def path_routes(node: Any) -> list[dict[str, Any]]:
    """Every route of the adapted config that matches on request paths."""
    if isinstance(node, list):
        return [route for item in node for route in path_routes(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if any("path" in matcher for matcher in node.get("match", [])) else []
    return own + [route for value in node.values() for route in path_routes(value)]


@pytest.mark.parametrize("params", [DEV, PROD], ids=["dev", "prod"])
def test_caddy_accepts_it_and_proxies_only_the_public_paths(caddy: Path, params: CaddyfileParams) -> None:
    config = adapt(caddy, params)
    assert config["admin"] == {"disabled": True}
    (proxied,) = path_routes(config)
    assert proxied["match"] == [{"path": list(PROXIED_PATHS)}]
    assert json.dumps(config).count('"handler": "reverse_proxy"') == 1
    assert '"dynamic_upstreams": {"name": "proxy", "port": "8080"' in json.dumps(proxied)


def test_plain_http_redirects_to_https_and_dev_uses_the_internal_ca() -> None:
    text = render_caddyfile(DEV)
    assert "redir https://{host}{uri} 308" in text
    assert "local_certs" in text
    assert "Strict-Transport-Security" not in text
    other_port = render_caddyfile(CaddyfileParams(**{**DEV.__dict__, "public_https_port": 8443}))
    assert "redir https://{host}:8443{uri} 308" in other_port


def test_prod_uses_acme_with_its_contact_and_hsts() -> None:
    text = render_caddyfile(PROD)
    assert "email ops@example.com" in text
    assert "local_certs" not in text
    assert 'Strict-Transport-Security "max-age=31536000"' in text


def test_request_headers_never_reach_the_logs() -> None:
    text = render_caddyfile(PROD)
    assert "request>headers delete" in text
    assert "\tlog {" in text
    assert "\t\tlog" not in text, "no access log"


def test_an_oversized_body_gets_413_not_caddys_502(caddy: Path) -> None:
    servers = adapt(caddy, DEV)["apps"]["http"]["servers"]
    errors = json.dumps([server.get("errors") for server in servers.values()])
    assert "request body too large" in errors
    assert '"status_code": 413' in errors


def test_a_failed_try_goes_to_another_replica_with_the_whole_body(caddy: Path) -> None:
    """Dial errors are retried for any request; a sent request only for /cek and idempotent methods."""
    (proxied,) = path_routes(adapt(caddy, DEV))
    (handler,) = [h for h in proxied["handle"][0]["routes"][0]["handle"] if h["handler"] == "reverse_proxy"]
    balancing = handler["load_balancing"]
    assert balancing["retry_match"] == [{"path": ["/cek"]}, {"method": list(IDEMPOTENT_METHODS)}]
    assert "POST" not in IDEMPOTENT_METHODS
    assert balancing["try_duration"] == RETRY_SECONDS * 10**9
    assert handler["request_buffers"] == DEV.max_body_bytes + 1  # all of an accepted body, then replayed
    assert handler["transport"]["dial_timeout"] == 10**9
