"""The pack boots and answers over the analyzer gRPC protocol, as the Pulumi engine drives it.

Started both as `python policies/__main__.py` and the way the engine's python analyzer shim runs it
(`python -u -m pulumi.policy <engine> .` in the pack folder). Requests carry secrets wrapped, as the
engine sends them with KeepSecrets; the diagnostics must find them and never show them.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.rules import ALL_POLICIES
from policies.workloads import SERVICE, STACK
from tests.policies.support import (
    CHATBOT_SECRET,
    PROJECT_YAML,
    PULUMI_CONFIG,
    STACK_OUTPUTS,
    proxy_service,
    wrapped_secret,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHES = {
    "script": ([sys.executable, "-u", "policies/__main__.py"], REPO_ROOT),
    "engine shim": (
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        REPO_ROOT / "policies",
    ),
}


def _read_port(process: subprocess.Popen[str]) -> int:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    assert ready, "the pack printed no port within 60 s"
    line = process.stdout.readline()
    assert line.strip().isdigit(), f"expected a port, got {line!r}"
    return int(line)


@pytest.fixture(scope="module", params=sorted(LAUNCHES))
def analyzer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """An AnalyzerStub talking to the pack, started with the environment the engine gives it."""
    project_file = tmp_path_factory.mktemp("project") / "Pulumi.yaml"
    project_file.write_text(PROJECT_YAML)
    env = {
        **os.environ,
        "CEK_POLICIES_PROJECT_FILE": str(project_file),
        "PULUMI_CONFIG": PULUMI_CONFIG,
        "PULUMI_PROJECT": "cek-proxy",
        "PULUMI_STACK": "dev",
        "PULUMI_DRY_RUN": "false",
    }
    command, cwd = LAUNCHES[request.param]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{_read_port(process)}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:dev::cek-proxy::{resource_type}::{name}"


def _messages(response: analyzer_pb2.AnalyzeResponse) -> list[tuple[str, str]]:
    messages = [(diagnostic.policyName, diagnostic.message) for diagnostic in response.diagnostics]
    assert all(CHATBOT_SECRET not in message for _, message in messages)
    return messages


def test_it_lists_every_policy_as_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "cek-proxy-policies"
    assert [policy.name for policy in info.policies] == [policy.name for policy in ALL_POLICIES]
    assert {policy.enforcementLevel for policy in info.policies} == {analyzer_pb2.MANDATORY}


def test_it_finds_a_wrapped_secret_in_a_resources_inputs(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    props = proxy_service()
    props["labels"].append(wrapped_secret({"label": "debug", "value": CHATBOT_SECRET}))
    request = analyzer_pb2.AnalyzeRequest(
        type=SERVICE, name="proxy", urn=_urn(SERVICE, "proxy"), properties=_struct(props)
    )
    assert [policy for policy, _ in _messages(analyzer.Analyze(request))] == [
        "secret-config-not-in-resources"
    ]


def test_it_finds_a_secret_in_the_stack_outputs(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    root = analyzer_pb2.AnalyzerResource(
        type=STACK,
        name="cek-proxy-dev",
        urn=_urn(STACK, "cek-proxy-dev"),
        properties=_struct({**STACK_OUTPUTS, "token": wrapped_secret(CHATBOT_SECRET)}),
    )
    proxy = analyzer_pb2.AnalyzerResource(
        type=SERVICE, name="proxy", urn=_urn(SERVICE, "proxy"), properties=_struct(proxy_service())
    )
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[root, proxy]))
    messages = _messages(response)
    assert [policy for policy, _ in messages] == ["secret-config-not-in-stack"]
    assert messages[0][1].endswith(
        "the value of secret config cek-proxy:chatbotSecret appears (raw) in stack output token"
    )
    assert [diagnostic.urn for diagnostic in response.diagnostics] == [_urn(STACK, "cek-proxy-dev")]
