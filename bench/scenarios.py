"""The scenarios of a run: targets that wrk loads, each checked once by hand beforehand."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import traffic
from bench.measure import Target
from bench.processes import Service
from bench.stack import Stack, Upstreams
from bench.traffic import Post

# Substrings of the expected answers: proof that each target does its whole job, not an apology.
CEK_BACKEND_ANSWER = "백엔드 응답입니다."
BRIDGED_ANSWER = "답변: 무선 이어폰 배송 언제 와요?"
ACTION_ANSWER = '"orders": 2'


class ProbeError(RuntimeError):
    """A target did not answer a single request as it should."""


@dataclass(frozen=True)
class Scenario:
    target: Target
    post: Post
    expect: str
    group: str  # "cek" or "action": the baseline it is compared with

    def probe(self) -> None:
        request = urllib.request.Request(  # noqa: S310 - a loopback URL the bench built
            self.target.url + self.post.path, data=self.post.body, headers=dict(self.post.headers)
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            status, body = reply.status, json.dumps(json.loads(reply.read()), ensure_ascii=False)
        if status != 200 or self.expect not in body:
            name = self.target.name
            raise ProbeError(f"{name}: expected 200 with {self.expect!r}, got {status}: {body[:300]}")


class Scenarios:
    """Builds scenarios against one set of upstreams, writing each one's requests file."""

    def __init__(self, stack: Stack, upstreams: Upstreams) -> None:
        self.stack, self.upstreams = stack, upstreams
        self.items: list[Scenario] = []

    def add(self, name: str, group: str, servers: tuple[Service, ...], post: Post, expect: str) -> Scenario:
        port = servers[0].port
        requests = traffic.write_requests(self.stack.workdir / f"{name}.requests", [post], port)
        target = Target(name, port, requests, servers, self.upstreams.service)
        self.items.append(Scenario(target, post, expect, group))
        return self.items[-1]


def main_scenarios(stack: Stack, upstreams: Upstreams, proxy: Service) -> list[Scenario]:
    """Stub direct, baseline, Caddy alone and the gateway (when Caddy is there), proxy bridge, action
    baseline, relay."""
    turn = traffic.cek_turn()
    cek_backend = traffic.cek_post(stack.signer, traffic.CEK_BACKEND_PATH, turn)
    bridge = traffic.cek_post(stack.signer, "/cek", turn)
    built = Scenarios(stack, upstreams)
    built.add(
        "stub", "cek", (upstreams.service,), cek_backend, CEK_BACKEND_ANSWER
    )  # its port: the CEK backend
    baseline = stack.baseline("baseline", upstreams.cek_base)
    built.add("baseline", "cek", (baseline,), cek_backend, CEK_BACKEND_ANSWER)
    caddy = stack.caddy_alone(upstreams.cek_port)
    if caddy is not None:
        built.add("caddy", "cek", (caddy,), cek_backend, CEK_BACKEND_ANSWER)
    built.add("proxy", "cek", (proxy,), bridge, BRIDGED_ANSWER)
    gateway = stack.gateway(proxy.port)
    if gateway is not None:
        built.add("gateway", "cek", (gateway, proxy), bridge, BRIDGED_ANSWER)
    action_baseline = stack.baseline("action-baseline", upstreams.action_base)
    built.add(
        "action_baseline",
        "action",
        (action_baseline,),
        traffic.action_post(traffic.ACTION_BACKEND_PATH),
        ACTION_ANSWER,
    )
    built.add("relay", "action", (proxy,), traffic.action_post(traffic.ACTION_PATH), ACTION_ANSWER)
    return built.items


def mixed_requests(stack: Stack, port: int, path: Path) -> Path:
    """Launches, intents and action calls in turn: the sustained run's traffic."""
    posts = [
        traffic.cek_post(stack.signer, "/cek", traffic.cek_launch()),
        traffic.cek_post(stack.signer, "/cek", traffic.cek_turn()),
        traffic.action_post(traffic.ACTION_PATH),
    ]
    return traffic.write_requests(path, posts, port)
