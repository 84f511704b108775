"""Changes to the running stack under a steady load: every request must still be answered.

Each test drives a bounded load (5 signed requests a second, through the gateway) while it changes the
stack the way an operator would, and prints what the load saw.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from tests.conftest import watch_secret
from tests.deploy.applier import NAME_LABEL, RUN_LABEL, SwarmApplier
from tests.deploy.cluster import Deployment, note, running_containers
from tests.deploy.load import LoadReport, steady_load
from tests.support.pulumi_program import ROOT

RATE = 5.0
MAX_SECONDS = 240.0  # the load stops earlier, once the change is done; this only bounds it
CHATBOT_SECRET_RESOURCE = "secrets-chatbot-secret"
# How long after a replica is killed the gateway may still fail requests: its DNS refresh, the dial
# timeout and the time to give up on connections to the vanished replica.
RECOVERY_SECONDS = 12.0


async def under_load(
    deployment: Deployment, change_name: str, change: Callable[[], None], settle: float = 5.0
) -> LoadReport:
    """Run `change` (blocking) while the load runs; the load starts before and ends `settle` s after."""
    stop = asyncio.Event()
    load = asyncio.create_task(
        steady_load(
            deployment.base_url,
            deployment.ssl_context(),
            deployment.signer,
            seconds=MAX_SECONDS,
            rate=RATE,
            stop=stop,
        )
    )
    started = time.time()
    await asyncio.sleep(settle)
    await asyncio.to_thread(change)
    await asyncio.sleep(settle)
    stop.set()
    report = await load
    note(f"{change_name}: the load saw {report}")
    note(f"{change_name}: outcomes the proxies logged: {dict(deployment.proxy_outcomes(started))}")
    note(f"{change_name}: gateway errors: {dict(deployment.gateway_errors(started)) or 'none'}")
    return report


def _proxy_containers(deployment: Deployment) -> set[str]:
    return {container.id for container in deployment.containers("proxy")}


async def test_a_rolling_update_loses_no_request(deployment: Deployment) -> None:
    before = _proxy_containers(deployment)
    level = "debug" if deployment.overrides["logLevel"] == "info" else "info"
    report = await under_load(deployment, "rolling update", lambda: deployment.redeploy({"logLevel": level}))
    assert report.sent >= 100
    assert report.answered == report.sent, report
    assert not before & _proxy_containers(deployment)  # every replica was replaced
    assert (
        deployment.service("proxy")
        .attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
        .count(f"CEK_PROXY_LOG_LEVEL={level}")
        == 1
    )


def _chatbot_secret_names(deployment: Deployment) -> list[str]:
    labels = [f"{RUN_LABEL}={deployment.run_id}", f"{NAME_LABEL}={CHATBOT_SECRET_RESOURCE}"]
    return [secret.name for secret in deployment.client.secrets.list(filters={"label": labels})]


async def test_a_rotated_chatbot_secret_replaces_the_old_one_without_losing_requests(
    deployment: Deployment,
) -> None:
    old, new = deployment.secrets["chatbotSecret"], watch_secret(f"rotated-{secrets.token_hex(12)}")
    (old_name,) = _chatbot_secret_names(deployment)
    deployment.stubs.accept_chatbot_secrets([old, new])  # as the chatbot builder would, during the switch

    report = await under_load(
        deployment, "secret rotation", lambda: deployment.redeploy(secrets={"chatbotSecret": new})
    )
    assert report.answered == report.sent, report

    (new_name,) = _chatbot_secret_names(deployment)
    assert new_name != old_name  # a new Swarm secret, and the old one is gone
    for container in deployment.containers("proxy"):
        code, content = container.exec_run(["cat", "/run/secrets/chatbot-secret"])
        assert code == 0
        assert content.decode() == new

    deployment.stubs.accept_chatbot_secrets([new])
    assert deployment.stubs.chatbot_stats()["matched"] == {}
    report = await under_load(deployment, "after the rotation", lambda: None, settle=3.0)
    assert report.answered == report.sent, report
    assert deployment.stubs.chatbot_stats()["matched"] == {"0": report.sent}


async def test_a_killed_replica_is_replaced_and_traffic_keeps_flowing(deployment: Deployment) -> None:
    proxy = deployment.service("proxy")
    victim = running_containers(deployment.client, proxy)[0]
    killed_at: list[float] = []

    def kill_and_wait() -> None:
        killed_at.append(time.monotonic())
        victim.kill()  # SIGKILL: no drain, its connections just vanish
        SwarmApplier(deployment.client, deployment.run_id, ROOT).wait_converged(proxy.id, 120)

    report = await under_load(deployment, "killed replica", kill_and_wait, settle=10.0)
    # Requests in flight on the killed replica, or sent to it before the gateway noticed, may be lost;
    # after that window, and for the whole replacement, traffic flows through the other replica.
    lost_window = [t - killed_at[0] for t in report.failed_at]
    note(f"killed replica: failures at {[round(t, 1) for t in lost_window]} s after the kill")
    assert all(-1 <= t <= RECOVERY_SECONDS for t in lost_window), report
    assert report.sent - report.answered <= RECOVERY_SECONDS * RATE / 2, report  # most still answered
    replicas = running_containers(deployment.client, proxy)
    assert len(replicas) == 2
    assert victim.id not in {c.id for c in replicas}
