"""The development key pair: CEK requests signed the way CLOVA signs them, with a key of our own.

The private key is written with mode 0600 and refused when others can read it (as ssh does); the
public key sits beside it, for the dev stack's `cekPublicKeyFiles`.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DEFAULT_KEY_DIR = Path(".cek-dev")
PRIVATE_KEY_NAME = "cek-dev-private.pem"
PUBLIC_KEY_NAME = "cek-dev-public.pem"
DEFAULT_PRIVATE_KEY = DEFAULT_KEY_DIR / PRIVATE_KEY_NAME
KEY_BITS = 2048


class DevKeyError(Exception):
    """The development key is missing, unreadable, too open or not an RSA private key."""


@dataclass(frozen=True)
class DevKey:
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> DevKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS))

    def sign(self, body: bytes) -> str:
        """`SignatureCEK`: base64 RSA PKCS#1 v1.5 with SHA-256 over the exact body."""
        signature = self.private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def create_dev_key(directory: Path, *, replace: bool = False) -> tuple[Path, Path]:
    """Write a new key pair into `directory`; an existing one is kept unless `replace`."""
    private, public = directory / PRIVATE_KEY_NAME, directory / PUBLIC_KEY_NAME
    if private.exists() and not replace:
        raise DevKeyError(f"{private} already exists (use --replace for a new key)")
    directory.mkdir(parents=True, exist_ok=True)
    key = DevKey.generate()
    private.unlink(missing_ok=True)
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_pem())
    public.write_bytes(key.public_pem())
    return private, public


def load_dev_key(path: Path) -> DevKey:
    try:
        mode = path.stat().st_mode
        pem = path.read_bytes()
    except OSError as exc:
        hint = " (create one with: cek-proxy dev-key)" if path == DEFAULT_PRIVATE_KEY else ""
        raise DevKeyError(f"{path}: cannot be read ({exc.strerror}){hint}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DevKeyError(f"{path}: readable by others; chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise DevKeyError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DevKeyError(f"{path}: not an RSA key")
    return DevKey(key)
