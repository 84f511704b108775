"""SignatureCEK: RSA PKCS#1 v1.5 / SHA-256 over the exact body, against every trusted key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from proxy.cek.keys import KeyLoadError, load_public_key_file, parse_public_key, shipped_key_path
from proxy.cek.signature import CekVerifier, KeyFetchError, RemoteKey, Verdict
from tests.proxy.conftest import ServerFactory
from tests.support.cek import CEK_SAMPLES, GENUINE_BODY, GENUINE_SIGNATURE, CekSigner

CLOVA_KEY = load_public_key_file(shipped_key_path())


def test_shipped_key_is_clovas_published_key() -> None:
    assert shipped_key_path().read_bytes() == (CEK_SAMPLES / "clova-signature-public-key.pem").read_bytes()


async def test_genuine_clova_request_verifies_with_shipped_key() -> None:
    assert await CekVerifier([CLOVA_KEY]).verify(GENUINE_BODY, GENUINE_SIGNATURE) is Verdict.OK


@pytest.mark.parametrize("position", [0, 1, 100, len(GENUINE_BODY) // 2, len(GENUINE_BODY) - 1])
async def test_changing_one_byte_of_the_genuine_request_fails(position: int) -> None:
    tampered = bytearray(GENUINE_BODY)
    tampered[position] ^= 0x01
    assert await CekVerifier([CLOVA_KEY]).verify(bytes(tampered), GENUINE_SIGNATURE) is Verdict.INVALID


@pytest.mark.parametrize(
    "body",
    [
        GENUINE_BODY + b"\n",
        json.dumps(json.loads(GENUINE_BODY)).encode(),  # re-serialised: same JSON, other bytes
    ],
    ids=["trailing-newline", "reserialised"],
)
async def test_only_the_exact_bytes_verify(body: bytes) -> None:
    assert await CekVerifier([CLOVA_KEY]).verify(body, GENUINE_SIGNATURE) is Verdict.INVALID


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (None, Verdict.MISSING),
        ("", Verdict.MISSING),
        ("not base64 at all!", Verdict.MALFORMED),
        ("A" * 5000, Verdict.MALFORMED),
        ("c2hvcnQ=", Verdict.INVALID),  # valid base64, wrong length
    ],
)
async def test_missing_or_malformed_signatures_are_refused(header: str | None, verdict: Verdict) -> None:
    assert await CekVerifier([CLOVA_KEY]).verify(GENUINE_BODY, header) is verdict


async def test_a_signature_by_another_key_is_refused(signer: CekSigner) -> None:
    assert await CekVerifier([CLOVA_KEY]).verify(GENUINE_BODY, signer.sign(GENUINE_BODY)) is Verdict.INVALID


async def test_several_pinned_keys_allow_rotation(signer: CekSigner) -> None:
    verifier = CekVerifier([CLOVA_KEY, parse_public_key(signer.public_pem, "test")])
    assert await verifier.verify(GENUINE_BODY, GENUINE_SIGNATURE) is Verdict.OK
    assert await verifier.verify(b'{"x":1}', signer.sign(b'{"x":1}')) is Verdict.OK


def test_weak_or_non_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
    curve = ec.generate_private_key(ec.SECP256R1()).public_key()
    for key, reason in ((weak, "at least 2048"), (curve, "not an RSA key")):
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        with pytest.raises(KeyLoadError, match=reason):
            parse_public_key(pem, "test")
    with pytest.raises(KeyLoadError, match="not a PEM public key"):
        parse_public_key(b"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n", "test")


class KeyServer:
    """Publishes one PEM at /key.pem, like CLOVA's .well-known URL, and counts fetches."""

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.fetches = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.Response(body=self.pem, content_type="application/x-pem-file")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


RemoteFactory = Callable[[bytes, list[float]], Awaitable[tuple[RemoteKey, KeyServer]]]


@pytest.fixture
def remote_key(aiohttp_server: ServerFactory, http: aiohttp.ClientSession) -> RemoteFactory:
    """A RemoteKey on a real key server, with a clock the test moves."""

    async def start(pem: bytes, clock: list[float]) -> tuple[RemoteKey, KeyServer]:
        keys = KeyServer(pem)
        app = web.Application()
        app.router.add_get("/key.pem", keys.handle)
        server: TestServer = await aiohttp_server(app)

        async def fetch(url: str) -> bytes:
            async with http.get(url) as resp:
                if resp.status != 200:
                    raise KeyFetchError(str(resp.status))
                return await resp.read()

        url = str(server.make_url("/key.pem"))
        return RemoteKey(url, fetch, ttl=3600, min_refetch_interval=60, clock=lambda: clock[0]), keys

    return start


async def test_key_from_url_is_used_and_refetched_once_after_rotation(remote_key: RemoteFactory) -> None:
    first, second = CekSigner(), CekSigner()
    clock = [1000.0]
    remote, keys = await remote_key(first.public_pem, clock)
    assert await remote.refresh()
    verifier = CekVerifier([CLOVA_KEY], remote)
    body = b'{"request":{"type":"LaunchRequest"}}'
    assert await verifier.verify(body, first.sign(body)) is Verdict.OK

    keys.pem = second.public_pem  # CLOVA rotates its key
    clock[0] += 61
    assert await verifier.verify(body, second.sign(body)) is Verdict.OK
    assert keys.fetches == 2
    assert await verifier.verify(GENUINE_BODY, GENUINE_SIGNATURE) is Verdict.OK  # the pinned key still counts


async def test_junk_signatures_cannot_make_the_proxy_hammer_the_key_url(remote_key: RemoteFactory) -> None:
    signer, stranger = CekSigner(), CekSigner()
    clock = [1000.0]
    remote, keys = await remote_key(signer.public_pem, clock)
    await remote.refresh()
    verifier = CekVerifier([CLOVA_KEY], remote)
    body = b"{}"
    for _ in range(20):
        assert await verifier.verify(body, stranger.sign(body)) is Verdict.INVALID
    assert keys.fetches == 1


async def test_a_broken_key_url_leaves_the_pinned_keys_working(remote_key: RemoteFactory) -> None:
    clock = [1000.0]
    remote, _ = await remote_key(b"not a key", clock)
    assert not await remote.refresh()
    verifier = CekVerifier([CLOVA_KEY], remote)
    assert await verifier.verify(GENUINE_BODY, GENUINE_SIGNATURE) is Verdict.OK
