"""The Pulumi program, for the real config of every stack: what it would deploy, checked before it runs.

Secrets are set to unique markers; the program runs under mocks (tests/support/pulumi_program.py) and
every recorded resource input is checked.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.proxy import SECRET_FILE_SETTINGS
from infra.settings import SERVICE_SECRET_KEYS
from infra.token_store import acl_file
from proxy.cek.keys import shipped_key_path
from proxy.simulator.keys import PUBLIC_KEY_NAME
from tests.infra.conftest import DEV_KEY_DIR, SECRET_MARKERS, record_stack
from tests.support.pulumi_program import SECRET, Recording, stack_config

MIB = 1024 * 1024
SECRET_TYPE = "docker:index/secret:Secret"


def containers(recording: Recording) -> dict[str, dict[str, Any]]:
    return {name: service["taskSpec"]["containerSpec"] for name, service in recording.services().items()}


def walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every node of a recorded input with its path (list items are numbered)."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from walk(item, (*path, str(key)))


def leaked_keys(text: str) -> set[str]:
    """Secret keys whose marker is in `text`, as is or base64-encoded (either alphabet, any padding)."""
    decoded = [text]
    for altchars in (None, b"-_"):
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            decoded.append(base64.b64decode(text + "=" * (-len(text) % 4), altchars, validate=True).decode())
    found = set()
    for key, marker in SECRET_MARKERS.items():
        encoded = [
            codec(marker.encode()).decode().rstrip("=")
            for codec in (base64.b64encode, base64.urlsafe_b64encode)
        ]
        if any(marker in candidate for candidate in decoded) or any(form in text for form in encoded):
            found.add(key)
    return found


def test_every_service_is_labelled_with_its_role_and_stack(recording: Recording, stack: str) -> None:
    for name, service in recording.services().items():
        labels = {label["label"]: label["value"] for label in service["labels"]}
        assert labels == {"cek-proxy.role": name, "cek-proxy.stack": stack}


def test_swarm_secrets_and_configs_are_kept_by_pulumi_and_labelled_with_their_stack(
    recording: Recording, stack: str
) -> None:
    """`retain_on_delete`: a replaced one stays for a rollback; `infra.converge` prunes it by this label."""
    stored = recording.of_type("/secret:Secret") + recording.of_type("/serviceConfig:ServiceConfig")
    assert stored
    for resource in stored:
        labels = {label["label"]: label["value"] for label in resource["inputs"].get("labels", [])}
        assert labels.get("cek-proxy.stack") == stack, resource["name"]
        assert resource["retain_on_delete"], resource["name"]
    others = [r for r in recording.resources if r not in stored and r["custom"]]
    assert not [r["name"] for r in others if r["retain_on_delete"]]


def test_only_the_gateway_publishes_ports_on_the_host(recording: Recording) -> None:
    services = recording.services()
    publishing = {name for name, service in services.items() if service["endpointSpec"].get("ports")}
    assert publishing == {"gateway"}
    ports = {
        (p["publishedPort"], p["targetPort"], p["publishMode"])
        for p in services["gateway"]["endpointSpec"]["ports"]
    }
    assert ports == {(443, 8443, "host"), (80, 8080, "host")}
    assert not recording.of_type("/container:Container"), "every workload is a Swarm service"


def test_services_use_dns_round_robin_on_overlay_networks(recording: Recording) -> None:
    networks = {f"{r['name']}-id": r["inputs"] for r in recording.of_type("/network:Network")}
    assert all(network["driver"] == "overlay" for network in networks.values())
    internal = {net_id for net_id, network in networks.items() if network.get("internal")}
    for name, service in recording.services().items():
        assert service["endpointSpec"]["mode"] == "dnsrr", name
        attached = {attachment["id"] for attachment in service["taskSpec"]["networksAdvanceds"]}
        assert attached & internal, f"{name} is not on the internal network"


def test_token_store_runs_only_when_replicas_share_tokens(recording: Recording, stack: str) -> None:
    config = stack_config(stack, SECRET_MARKERS, {})
    services = recording.services()
    proxy_env = containers(recording)["proxy"].get("env", {})
    if config["proxyReplicas"] > 1:
        store = services["token-store"]
        assert [n["aliases"] for n in store["taskSpec"]["networksAdvanceds"]] == [["token-store"]]
        internal = {
            f"{r['name']}-id" for r in recording.of_type("/network:Network") if r["inputs"].get("internal")
        }
        assert {n["id"] for n in store["taskSpec"]["networksAdvanceds"]} <= internal
        assert proxy_env["CEK_PROXY_TOKEN_STORE_URL"] == "redis://token-store:6379/0"
    else:
        assert "token-store" not in services
        assert "CEK_PROXY_TOKEN_STORE_URL" not in proxy_env


def test_secrets_reach_services_only_as_swarm_secret_files(recording: Recording) -> None:
    secret_ids = {f"{r['name']}-id" for r in recording.of_type("/secret:Secret")}
    for name, container in containers(recording).items():
        uid = container["user"].split(":")[0]
        mounts = container.get("secrets", [])
        for mount in mounts:
            assert mount["secretId"] in secret_ids, name
            assert mount["fileName"].startswith("/run/secrets/"), name
            assert (mount["fileMode"], mount["fileUid"], mount["fileGid"]) == (0o400, uid, uid), name
        files = {mount["fileName"] for mount in mounts}
        secret_settings = {
            var: path for var, path in container.get("env", {}).items() if path.startswith("/run/secrets/")
        }
        assert all(var.endswith("_FILE") and path in files for var, path in secret_settings.items()), name


def test_the_proxy_mounts_each_secret_it_needs_and_names_its_file(recording: Recording, stack: str) -> None:
    config = stack_config(stack, SECRET_MARKERS, {})
    expected = {"chatbotSecret", "userIdKey"}  # no stack file names a proxy config with [actions]
    if config["proxyReplicas"] > 1:
        expected |= {"tokenKey", "tokenStorePassword"}
    proxy = containers(recording)["proxy"]
    env = proxy["env"]
    assert {var for var in env if var in SECRET_FILE_SETTINGS.values()} == {
        SECRET_FILE_SETTINGS[k] for k in expected
    }
    assert {env[SECRET_FILE_SETTINGS[key]] for key in expected} == {m["fileName"] for m in proxy["secrets"]}


def test_swarm_secrets_hold_the_values_and_are_autonamed(recording: Recording) -> None:
    held = set()
    for secret in recording.of_type("/secret:Secret"):
        assert "name" not in secret["inputs"], "a fixed name would block rotation"
        held.add(base64.b64decode(secret["inputs"]["data"][SECRET]).decode())
    assert set(SECRET_MARKERS.values()) & held == {v for v in held if v in SECRET_MARKERS.values()}
    if any("token-store" in name for name in recording.services()):
        assert acl_file(SECRET_MARKERS["tokenStorePassword"]) in held
        password_hash = hashlib.sha256(SECRET_MARKERS["tokenStorePassword"].encode()).hexdigest()
        assert all(SECRET_MARKERS["tokenStorePassword"] not in v for v in held if password_hash in v)
    assert all("name" not in c["inputs"] for c in recording.of_type("/serviceConfig:ServiceConfig"))


def test_no_secret_value_appears_outside_swarm_secret_data(recording: Recording) -> None:
    for resource in recording.resources:
        for path, value in walk(resource["inputs"]):
            is_secret_data = resource["type"] == SECRET_TYPE and path[:1] == ("data",)
            if isinstance(value, dict) and SECRET in value:
                assert is_secret_data, f"{resource['name']}: input {'.'.join(path)} is secret"
            if isinstance(value, str) and not is_secret_data:
                assert not leaked_keys(value), f"{resource['name']}: a secret is in {'.'.join(path)}"
    for name, value in recording.outputs.items():
        assert not leaked_keys(str(value)), f"output {name} holds a secret"


def test_services_are_hardened(recording: Recording) -> None:
    for name, service in recording.services().items():
        container = service["taskSpec"]["containerSpec"]
        uid, gid = (int(part) for part in container["user"].split(":"))
        assert min(uid, gid) >= 1000, name
        assert container["readOnly"] is True, name
        assert container["capDrops"] == ["ALL"], name
        assert not container.get("capAdds"), name
        restart = service["taskSpec"]["restartPolicy"]
        assert restart["condition"] == "any", name
        assert restart["delay"], name
        assert restart["window"], name
        assert service["convergeConfig"]["timeout"], f"{name}: pulumi up must wait for healthy tasks"
        health = container["healthcheck"]
        assert health["tests"][0] in ("CMD", "CMD-SHELL"), name
        assert health["retries"] >= 1, name


def test_proxy_replicas_limits_and_rolling_updates_follow_the_stack(recording: Recording, stack: str) -> None:
    config = stack_config(stack, SECRET_MARKERS, {})
    services = recording.services()
    proxy = services["proxy"]
    assert proxy["mode"]["replicated"]["replicas"] == config["proxyReplicas"]
    assert recording.outputs["proxy_replicas"] == config["proxyReplicas"]
    assert (
        proxy["updateConfig"] | {"failureAction": "rollback", "order": "start-first"} == proxy["updateConfig"]
    )
    assert proxy["rollbackConfig"]["order"] == "start-first"
    assert services["gateway"]["updateConfig"]["order"] == "stop-first", "host ports cannot be bound twice"
    assert "/healthz" in " ".join(proxy["taskSpec"]["containerSpec"]["healthcheck"]["tests"])
    for name, prefix in (("proxy", "proxy"), ("gateway", "gateway"), ("token-store", "tokenStore")):
        if name in services:
            limits = services[name]["taskSpec"]["resources"]["limits"]
            assert limits["memoryBytes"] == config[f"{prefix}MemoryMb"] * MIB, name
            assert limits["nanoCpus"] == config[f"{prefix}CpuMillis"] * 1_000_000, name


def test_images_are_built_here_and_referenced_by_content_tag(recording: Recording) -> None:
    built = {r["inputs"]["imageName"] for r in recording.of_type("/image:Image")}
    for image in built:
        repository, _, tag = image.rpartition(":")
        assert repository, image
        assert tag != "latest", image
        assert len(tag) == 16, f"{image} is not tagged by content"
    assert {c["image"] for c in containers(recording).values()} == built
    for image in recording.of_type("/image:Image"):
        assert image["inputs"]["skipPush"] is True
        base = image["inputs"]["build"]["args"]["BASE_IMAGE"]
        assert ":" in base, f"{base} has no tag"
        assert not base.endswith(":latest"), base


def test_outputs_give_the_console_its_urls_and_nothing_else(recording: Recording, stack: str) -> None:
    domain = stack_config(stack, SECRET_MARKERS, {})["domain"]
    assert recording.outputs == {
        "environment": stack,
        "extension_url": f"https://{domain}/cek",
        "action_base_url": f"https://{domain}/actions/",
        "health_url": f"https://{domain}/healthz",
        "proxy_replicas": recording.outputs["proxy_replicas"],
    }


def test_gateway_tls_follows_the_stack(recording: Recording, stack: str) -> None:
    config = stack_config(stack, SECRET_MARKERS, {})
    (caddyfile,) = (
        c["inputs"]["dataRaw"]
        for c in recording.of_type("/serviceConfig:ServiceConfig")
        if c["name"] == "gateway-caddyfile"
    )
    assert f"\n{config['domain']} {{\n" in caddyfile
    assert ("local_certs" in caddyfile) is (config["tls"] == "internal")
    assert ("Strict-Transport-Security" in caddyfile) is (config["tls"] == "acme")


def test_a_bad_setting_stops_the_program_naming_the_key() -> None:
    with pytest.raises(RuntimeError, match="domain: automatic HTTPS"):
        record_stack("dev", SECRET_MARKERS, {"tls": "acme"})
    with pytest.raises(RuntimeError, match="proxyReplicas: must be between 1 and 50"):
        record_stack("dev", SECRET_MARKERS, {"proxyReplicas": 0})
    with pytest.raises(RuntimeError, match="tokenStore: memory keeps tokens per replica"):
        record_stack("prod", SECRET_MARKERS, {"tokenStore": "memory"})


def test_passthrough_mode_mounts_no_chatbot_secret() -> None:
    recording = record_stack(
        "dev", SECRET_MARKERS, {"mode": "passthrough", "passthroughUrl": "https://backend.example/cek"}
    )
    proxy = containers(recording)["proxy"]
    assert proxy["env"]["CEK_PROXY_PASSTHROUGH_URL"] == "https://backend.example/cek"
    assert "CEK_PROXY_CHATBOT_SECRET_FILE" not in proxy["env"]
    assert all(not m["fileName"].endswith("chatbot-secret") for m in proxy.get("secrets", []))


def test_the_dev_stack_trusts_the_simulators_key_and_clovas(record: Callable[[str], Recording]) -> None:
    recording = record("dev")
    proxy = containers(recording)["proxy"]
    trusted = proxy["env"]["CEK_PROXY_CEK_PUBLIC_KEY_FILES"].split(",")
    assert trusted == ["/etc/cek-proxy/keys/0.pem", "/etc/cek-proxy/keys/1.pem"]
    contents = {r["inputs"]["dataRaw"] for r in recording.of_type("/serviceConfig:ServiceConfig")}
    assert (DEV_KEY_DIR / PUBLIC_KEY_NAME).read_text() in contents
    assert shipped_key_path().read_text() in contents


def test_trusted_keys_and_the_upstream_ca_are_mounted_as_swarm_configs() -> None:
    key = "tests/fixtures/cek-samples/clova-signature-public-key.pem"
    recording = record_stack("dev", SECRET_MARKERS, {"cekPublicKeyFiles": [key], "upstreamCaFile": key})
    proxy = containers(recording)["proxy"]
    assert proxy["env"]["CEK_PROXY_CEK_PUBLIC_KEY_FILES"] == "/etc/cek-proxy/keys/0.pem"
    assert proxy["env"]["CEK_PROXY_UPSTREAM_CA_FILE"] == "/etc/cek-proxy/upstream-ca.pem"
    mounted = {c["fileName"]: c for c in proxy["configs"]}
    assert {"/etc/cek-proxy/keys/0.pem", "/etc/cek-proxy/upstream-ca.pem"} <= set(mounted)
    assert all(c["fileMode"] == 0o400 and c["fileUid"] == "10001" for c in mounted.values())
    contents = [r["inputs"]["dataRaw"] for r in recording.of_type("/serviceConfig:ServiceConfig")]
    assert contents.count(Path(key).read_text()) == 2


def test_a_missing_project_file_stops_the_program_naming_the_key() -> None:
    with pytest.raises(RuntimeError, match=r"upstreamCaFile: cannot read missing\.pem"):
        record_stack("dev", SECRET_MARKERS, {"upstreamCaFile": "missing.pem"})


def test_every_declared_secret_is_known_to_the_program() -> None:
    assert set(SECRET_FILE_SETTINGS) == set(SERVICE_SECRET_KEYS)


def test_a_service_bound_to_host_ports_is_deleted_before_it_is_replaced(recording: Recording) -> None:
    services = {r["name"]: r for r in recording.of_type("/service:Service")}
    assert {name for name, r in services.items() if r["delete_before_replace"]} == {"gateway"}
    assert not any(r["delete_before_replace"] for r in recording.of_type("/secret:Secret")), (
        "Swarm refuses to delete a secret in use: secrets are replaced create-before-delete"
    )


def without(*keys: str) -> dict[str, str]:
    return {key: value for key, value in SECRET_MARKERS.items() if key not in keys}


def test_a_passthrough_stack_with_one_replica_needs_no_unused_secret() -> None:
    unused = ("chatbotSecret", "userIdKey", "actionKey", "tokenKey", "tokenStorePassword")
    recording = record_stack(
        "dev", without(*unused), {"mode": "passthrough", "passthroughUrl": "https://backend.example/cek"}
    )
    assert not recording.of_type("/secret:Secret")
    assert not containers(recording)["proxy"].get("secrets")


def test_a_missing_secret_the_stack_uses_stops_it_naming_the_key_and_the_command() -> None:
    with pytest.raises(RuntimeError) as raised:
        record_stack("prod", without("tokenKey", "chatbotSecret"))
    message = str(raised.value)
    assert "chatbotSecret: required because mode is bridge" in message
    assert "`pulumi config set --stack prod --secret chatbotSecret`" in message
    assert "`pulumi config set --stack prod --secret tokenKey`" in message
    assert "actionKey" not in message
    assert "userIdKey" not in message


def test_actions_in_the_proxy_config_need_the_action_key(tmp_path: Path) -> None:
    actions = tmp_path / "proxy.toml"
    actions.write_text('[actions.orders]\nurl = "https://backend.example/orders"\n')
    with pytest.raises(RuntimeError, match=r"actionKey: required because .*proxy\.toml has \[actions\]"):
        record_stack("dev", without("actionKey"), {"proxyConfigFile": str(actions)})
    proxy = containers(record_stack("dev", SECRET_MARKERS, {"proxyConfigFile": str(actions)}))["proxy"]
    assert proxy["env"]["CEK_PROXY_ACTION_KEY_FILE"] == "/run/secrets/action-key"
