"""`cek-proxy simulate` and `cek-proxy dev-key` against a real proxy on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy.cek.keys import load_public_key_file
from proxy.cek.signature import decode_signature, signed_by
from tests.proxy.conftest import ProxyFactory
from tests.simulator.conftest import cek_proxy, identity
from tests.support.cek import EXTENSION_ID
from tests.support.stubs import StubCekBackend, StubChatbot, valid_cek_answer


async def test_dev_key_writes_a_private_key_only_its_owner_reads_and_keeps_an_existing_one(
    tmp_path: Path, dev_key: Path, dev_public_key: Path
) -> None:
    assert stat.S_IMODE(dev_key.stat().st_mode) == 0o600  # noqa: ASYNC240
    assert load_public_key_file(dev_public_key).key_size == 2048
    before = dev_key.read_bytes()  # noqa: ASYNC240

    again = await cek_proxy("dev-key", "--dir", dev_key.parent)
    assert again.status == 2
    assert "already exists" in again.stderr
    assert dev_key.read_bytes() == before  # noqa: ASYNC240


async def test_a_private_key_others_can_read_is_refused(dev_key: Path, proxy_url: str) -> None:
    dev_key.chmod(0o644)  # noqa: ASYNC240
    run = await cek_proxy("simulate", proxy_url, *identity(dev_key), "--launch")
    assert run.status == 2
    assert f"chmod 600 {dev_key}" in run.stderr


async def test_one_shot_turns_keep_the_session_and_print_what_the_speaker_says(
    dev_key: Path, proxy_url: str, chatbot: tuple[StubChatbot, str]
) -> None:
    run = await cek_proxy(
        "simulate", proxy_url, *identity(dev_key),
        "--launch", "--say", "배송 조회",
        "--intent", "AskOrderStatus", "--slot", "product=무선 이어폰", "--end",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    assert run.stdout.splitlines() == [
        "clova> 안녕하세요. 고객센터 도우미입니다.",
        "clova> 배송 조회, 반품 신청 중에서 말씀해 주세요.",
        "       reprompt: 배송 조회, 반품 신청 중에서 말씀해 주세요.",
        "       [listening]",
        "clova> 답변: 배송 조회 시작",
        "       [listening]",
        "clova> 답변: 무선 이어폰",
        "       [listening]",
        "clova> (silence)",
        "       [session ends]",
    ]
    # Saying a button's title sent its postback: the proxy's sessionAttributes came back next turn.
    texts = [m["bubbles"][0]["data"]["description"] for m in chatbot[0].received if m["bubbles"]]
    assert texts == ["배송 조회 시작", "무선 이어폰"]


@pytest.fixture
async def passthrough_url(
    start_proxy: ProxyFactory, dev_public_key: Path, backend: tuple[StubCekBackend, str]
) -> str:
    client: TestClient[Any, Any] = await start_proxy(
        CEK_PROXY_CEK_PUBLIC_KEY_FILES=str(dev_public_key),
        CEK_PROXY_MODE="passthrough",
        CEK_PROXY_PASSTHROUGH_URL=backend[1],
    )
    return str(client.make_url("/cek"))


async def test_requests_have_the_shape_of_real_cek_traffic_with_fresh_ids_and_a_signature(
    dev_key: Path,
    dev_public_key: Path,
    passthrough_url: str,
    backend: tuple[StubCekBackend, str],
    tmp_path: Path,
) -> None:
    listening = valid_cek_answer("はい。")
    listening["response"]["shouldEndSession"] = False
    backend[0].answer = json.dumps(listening).encode()
    token_file = tmp_path / "token"
    token_file.write_text("tok-simulated-Lk29sQ\n")
    run = await cek_proxy(
        "simulate", passthrough_url, *identity(dev_key), "--locale", "ja-JP", "--user-id", "u-42",
        "--access-token-file", token_file, "--launch", "--intent", "Clova.GuideIntent", "--say", "こんにちは",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    received = backend[0].received
    documents = [json.loads(r.body) for r in received]
    key = load_public_key_file(dev_public_key)
    for r in received:
        signature = decode_signature(r.headers["SignatureCEK"])
        assert isinstance(signature, bytes)
        assert signed_by(key, r.body, signature)
    requests = [d["request"] for d in documents]
    assert [r["type"] for r in requests] == ["LaunchRequest", "IntentRequest", "IntentRequest"]
    assert len({r["requestId"] for r in requests}) == 3
    assert {r["locale"] for r in requests} == {"ja-JP"}
    assert {r["extensionId"] for r in requests} == {EXTENSION_ID}
    assert requests[1]["intent"] == {
        "intent": "Clova.GuideIntent",
        "name": "Clova.GuideIntent",
        "slots": None,
    }
    assert requests[2]["intent"]["slots"] == {"query": {"name": "query", "value": "こんにちは"}}
    sessions = [d["session"] for d in documents]
    assert [s["new"] for s in sessions] == [True, False, False]
    assert len({s["sessionId"] for s in sessions}) == 1
    assert {s["user"]["accessToken"] for s in sessions} == {"tok-simulated-Lk29sQ"}
    system = documents[0]["context"]["System"]
    assert system["application"]["applicationId"] == EXTENSION_ID
    assert system["user"]["userId"] == "u-42"
    assert system["device"]["deviceId"]


async def test_interactive_mode_reads_turns_from_stdin(
    dev_key: Path, proxy_url: str, chatbot: tuple[StubChatbot, str]
) -> None:
    lines = "/launch\n\n반품 신청\n/intent AskOrderStatus product=이어폰\n/bogus\n/cancel\n/quit\n배송 조회\n"
    run = await cek_proxy("simulate", proxy_url, *identity(dev_key), stdin=lines)
    assert run.status == 0, run.stderr
    assert "clova> 답변: 반품 접수" in run.stdout
    assert "clova> 답변: 이어폰" in run.stdout
    assert "error: unknown command /bogus" in run.stdout
    assert run.stdout.rstrip().endswith("clova> 이용해 주셔서 감사합니다.\n       [session ends]")
    assert len(chatbot[0].received) == 3  # open, two sends; nothing after /quit


async def test_a_refused_turn_is_reported_and_the_exit_status_says_so(dev_key: Path, proxy_url: str) -> None:
    run = await cek_proxy(
        "simulate", proxy_url, "--key", dev_key, "--extension-id", "com.example.other", "--launch"
    )
    assert run.status == 1
    assert "HTTP 403" in run.stderr


async def test_a_recorded_session_replays_as_a_passing_conversation_test(
    dev_key: Path, proxy_url: str, tmp_path: Path
) -> None:
    record = tmp_path / "recorded.yaml"
    run = await cek_proxy(
        "simulate", proxy_url, *identity(dev_key), "--record", record,
        "--launch", "--say", "반품 신청", "--intent", "Clova.StopIntent",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    assert "recorded 3 turn(s)" in run.stdout
    assert "say: 반품 신청" in record.read_text()

    replay = await cek_proxy("test", record, "--url", proxy_url, *identity(dev_key))
    assert replay.status == 0, replay.stdout
    assert "1 passed, 0 failed" in replay.stdout


async def test_speak_writes_the_answer_as_a_wav_file(dev_key: Path, proxy_url: str, tmp_path: Path) -> None:
    assert shutil.which("espeak-ng"), "scripts/test installs espeak-ng"
    wav = tmp_path / "answer.wav"
    run = await cek_proxy("simulate", proxy_url, *identity(dev_key), "--launch", "--speak", wav)
    assert run.status == 0, run.stderr
    header = wav.read_bytes()[:12]
    assert header[:4] == b"RIFF"
    assert header[8:12] == b"WAVE"
    assert wav.stat().st_size > 10_000  # seconds of speech, not an empty file
