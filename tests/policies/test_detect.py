"""What looks secret: names in any case style, and a value in every encoding and alignment."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from policies.detect import encoded_forms, name_looks_secret, upper_snake

# Chosen so that base64 and url-safe base64 differ at every offset (~ ? > encode to + / characters).
SECRET = "s3cr3t~~~Value???and>>>more"


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("chatbotSecret", "CHATBOT_SECRET"),
        ("APIKey", "API_KEY"),
        ("cek-proxy:userIdKey", "CEK_PROXY_USER_ID_KEY"),
    ],
)
def test_names_are_compared_in_upper_snake(name: str, normalized: str) -> None:
    assert upper_snake(name) == normalized


@pytest.mark.parametrize(
    "name",
    ["chatbotSecret", "actionKey", "tokenStorePassword", "GITHUB_TOKEN", "apikey", "sshPrivateKey", "pass"],
)
def test_secret_names(name: str) -> None:
    assert name_looks_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "cekPublicKeyUrl",
        "CEK_PROXY_CEK_PUBLIC_KEY_FILES",
        "tokenStore",
        "passthroughUrl",
        "keyboard",
        "domain",
    ],
)
def test_names_that_only_sound_secret(name: str) -> None:
    assert not name_looks_secret(name)


@pytest.mark.parametrize("prefix", ["", "a", "ab"])
@pytest.mark.parametrize("suffix", ["", "z", "yz"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_the_value_is_found_encoded_at_any_offset(
    prefix: str, suffix: str, encode: Callable[[bytes], bytes]
) -> None:
    blob = encode(f"{prefix}{SECRET}{suffix}".encode()).decode()
    assert any(needle in blob for form, needle in encoded_forms(SECRET) if form != "raw")


def test_other_values_are_not_found() -> None:
    blob = base64.b64encode(b"x" * 64 + SECRET[:-1].encode()).decode()
    assert not any(needle in blob for _, needle in encoded_forms(SECRET))
