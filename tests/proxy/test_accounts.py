"""Account linking and token injection: the whole loop with real servers on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from proxy.config_file import OAuth
from proxy.settings import SettingsError
from tests.conftest import watch_secret
from tests.proxy.conftest import ACTION_KEY, ProxyFactory, ServerFactory, cek_turn, linking_config
from tests.support.cek import ACCESS_TOKEN, CekSigner, event, intent, launch, speech_texts
from tests.support.stubs import ActionCall, Failure, StubActionBackend, StubCekBackend, StubChatbot

LOGIN_PROMPT = "이 기능을 쓰려면 CLOVA 앱에서 계정을 연결해 주세요."
LOGIN_SUCCESS = "계정이 연결되었어요."

Chatbot = tuple[StubChatbot, str]
Client = TestClient[Any, Any]


@pytest.fixture
def start_linked_proxy(
    start_proxy: ProxyFactory,
    orders_backend: tuple[StubActionBackend, str],
    action_key_file: Path,
    chatbot: Chatbot,
) -> ProxyFactory:
    """A proxy with the `orders` action, and a chatbot that answers by calling it through the proxy."""

    async def start(mode: str = "required", extra: str = "", **env: str) -> Client:
        client = await start_proxy(
            config=linking_config(mode, orders_backend[1], extra),
            CEK_PROXY_ACTION_KEY_FILE=str(action_key_file),
            **env,
        )
        chatbot[0].action = ActionCall(str(client.make_url("/actions/orders")), ACTION_KEY)
        return client

    return start


async def test_the_action_backend_gets_exactly_the_users_token_and_nothing_the_caller_sent(
    start_linked_proxy: ProxyFactory,
    signer: CekSigner,
    orders_backend: tuple[StubActionBackend, str],
) -> None:
    client = await start_linked_proxy()
    document = await cek_turn(client, signer, intent("AskOrders", {"query": "주문"}, token=ACCESS_TOKEN))
    assert speech_texts(document) == ['액션 200: {"orders": 2}']
    received = orders_backend[0].received[0]
    assert received.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "Cookie" not in received.headers
    assert "X-CEK-Proxy-Key" not in received.headers
    assert received.query == {"lang": "ko"}
    assert json.loads(received.body)["item"] == "무선 이어폰"


async def test_required_linking_prompts_without_a_chatbot_call_then_welcomes_the_linked_user_once(
    start_linked_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_linked_proxy("required")
    prompt = await cek_turn(client, signer, launch())
    assert speech_texts(prompt) == [LOGIN_PROMPT]
    assert prompt["response"]["shouldEndSession"] is True
    assert chatbot[0].received == []

    linked = await cek_turn(client, signer, launch(token=ACCESS_TOKEN))
    assert speech_texts(linked)[0] == LOGIN_SUCCESS
    again = await cek_turn(client, signer, launch(token=ACCESS_TOKEN))
    assert LOGIN_SUCCESS not in speech_texts(again)


async def test_optional_linking_lets_unlinked_users_talk(
    start_linked_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_linked_proxy("optional")
    document = await cek_turn(client, signer, launch())
    assert speech_texts(document)[0] == "안녕하세요. 고객센터 도우미입니다."


async def test_an_unlinked_users_action_call_gets_a_401_the_chatbot_can_branch_on(
    start_linked_proxy: ProxyFactory, signer: CekSigner, orders_backend: tuple[StubActionBackend, str]
) -> None:
    client = await start_linked_proxy("optional")
    document = await cek_turn(client, signer, intent("AskOrders", {"query": "주문"}))
    assert speech_texts(document)[0].startswith("액션 401:")
    assert "account_not_linked" in speech_texts(document)[0]
    assert orders_backend[0].received == []


@pytest.mark.parametrize(
    ("headers", "path", "status", "code"),
    [
        ({}, "/actions/orders?userId=u", 401, "invalid_action_key"),
        ({"X-CEK-Proxy-Key": "wrong"}, "/actions/orders?userId=u", 401, "invalid_action_key"),
        ({"X-CEK-Proxy-Key": ACTION_KEY}, "/actions/nope?userId=u", 404, "unknown_action"),
        ({"X-CEK-Proxy-Key": ACTION_KEY}, "/actions/orders", 400, "missing_user_id"),
        ({"X-CEK-Proxy-Key": ACTION_KEY}, "/actions/orders?userId=cek-unknown", 401, "account_not_linked"),
    ],
)
async def test_action_relay_refusals(
    start_linked_proxy: ProxyFactory,
    orders_backend: tuple[StubActionBackend, str],
    headers: dict[str, str],
    path: str,
    status: int,
    code: str,
) -> None:
    client = await start_linked_proxy()
    resp = await client.get(path, headers=headers)
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code
    assert orders_backend[0].received == []


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [(Failure("drop"), 502, "backend_connection"), (Failure("slow", delay=5), 504, "backend_timeout")],
)
async def test_a_failing_backend_gets_a_gateway_error_and_a_post_is_never_sent_twice(
    start_linked_proxy: ProxyFactory,
    signer: CekSigner,
    chatbot: Chatbot,
    orders_backend: tuple[StubActionBackend, str],
    failure: Failure,
    status: int,
    code: str,
) -> None:
    client = await start_linked_proxy("optional", extra="timeout = 0.5")
    await cek_turn(client, signer, launch(token=ACCESS_TOKEN))
    orders_backend[0].failure = failure
    user = chatbot[0].received[-1]["userId"]
    resp = await client.post(f"/actions/orders?userId={user}", headers={"X-CEK-Proxy-Key": ACTION_KEY})
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code
    assert len(orders_backend[0].received) == 1


async def test_skill_disabled_forgets_the_user(
    start_linked_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_linked_proxy("optional")
    await cek_turn(client, signer, launch(token=ACCESS_TOKEN))
    user = chatbot[0].received[-1]["userId"]
    relay = {"X-CEK-Proxy-Key": ACTION_KEY}
    assert (await client.post(f"/actions/orders?userId={user}", headers=relay)).status == 200

    disabled = await cek_turn(client, signer, event("ClovaSkill", "SkillDisabled", session=False))
    assert disabled["response"]["shouldEndSession"] is True
    resp = await client.post(f"/actions/orders?userId={user}", headers=relay)
    assert (await resp.json())["error"]["code"] == "account_not_linked"


async def test_a_turn_without_the_token_stops_the_stored_one_being_used(
    start_linked_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_linked_proxy("optional")
    await cek_turn(client, signer, launch(token=ACCESS_TOKEN))
    await cek_turn(client, signer, launch())  # the user unlinked: CEK sends no token any more
    user = chatbot[0].received[-1]["userId"]
    resp = await client.post(f"/actions/orders?userId={user}", headers={"X-CEK-Proxy-Key": ACTION_KEY})
    assert resp.status == 401


async def test_actions_need_the_action_key_setting(
    start_proxy: ProxyFactory, orders_backend: tuple[StubActionBackend, str]
) -> None:
    with pytest.raises(SettingsError, match="CEK_PROXY_ACTION_KEY_FILE"):
        await start_proxy(config=linking_config("off", orders_backend[1]))


async def test_passthrough_adds_the_token_header(
    start_proxy: ProxyFactory, signer: CekSigner, backend: tuple[StubCekBackend, str]
) -> None:
    client = await start_proxy(
        config='[passthrough]\ntoken_header = "X-Clova-Token"\n',
        CEK_PROXY_MODE="passthrough",
        CEK_PROXY_PASSTHROUGH_URL=backend[1],
    )
    body = intent("AskOrders", token=ACCESS_TOKEN)
    await cek_turn(client, signer, body)
    assert backend[0].received[0].headers["X-Clova-Token"] == ACCESS_TOKEN
    assert backend[0].received[0].body == body


class Issuer:
    """An OAuth issuer: publishes its JWKS and signs access tokens."""

    KID = "test-key-1"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.KID, "use": "sig", "alg": "RS256"}]}

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://issuer.example/",
            "aud": "cek-extension",
            "sub": "u1",
            "exp": now + 600,
            **claims,
        }
        return watch_secret(jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.KID}))


@pytest.fixture
async def issuer(aiohttp_server: ServerFactory) -> Issuer:
    issuer = Issuer()

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(issuer.jwks())

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response({"issuer": "https://issuer.example/", "jwks_uri": issuer.url})

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    app.router.add_get("/.well-known/openid-configuration", discovery)
    server = await aiohttp_server(app)
    issuer.url = str(server.make_url("/jwks.json"))
    return issuer


def oauth_section(issuer: Issuer, *, discovery: bool = False, require_jwt: bool = False) -> str:
    source = (
        f'discovery_url = "{issuer.url.replace("/jwks.json", "/.well-known/openid-configuration")}"'
        if discovery
        else f'jwks_url = "{issuer.url}"'
    )
    return f"""
[oauth]
{source}
issuer = "https://issuer.example/"
audience = "cek-extension"
require_jwt = {str(require_jwt).lower()}
"""


@pytest.mark.parametrize("discovery", [False, True], ids=["jwks-url", "oidc-discovery"])
async def test_a_valid_jwt_is_accepted_and_injected(
    start_linked_proxy: ProxyFactory,
    signer: CekSigner,
    issuer: Issuer,
    orders_backend: tuple[StubActionBackend, str],
    discovery: bool,
) -> None:
    token = issuer.token()
    client = await start_linked_proxy("required", extra=oauth_section(issuer, discovery=discovery))
    document = await cek_turn(client, signer, intent("AskOrders", {"query": "주문"}, token=token))
    assert speech_texts(document) == ['액션 200: {"orders": 2}']
    assert orders_backend[0].received[0].headers["Authorization"] == f"Bearer {token}"


def _forged_hs256(issuer: Issuer) -> str:
    """The classic algorithm-confusion forgery: HS256 keyed with the issuer's public key."""
    header = {"alg": "HS256", "kid": Issuer.KID}
    payload = {"iss": "https://issuer.example/", "aud": "cek-extension", "exp": int(time.time()) + 600}
    return watch_secret(jwt.api_jws.PyJWS().encode(json.dumps(payload).encode(), "x" * 32, "HS256", header))


@pytest.mark.parametrize(
    "make_token",
    [
        lambda issuer: issuer.token(exp=int(time.time()) - 3600),
        lambda issuer: issuer.token(nbf=int(time.time()) + 3600),
        lambda issuer: issuer.token(aud="someone-else"),
        lambda issuer: issuer.token(iss="https://evil.example/"),
        lambda issuer: Issuer().token(),  # signed by another key under the same kid
        _forged_hs256,
        lambda issuer: watch_secret(jwt.encode({"exp": int(time.time()) + 60}, "", algorithm="none")),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "wrong-issuer",
        "wrong-key",
        "hs256-confusion",
        "alg-none",
    ],
)
async def test_an_invalid_jwt_gets_the_relink_prompt_never_a_4xx(
    start_linked_proxy: ProxyFactory, signer: CekSigner, issuer: Issuer, chatbot: Chatbot, make_token: Any
) -> None:
    client = await start_linked_proxy("optional", extra=oauth_section(issuer))
    document = await cek_turn(client, signer, launch(token=make_token(issuer)))
    assert speech_texts(document) == [LOGIN_PROMPT]
    assert chatbot[0].received == []


async def test_opaque_tokens_pass_unless_jwts_are_required(
    start_linked_proxy: ProxyFactory, signer: CekSigner, issuer: Issuer
) -> None:
    lenient = await start_linked_proxy("required", extra=oauth_section(issuer))
    assert speech_texts(await cek_turn(lenient, signer, launch(token=ACCESS_TOKEN)))[0] != LOGIN_PROMPT
    strict = await start_linked_proxy("required", extra=oauth_section(issuer, require_jwt=True))
    assert speech_texts(await cek_turn(strict, signer, launch(token=ACCESS_TOKEN))) == [LOGIN_PROMPT]


@pytest.mark.parametrize("algorithm", ["none", "HS256"])
def test_unsafe_algorithms_cannot_be_configured(algorithm: str) -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        OAuth(jwks_url="https://issuer.example/jwks.json", algorithms=[algorithm])
