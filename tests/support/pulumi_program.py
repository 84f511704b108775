"""Run the Pulumi program (`infra/`) under `pulumi.runtime.set_mocks` and record what it declares.

There is no Pulumi CLI here, so this stands in for it: the stack's config is built the way the CLI
builds it (`Pulumi.yaml` defaults, then `Pulumi.<stack>.yaml`, then the secrets), the program runs
against a mock engine, and every resource it registers is recorded with its inputs (wire names,
camelCase; numbers arrive as floats) and the stack outputs.

The Pulumi runtime keeps global state (settings, config, the root stack), so each stack runs in its own
interpreter: `record_stack` starts `python -m tests.support.pulumi_program` and reads back JSON. Secret
inputs are recorded as `{"__secret__": value}`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from infra.stack_files import PROJECT, plain_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "__secret__"
# Resources whose provider picks a unique name when the program gives none.
AUTONAMED = (
    "docker:index/network:Network",
    "docker:index/secret:Secret",
    "docker:index/serviceConfig:ServiceConfig",
    "docker:index/service:Service",
    "docker:index/volume:Volume",
)


IMAGE = "docker:index/image:Image"


def repo_digest(image_name: str) -> str:
    """A stand-in for the digest the registry gives a pushed image: `repository@sha256:...`."""
    repository = image_name.rpartition(":")[0]
    return f"{repository}@sha256:{hashlib.sha256(image_name.encode()).hexdigest()}"


@dataclass(frozen=True)
class Recording:
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]

    def of_type(self, suffix: str) -> list[dict[str, Any]]:
        """Resources whose type token ends with `suffix`, e.g. `/service:Service`."""
        return [r for r in self.resources if r["type"].endswith(suffix)]

    def services(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r["inputs"] for r in self.of_type("/service:Service")}


def stack_config(stack: str, secrets: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """What the CLI hands the program: declared defaults, the stack file, then the secrets."""
    return plain_settings(stack) | dict(secrets) | dict(overrides)


def program_request(
    stack: str, secrets: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a run of the program needs: the stack, its whole config, and which keys are secret."""
    return {
        "stack": stack,
        "config": stack_config(stack, secrets, overrides or {}),
        "secret_keys": list(secrets),
    }


def run_module(module: str, request: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """`python -m module` in a fresh interpreter, the request as JSON on stdin and the result on stdout.

    Raises RuntimeError with the end of its stderr when it fails; the result carries its stderr as `log`.
    """
    done = subprocess.run(
        [sys.executable, "-m", module],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed for stack {request['stack']}:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["log"] = done.stderr
    return result


def record_stack(
    stack: str, secrets: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Recording:
    """Run the program for `stack` in a fresh interpreter; raise with its stderr if it fails."""
    recorded = run_module("tests.support.pulumi_program", program_request(stack, secrets, overrides), 120)
    return Recording(resources=recorded["resources"], outputs=recorded["outputs"])


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == IMAGE and outputs.get("registry"):
            outputs["repoDigest"] = repo_digest(str(outputs["imageName"]))
        if args.typ in AUTONAMED and "name" not in outputs:
            outputs["name"] = f"{args.name}-{hashlib.sha256(args.name.encode()).hexdigest()[:7]}"
        self.resources.append(
            {
                "type": args.typ,
                "name": args.name,
                "custom": args.custom,
                "inputs": _marked(args.inputs),
            }
        )
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise AssertionError(f"the program should call no function, but called {args.token}")


class OptionsMonitor(MockMonitor):
    """The mock engine, noting the resource options that mocks are never told: which resources the
    program registers with `retain_on_delete` and with `delete_before_replace`, by name."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.retained: set[str] = set()
        self.delete_before_replace: set[str] = set()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the engine's RPC name)
        if request.retainOnDelete:
            self.retained.add(request.name)
        if request.deleteBeforeReplace:
            self.delete_before_replace.add(request.name)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _marked(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return {SECRET: _marked(rpc.unwrap_rpc_secret(value))}
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_marked(item) for item in value]
    return value


def pulumi_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine passes it to programs and policy packs: namespaced keys, string values."""
    return {
        f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
    }


def run_program(request: Mapping[str, Any], monitor: OptionsMonitor) -> dict[str, Any]:
    """Run infra/ for the request's stack and config against `monitor` and its mocks; the stack outputs.

    Only once per interpreter: the Pulumi runtime keeps global state."""
    secret_keys = [f"{PROJECT}:{key}" for key in request["secret_keys"]]
    pulumi.runtime.set_all_config(pulumi_config(request["config"]), secret_keys=secret_keys)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=request["stack"], preview=False, monitor=monitor
    )
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        importlib.import_module("infra.__main__")
        stack_outputs = pulumi.runtime.get_root_resource().outputs  # type: ignore[union-attr]
        return pulumi.Output.all(**stack_outputs).apply(outputs.update)

    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    return outputs


def _record(request: dict[str, Any]) -> dict[str, Any]:
    mocks = RecordingMocks()
    monitor = OptionsMonitor(mocks)
    outputs = run_program(request, monitor)
    for resource in mocks.resources:
        resource["retain_on_delete"] = resource["name"] in monitor.retained
        resource["delete_before_replace"] = resource["name"] in monitor.delete_before_replace
    return {"resources": mocks.resources, "outputs": outputs}


if __name__ == "__main__":
    argparse.ArgumentParser(
        description="Record the program's resources for the stack request on stdin."
    ).parse_args()
    json.dump(_record(json.load(sys.stdin)), sys.stdout)
