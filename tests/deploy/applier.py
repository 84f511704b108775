"""The test-side stand-in for the docker provider: Pulumi mocks that apply what the program declares.

The Pulumi CLI and its docker provider cannot run on these machines, so the real program runs
under `pulumi.runtime.set_mocks` with this class: each declared `docker:index/...` resource is
created (or updated) on the local Swarm through the Docker SDK, and its real id and outputs go
back to the program. Everything created carries a `cek-proxy.test-run` label, so the state lives
in Docker itself: a later run of the program (a new image, a rotated secret) updates what exists,
`prune` removes what the latest run no longer declares (except what the program marks
`retain_on_delete`, which Pulumi leaves in place too), and `remove_all` cleans up after a failure.
Services converge by the provider's own rule (`tests.deploy.provider_wait`), no stricter.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pulumi
from docker.models.services import Service

from tests.deploy.provider_wait import wait_like_provider
from tests.deploy.swarm_spec import labels, service_spec
from tests.support.go_duration import duration_ns
from tests.support.pulumi_program import OptionsMonitor

RUN_LABEL = "cek-proxy.test-run"
NAME_LABEL = "cek-proxy.logical-name"
APPLIED_LABEL = "cek-proxy.applied"  # set on what the program declared (not on test stubs beside it)
RETAINED_LABEL = "cek-proxy.retain-on-delete"  # the applier's record of that resource option

Outputs = dict[str, Any]


def unwrap_secrets(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers replaced by their values."""
    if pulumi.runtime.rpc.is_rpc_secret(value):
        return unwrap_secrets(pulumi.runtime.rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


@dataclass
class SwarmApplier(pulumi.runtime.Mocks):
    client: docker.DockerClient
    run_id: str
    workdir: Path  # the program's working directory: build contexts are relative to it
    declared: set[str] = field(default_factory=set)  # Docker ids declared by this run
    log: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.monitor = OptionsMonitor(self)
        self._handlers: dict[str, Callable[[str, dict[str, Any]], tuple[str, Outputs]]] = {
            "docker:index/image:Image": self._image,
            "docker:index/network:Network": self._network,
            "docker:index/secret:Secret": self._secret,
            "docker:index/serviceConfig:ServiceConfig": self._config,
            "docker:index/service:Service": self._service,
            "docker:index/volume:Volume": self._volume,
        }

    # --- the Mocks interface -------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        handler = self._handlers.get(args.typ)
        if handler is None:
            if args.typ.startswith("docker:") and args.custom:
                raise NotImplementedError(f"the test applier cannot create {args.typ}")
            return f"{args.name}-id", dict(args.inputs)  # providers and components
        resource_id, outputs = handler(args.name, unwrap_secrets(dict(args.inputs)))
        self.declared.add(resource_id)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None

    # --- resources -----------------------------------------------------------------------------
    def _labels(self, logical: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        retained = {RETAINED_LABEL: "true"} if logical in self.monitor.retained else {}
        return {
            **(extra or {}),
            **retained,
            RUN_LABEL: self.run_id,
            NAME_LABEL: logical,
            APPLIED_LABEL: "true",
        }

    def _image(self, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        tag = inputs["imageName"]
        build = inputs.get("build") or {}
        context = (self.workdir / build.get("context", ".")).resolve()
        dockerfile = (self.workdir / build.get("dockerfile", "Dockerfile")).resolve()
        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            started = time.monotonic()
            image, _ = self.client.images.build(
                path=str(context),
                dockerfile=os.path.relpath(dockerfile, context),
                buildargs=build.get("args") or {},
                platform=build.get("platform"),  # the legacy builder (no buildx here); see test_images
                tag=tag,
                rm=True,
                labels=self._labels(logical),
            )
            self.log(f"built {tag} in {time.monotonic() - started:.1f}s")
        if inputs.get("skipPush", True):
            return str(image.id), {**inputs, "repoDigest": tag, "imageId": image.id}
        registry = inputs.get("registry") or {}
        login = (
            {"username": registry["username"], "password": registry["password"]}
            if registry.get("username")
            else None
        )
        started = time.monotonic()
        digest = push_image(self.client, tag, login)
        self.log(f"pushed {tag} in {time.monotonic() - started:.1f}s")
        return str(image.id), {**inputs, "repoDigest": digest, "imageId": image.id}

    def _find(self, collection: Any, logical: str) -> Any | None:
        found = collection.list(filters={"label": [f"{RUN_LABEL}={self.run_id}", f"{NAME_LABEL}={logical}"]})
        return found[0] if found else None

    def _network(self, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        network = self._find(self.client.networks, logical)
        if network is None:
            network = self.client.networks.create(
                inputs.get("name") or f"{self.run_id}-{logical}",
                driver=inputs.get("driver", "overlay"),
                internal=bool(inputs.get("internal")),
                attachable=bool(inputs.get("attachable")),
                options=inputs.get("options"),
                labels=self._labels(logical, labels(inputs.get("labels"))),
            )
        network.reload()
        return str(network.id), {**inputs, "name": network.name}

    def _volume(self, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        volume = self.client.volumes.create(
            name=inputs.get("name") or f"{self.run_id}-{logical}",
            driver=inputs.get("driver", "local"),
            labels=self._labels(logical, labels(inputs.get("labels"))),
        )
        return str(volume.name), {**inputs, "name": volume.name}

    def _stored(self, collection: Any, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        """A Swarm secret or config: immutable, so a new value is a new object under a new name."""
        data = inputs.get("data") or base64.b64encode(inputs.get("dataRaw", "").encode()).decode()
        name = (
            inputs.get("name") or f"{self.run_id}-{logical}-{hashlib.sha256(data.encode()).hexdigest()[:12]}"
        )
        existing = collection.list(filters={"name": name})
        exact = [item for item in existing if item.name == name]
        if exact:
            return str(exact[0].id), {**inputs, "name": name}
        created = collection.create(
            name=name, data=base64.b64decode(data), labels=self._labels(logical, labels(inputs.get("labels")))
        )
        return str(created.id), {**inputs, "name": name}

    def _secret(self, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        return self._stored(self.client.secrets, logical, inputs)

    def _config(self, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        return self._stored(self.client.configs, logical, inputs)

    def _service(self, logical: str, inputs: dict[str, Any]) -> tuple[str, Outputs]:
        name = inputs.get("name") or f"{self.run_id}-{logical}"
        spec = service_spec(name, inputs)
        spec["Labels"] = {**spec.get("Labels", {}), **self._labels(logical)}
        existing: Service | None = self._find(self.client.services, logical)
        auth = inputs.get("auth")
        if auth:  # the SDK then sends the login with the service, for the nodes that pull its image
            self.client.login(auth["username"], auth["password"], registry=auth["serverAddress"])
        service_id, created = upsert_service(
            self.client,
            existing,
            spec["TaskTemplate"],
            name=name,
            labels=spec["Labels"],
            mode=spec.get("Mode"),
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )
        converge = inputs.get("convergeConfig")
        if converge:  # without it the provider does not wait at all
            started = time.monotonic()
            wait_like_provider(
                self.client,
                service_id,
                updated=not created,
                delay=(duration_ns(converge.get("delay")) or 0) / 1e9,
                timeout=(duration_ns(converge.get("timeout")) or 0) / 1e9,
            )
            self.log(f"{name}: the provider's wait returned after {time.monotonic() - started:.1f}s")
        return service_id, {**inputs, "name": name}

    # --- clean-up ------------------------------------------------------------------------------
    def prune(self) -> None:
        """Delete what the latest run no longer declares, as Pulumi would: dropped services, replaced
        secrets and configs, except those marked `retain_on_delete` (the deploy command prunes those)."""
        for collection in (self.client.services, self.client.secrets, self.client.configs):
            for item in collection.list(filters={"label": [f"{RUN_LABEL}={self.run_id}", APPLIED_LABEL]}):
                if item.id not in self.declared and RETAINED_LABEL not in item.attrs["Spec"]["Labels"]:
                    item.remove()
                    self.log(f"pruned {item.name}")

    def remove_all(self) -> None:
        """Remove everything the run created, test stubs included (services first: their tasks hold
        the rest). Every removal is tried; the first failure is raised at the end."""
        selector = {"label": f"{RUN_LABEL}={self.run_id}"}
        services = self.client.services.list(filters=selector)
        errors = [error for service in services if (error := _removed(service))]
        ids = {service.id for service in services}
        _wait_gone(lambda: [c for c in self.client.api.containers(all=True) if _service_id(c) in ids])
        # Plain containers a test ran beside the stack (tests/deploy/test_gateway_retries.py).
        containers = self.client.containers.list(all=True, filters=selector, ignore_removed=True)
        errors += [error for container in containers if (error := _removed(container, force=True))]
        for collection in (
            self.client.secrets,
            self.client.configs,
            self.client.volumes,
            self.client.networks,
        ):
            errors += [error for item in collection.list(filters=selector) if (error := _removed(item))]
        if errors:
            raise errors[0]


def push_image(client: docker.DockerClient, name: str, login: dict[str, str] | None = None) -> str:
    """Push `name` (`registry/repository:tag`) as the provider does; its digest (`repository@sha256:…`)."""
    repository, _, tag = name.rpartition(":")
    for line in client.images.push(repository, tag=tag, auth_config=login, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push of {name} failed: {line['error']}")
    digests = client.images.get(name).attrs["RepoDigests"]
    return str(next(digest for digest in digests if digest.startswith(f"{repository}@")))


def upsert_service(
    client: docker.DockerClient, existing: Service | None, task_template: dict[str, Any], **settings: Any
) -> tuple[str, bool]:
    """Create the service, or update `existing` to the new spec; its id, and whether it was created."""
    if existing is None:
        return str(client.api.create_service(task_template, **settings)["ID"]), True
    existing.reload()
    client.api.update_service(existing.id, existing.version, task_template=task_template, **settings)
    return str(existing.id), False


def remove_stale_runs(client: docker.DockerClient, log: Callable[[str], None] = print) -> None:
    """Remove what earlier test runs left behind (a run killed before its clean-up)."""
    runs = {
        item.attrs["Spec"]["Labels"][RUN_LABEL]
        for collection in (client.services, client.secrets, client.configs)
        for item in collection.list(filters={"label": RUN_LABEL})
    }
    runs |= {n.attrs["Labels"][RUN_LABEL] for n in client.networks.list(filters={"label": RUN_LABEL})}
    for run in sorted(runs):
        log(f"removing what test run {run} left behind")
        SwarmApplier(client, run, Path("."), log=log).remove_all()


def _removed(item: Any, **options: Any) -> docker.errors.APIError | None:
    try:
        item.remove(**options)
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        return exc
    return None


def _service_id(container: dict[str, Any]) -> str | None:
    """The service of a container as one listing call returns it (no inspect that could race a removal)."""
    value = (container.get("Labels") or {}).get("com.docker.swarm.service.id")
    return str(value) if value else None


def _wait_gone(listing: Callable[[], list[Any]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while remaining := listing():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(remaining)} containers still there after {timeout:.0f}s")
        time.sleep(0.5)
