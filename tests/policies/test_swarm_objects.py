"""swarm-secret-data-is-secret and no-secrets-in-swarm-configs: secrets stay in encrypted Swarm secrets."""

from __future__ import annotations

import pytest

from policies.workloads import SERVICE_CONFIG, SWARM_SECRET
from tests.policies.support import CADDYFILE, CHATBOT_SECRET, b64, resource_args, urlsafe_b64, violations

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


def test_a_swarm_secret_created_from_a_secret_output_passes() -> None:
    args = resource_args(SWARM_SECRET, {"data": urlsafe_b64(CHATBOT_SECRET)}, secret_outputs=("data",))
    assert violations("swarm-secret-data-is-secret", args) == []


def test_a_swarm_secret_whose_data_is_not_secret_is_a_violation() -> None:
    args = resource_args(SWARM_SECRET, {"data": urlsafe_b64(CHATBOT_SECRET)})
    assert violations("swarm-secret-data-is-secret", args) == ["data is not in additional_secret_outputs"]


def test_only_swarm_secrets_need_secret_data() -> None:
    assert violations("swarm-secret-data-is-secret", resource_args(SERVICE_CONFIG, {"data": b64("x")})) == []


def test_a_plain_config_file_passes() -> None:
    assert (
        violations("no-secrets-in-swarm-configs", resource_args(SERVICE_CONFIG, {"data": b64(CADDYFILE)}))
        == []
    )


@pytest.mark.parametrize(
    ("props", "found"),
    [
        ({"data": urlsafe_b64(PRIVATE_KEY)}, "data holds what looks like a PEM private key"),
        ({"data": PRIVATE_KEY}, "data holds what looks like a PEM private key"),
        ({"data": b64(f"token: ghp_{'a1' * 18}\n")}, "data holds what looks like a GitHub token"),
        (
            {"dataRaw": f"requirepass {CHATBOT_SECRET}\n"},
            "dataRaw holds what looks like a password assignment",
        ),
        (
            {"dataRaw": f'{{"password": "{CHATBOT_SECRET}"}}'},
            "dataRaw holds what looks like a password assignment",
        ),
        ({"dataRaw": "upstream https://u:pw@host/x"}, "dataRaw holds what looks like credentials in a URL"),
    ],
)
def test_a_secret_looking_config_is_a_violation(props: dict[str, str], found: str) -> None:
    assert violations("no-secrets-in-swarm-configs", resource_args(SERVICE_CONFIG, props)) == [found]
