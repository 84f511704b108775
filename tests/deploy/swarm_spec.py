"""pulumi-docker `Service` inputs (camelCase, as a mock receives them) to Docker Engine API specs.

This is the part of the test-side applier that does what the docker provider does: turn the
resource's inputs into the ServiceSpec that `POST /services/create` takes. Numbers arrive as floats
and durations as Go duration strings ("10s", "1m30s"); the Engine wants integers and nanoseconds.
"""

from __future__ import annotations

from typing import Any

from tests.support.go_duration import duration_ns

Spec = dict[str, Any]


def _clean(spec: Spec) -> Spec:
    """Drop empty values, as the provider does for unset optional fields."""
    return {k: v for k, v in spec.items() if v not in (None, [], {})}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _file_target(item: dict[str, Any]) -> Spec:
    return _clean(
        {
            "Name": item["fileName"],
            "UID": item.get("fileUid", "0"),
            "GID": item.get("fileGid", "0"),
            "Mode": _int(item.get("fileMode", 0o444)),
        }
    )


def _secrets(items: list[dict[str, Any]]) -> list[Spec]:
    return [
        _clean({"SecretID": s["secretId"], "SecretName": s.get("secretName"), "File": _file_target(s)})
        for s in items
    ]


def _configs(items: list[dict[str, Any]]) -> list[Spec]:
    return [
        _clean({"ConfigID": c["configId"], "ConfigName": c.get("configName"), "File": _file_target(c)})
        for c in items
    ]


def _healthcheck(check: dict[str, Any] | None) -> Spec | None:
    if not check:
        return None
    return _clean(
        {
            "Test": check.get("tests"),
            "Interval": duration_ns(check.get("interval")),
            "Timeout": duration_ns(check.get("timeout")),
            "StartPeriod": duration_ns(check.get("startPeriod")),
            "Retries": _int(check.get("retries")),
        }
    )


def _mount(mount: dict[str, Any]) -> Spec:
    tmpfs = mount.get("tmpfsOptions") or {}
    return _clean(
        {
            "Type": mount.get("type", "volume"),
            "Target": mount["target"],
            "Source": mount.get("source"),
            "ReadOnly": mount.get("readOnly"),
            "TmpfsOptions": _clean(
                {"SizeBytes": _int(tmpfs.get("sizeBytes")), "Mode": _int(tmpfs.get("mode"))}
            ),
        }
    )


def _env(env: dict[str, str] | None) -> list[str]:
    return [f"{key}={value}" for key, value in sorted((env or {}).items())]


def container_spec(spec: dict[str, Any]) -> Spec:
    return _clean(
        {
            "Image": spec["image"],
            "Command": spec.get("commands"),
            "Args": spec.get("args"),
            "Env": _env(spec.get("env")),
            "User": spec.get("user"),
            "Groups": spec.get("groups"),
            "Dir": spec.get("dir"),
            "Hostname": spec.get("hostname"),
            "Labels": spec.get("labels"),
            "ReadOnly": spec.get("readOnly"),
            "Init": spec.get("init"),
            "CapabilityAdd": spec.get("capAdds"),
            "CapabilityDrop": spec.get("capDrops"),
            "Secrets": _secrets(spec.get("secrets") or []),
            "Configs": _configs(spec.get("configs") or []),
            "Healthcheck": _healthcheck(spec.get("healthcheck")),
            "Mounts": [_mount(m) for m in spec.get("mounts") or []],
            "StopSignal": spec.get("stopSignal"),
            "StopGracePeriod": duration_ns(spec.get("stopGracePeriod")),
            "Sysctls": spec.get("sysctl"),
        }
    )


def _resources(resources: dict[str, Any] | None) -> Spec | None:
    if not resources:
        return None

    def side(values: dict[str, Any] | None) -> Spec:
        values = values or {}
        return _clean(
            {"NanoCPUs": _int(values.get("nanoCpus")), "MemoryBytes": _int(values.get("memoryBytes"))}
        )

    return _clean(
        {"Limits": side(resources.get("limits")), "Reservations": side(resources.get("reservation"))}
    )


def _restart_policy(policy: dict[str, Any] | None) -> Spec | None:
    if not policy:
        return None
    return _clean(
        {
            "Condition": policy.get("condition"),
            "Delay": duration_ns(policy.get("delay")),
            "MaxAttempts": _int(policy.get("maxAttempts")),
            "Window": duration_ns(policy.get("window")),
        }
    )


def _placement(placement: dict[str, Any]) -> Spec:
    """Constraints, spread preferences (`spread=node.labels.zone`) and the per-node task limit."""
    prefs = [
        {"Spread": {"SpreadDescriptor": pref.removeprefix("spread=")}}
        for pref in placement.get("prefs") or []
        if pref.startswith("spread=")
    ]
    return _clean(
        {
            "Constraints": placement.get("constraints"),
            "Preferences": prefs,
            "MaxReplicas": _int(placement.get("maxReplicas")),
        }
    )


def task_template(task: dict[str, Any]) -> Spec:
    networks = [
        _clean({"Target": n["id"], "Aliases": n.get("aliases"), "DriverOpts": n.get("driverOpts")})
        for n in task.get("networksAdvanceds") or []
    ]
    return _clean(
        {
            "ContainerSpec": container_spec(task["containerSpec"]),
            "Resources": _resources(task.get("resources")),
            "RestartPolicy": _restart_policy(task.get("restartPolicy")),
            "Placement": _placement(task.get("placement") or {}),
            "Networks": networks,
            "ForceUpdate": _int(task.get("forceUpdate")),
        }
    )


def _update(config: dict[str, Any] | None) -> Spec | None:
    if not config:
        return None
    return _clean(
        {
            "Parallelism": _int(config.get("parallelism")),
            "Delay": duration_ns(config.get("delay")),
            "FailureAction": config.get("failureAction"),
            "Monitor": duration_ns(config.get("monitor")),
            "MaxFailureRatio": _float(config.get("maxFailureRatio")),  # a string in pulumi-docker
            "Order": config.get("order"),
        }
    )


def _mode(mode: dict[str, Any] | None) -> Spec:
    if mode and mode.get("global"):
        return {"Global": {}}
    replicas = ((mode or {}).get("replicated") or {}).get("replicas", 1)
    return {"Replicated": {"Replicas": int(replicas)}}


def _endpoint(endpoint: dict[str, Any] | None) -> Spec | None:
    if not endpoint:
        return None
    ports = [
        _clean(
            {
                "Name": p.get("name"),
                "Protocol": p.get("protocol", "tcp"),
                "TargetPort": _int(p["targetPort"]),
                "PublishedPort": _int(p.get("publishedPort")),
                "PublishMode": p.get("publishMode", "ingress"),
            }
        )
        for p in endpoint.get("ports") or []
    ]
    return _clean({"Mode": endpoint.get("mode", "vip"), "Ports": ports})


def labels(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items or []}


def service_spec(name: str, inputs: dict[str, Any]) -> Spec:
    return _clean(
        {
            "Name": name,
            "Labels": labels(inputs.get("labels")),
            "TaskTemplate": task_template(inputs["taskSpec"]),
            "Mode": _mode(inputs.get("mode")),
            "UpdateConfig": _update(inputs.get("updateConfig")),
            "RollbackConfig": _update(inputs.get("rollbackConfig")),
            "EndpointSpec": _endpoint(inputs.get("endpointSpec")),
        }
    )
