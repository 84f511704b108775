"""Changes to the running stack under a steady load: every request must still be answered.

Each test drives a bounded load (5 signed requests a second, through the gateway) while it changes the
stack the way an operator would (`pulumi up`, played by the applier, then the deploy command
`python -m infra.converge`), and prints what the load saw. The applier returns when the docker
provider's wait would; only the deploy command's exit status says whether the rollout is done.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import watch_secret
from tests.deploy.applier import NAME_LABEL, RUN_LABEL
from tests.deploy.cluster import Deployment, note, running_containers, wait_for
from tests.deploy.load import LoadReport, steady_load

RATE = 5.0
MAX_SECONDS = 240.0  # the load stops earlier, once the change is done; this only bounds it
CHATBOT_SECRET_RESOURCE = "secrets-chatbot-secret"
PROXY_CONFIG_RESOURCE = "proxy-config"
ROLLOUT_SECONDS = 300.0
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


def _proxy_env(deployment: Deployment, container_id: str) -> list[str]:
    env: list[str] = deployment.client.api.inspect_container(container_id)["Config"]["Env"]
    return env


def _update_then_converge(deployment: Deployment, change: Callable[[], None], label: str) -> int:
    """`pulumi up` (the applier, with the provider's wait), then the deploy command; its exit status."""
    change()
    on_new, running = deployment.tasks_on_current_spec("proxy")
    note(f"{label}: when the provider's wait returned, {on_new} of {running} proxy tasks ran the new spec")
    return deployment.converge(ROLLOUT_SECONDS).returncode


async def test_the_deploy_command_returns_only_when_all_three_replicas_run_the_new_spec(
    deployment: Deployment,
) -> None:
    before = _proxy_containers(deployment)
    level = "debug" if deployment.overrides["logLevel"] == "info" else "info"
    status: list[int] = []

    def change() -> None:
        status.append(
            _update_then_converge(
                deployment, lambda: deployment.redeploy({"logLevel": level}), "rolling update"
            )
        )
        # Right as the deploy command returns, not a moment later.
        after = _proxy_containers(deployment)
        status.append(sum(f"CEK_PROXY_LOG_LEVEL={level}" in _proxy_env(deployment, c) for c in after))
        status.append(len(after - before))

    report = await under_load(deployment, "rolling update", change)
    exit_status, on_new_spec, replaced = status
    assert exit_status == 0
    assert on_new_spec == replaced == deployment.overrides["proxyReplicas"] == 3
    assert report.sent >= 100
    assert report.answered == report.sent, report


def _refused_config_file(good: Path, directory: Path) -> Path:
    """Valid TOML (the program accepts it) that the proxy refuses at start: an unknown setting."""
    bad = directory / "proxy.toml"
    bad.write_text(good.read_text() + "\nretries = 3\n")
    return bad


async def test_a_failed_update_rolls_back_and_the_deploy_command_names_the_service_and_error(
    deployment: Deployment, tmp_path: Path
) -> None:
    good = deployment.overrides["proxyConfigFile"]
    bad = _refused_config_file(Path(good), tmp_path)
    before = deployment.service("proxy").attrs["Spec"]["TaskTemplate"]
    outcome: list[subprocess.CompletedProcess[str]] = []

    def change() -> None:
        try:
            deployment.redeploy({"proxyConfigFile": str(bad)})
            note("failed update: the provider's wait reported success")
        except RuntimeError as exc:  # the provider's wait may see the rollback and fail
            note(f"failed update: the provider's wait failed: {str(exc).splitlines()[-1]}")
        outcome.append(deployment.converge(ROLLOUT_SECONDS))

    try:
        report = await under_load(deployment, "failed update", change)
    finally:
        deployment.overrides["proxyConfigFile"] = good  # the next `pulumi up` has the good file again
    (done,) = outcome
    assert done.returncode == 1
    assert "proxy: update rollback" in done.stderr
    assert "non-zero exit" in done.stderr  # the failed task's own error
    assert deployment.service("proxy").attrs["Spec"]["TaskTemplate"] == before  # rolled back
    assert report.answered == report.sent, report


def _stored_names(deployment: Deployment, kind: str, logical: str) -> set[str]:
    labels = [f"{RUN_LABEL}={deployment.run_id}", f"{NAME_LABEL}={logical}"]
    collection = deployment.client.secrets if kind == "secret" else deployment.client.configs
    return {item.name for item in collection.list(filters={"label": labels})}


def _mounted_chatbot_secrets(deployment: Deployment) -> set[str]:
    contents = set()
    for container in deployment.containers("proxy"):
        code, content = container.exec_run(["cat", "/run/secrets/chatbot-secret"])
        assert code == 0
        contents.add(content.decode())
    return contents


async def test_a_rotated_chatbot_secret_is_kept_for_a_rollback_and_unused_versions_are_pruned(
    deployment: Deployment,
) -> None:
    old, new = deployment.secrets["chatbotSecret"], watch_secret(f"rotated-{secrets.token_hex(12)}")
    (old_name,) = _stored_names(deployment, "secret", CHATBOT_SECRET_RESOURCE)
    assert len(_stored_names(deployment, "config", PROXY_CONFIG_RESOURCE)) == 2  # the failed update's too
    deployment.stubs.accept_chatbot_secrets([old, new])  # as the chatbot builder would, during the switch
    status: list[int] = []

    def rotate() -> None:
        status.append(
            _update_then_converge(
                deployment, lambda: deployment.redeploy(secrets={"chatbotSecret": new}), "secret rotation"
            )
        )

    report = await under_load(deployment, "secret rotation", rotate)
    assert status == [0]
    assert report.answered == report.sent, report
    assert _mounted_chatbot_secrets(deployment) == {new}
    names = _stored_names(deployment, "secret", CHATBOT_SECRET_RESOURCE)
    assert old_name in names  # the old one stays: the previous spec uses it
    assert len(names) == 2
    assert len(_stored_names(deployment, "config", PROXY_CONFIG_RESOURCE)) == 1  # nothing uses the bad one

    deployment.stubs.accept_chatbot_secrets([new])
    assert deployment.stubs.chatbot_stats()["matched"] == {}
    report = await under_load(deployment, "after the rotation", lambda: None, settle=3.0)
    assert report.answered == report.sent, report
    assert deployment.stubs.chatbot_stats()["matched"] == {"0": report.sent}

    # An operator rolls the rotation back: the tasks must find the old secret.
    deployment.stubs.accept_chatbot_secrets([old, new])
    proxy = deployment.service("proxy")

    def roll_back() -> None:
        subprocess.run(
            ["docker", "service", "rollback", "--detach", proxy.id], check=True, capture_output=True
        )
        wait_for(
            "the manual rollback",
            lambda: (
                (deployment.service("proxy").attrs.get("UpdateStatus") or {}).get("State")
                == "rollback_completed"
            ),
            timeout=ROLLOUT_SECONDS,
        )

    report = await under_load(deployment, "rollback after the rotation", roll_back)
    assert report.answered == report.sent, report
    assert _mounted_chatbot_secrets(deployment) == {old}
    done = deployment.converge(ROLLOUT_SECONDS)
    assert done.returncode == 1  # a rolled-back stack is not what was deployed
    assert "proxy: update rollback_completed" in done.stderr


async def test_a_killed_replica_is_replaced_and_traffic_keeps_flowing(deployment: Deployment) -> None:
    proxy = deployment.service("proxy")
    victim = running_containers(deployment.client, proxy)[0]
    replicas = deployment.overrides["proxyReplicas"]
    killed_at: list[float] = []

    def replaced() -> bool:
        running = {c.id for c in running_containers(deployment.client, proxy)}
        return len(running) == replicas and victim.id not in running

    def kill_and_wait() -> None:
        killed_at.append(time.monotonic())
        victim.kill()  # SIGKILL: no drain, its connections just vanish
        wait_for("a replacement for the killed replica", replaced, timeout=120)

    report = await under_load(deployment, "killed replica", kill_and_wait, settle=10.0)
    # Requests in flight on the killed replica, or sent to it before the gateway noticed, may be lost;
    # after that window, and for the whole replacement, traffic flows through the other replicas.
    lost_window = [t - killed_at[0] for t in report.failed_at]
    note(f"killed replica: failures at {[round(t, 1) for t in lost_window]} s after the kill")
    assert all(-1 <= t <= RECOVERY_SECONDS for t in lost_window), report
    assert report.sent - report.answered <= RECOVERY_SECONDS * RATE / 2, report  # most still answered
    assert replaced()
