"""CLOVA's RSA public keys: the one shipped in the package, files, and PEM text from a URL."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MIN_KEY_BITS = 2048
MAX_PEM_BYTES = 16 * 1024


class KeyLoadError(ValueError):
    """A key file or fetched key is unreadable, not PEM, not RSA or too weak."""


def shipped_key_path() -> Path:
    """CLOVA's signing key as published by CLOVA and embedded in every official CEK SDK."""
    return Path(str(resources.files("proxy") / "data" / "clova-signature-public-key.pem"))


def parse_public_key(pem: bytes, origin: str) -> RSAPublicKey:
    if len(pem) > MAX_PEM_BYTES:
        raise KeyLoadError(f"{origin}: larger than {MAX_PEM_BYTES} bytes")
    try:
        key = load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{origin}: not a PEM public key") from exc
    if not isinstance(key, RSAPublicKey):
        raise KeyLoadError(f"{origin}: not an RSA key")
    if key.key_size < MIN_KEY_BITS:
        raise KeyLoadError(f"{origin}: RSA key of {key.key_size} bits, at least {MIN_KEY_BITS} required")
    return key


def load_public_key_file(path: Path) -> RSAPublicKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_public_key(pem, str(path))
