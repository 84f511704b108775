"""What a test deployment of the stack is made from: its secrets, test files and settings.

Shared by tests/deploy (the one-node Swarm of this machine) and tests/multinode (a Swarm of node
containers), whose conftests make session fixtures of these.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.images import LOCAL_BASE_IMAGE
from infra.settings import SERVICE_SECRET_KEYS
from proxy.simulator.keys import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, load_dev_key
from tests.conftest import watch_secret
from tests.support.cek import EXTENSION_ID, CekSigner
from tests.support.tls import TestCA


def stack_secrets() -> dict[str, str]:
    """A fresh value for every secret a service mounts, each watched for leaks."""
    return {key: watch_secret(f"deploy-{key}-{secrets.token_hex(12)}") for key in SERVICE_SECRET_KEYS}


def new_run_id() -> str:
    return f"cekt{secrets.token_hex(3)}"


def test_files(directory: Path) -> dict[str, Any]:
    """A development key made by `cek-proxy dev-key` and the stubs' CA, as files the stack config names."""
    subprocess.run([sys.executable, "-m", "proxy", "dev-key", "--dir", str(directory)], check=True)
    signer, ca = CekSigner(load_dev_key(directory / PRIVATE_KEY_NAME).private_key), TestCA()
    (directory / "stubs-ca.pem").write_bytes(ca.cert_pem)
    (directory / "proxy.toml").write_text(
        '[actions.orders]\nurl = "https://stub-backend:8443/orders"\nmethod = "POST"\n'
    )
    return {"dir": directory, "signer": signer, "ca": ca, "dev_key": directory / PRIVATE_KEY_NAME}


def stack_overrides(files: dict[str, Any], https_port: int, http_port: int) -> dict[str, Any]:
    """A staging-like stack (three replicas, Redis, account linking, actions) on test ports."""
    directory: Path = files["dir"]
    return {
        "baseImage": LOCAL_BASE_IMAGE,
        "domain": "localhost",
        "tls": "internal",
        "httpsPort": https_port,
        "httpPort": http_port,
        "extensionIds": [EXTENSION_ID],
        "chatbotUrl": "https://stub-chatbot:8443/custom/v1/1234/deploy",
        "cekPublicKeyFiles": [
            str(directory / PUBLIC_KEY_NAME),
            "proxy/data/clova-signature-public-key.pem",
        ],
        "upstreamCaFile": str(directory / "stubs-ca.pem"),
        "proxyConfigFile": str(directory / "proxy.toml"),
        "accountLinking": "optional",
        "proxyReplicas": 3,  # a rolling update long enough for the provider's wait to return early
        "logLevel": "info",
    }
