"""Run the policies over recorded resources the way the engine would, without the engine.

For tests of the Pulumi program: record its resources under `pulumi.runtime.set_mocks` as
`(type, name, props, opts)`, add the stack outputs as a `pulumi:pulumi:Stack` record whose props are
the outputs, and `run_policies(records)` returns every violation. Props go through pulumi_policy's
own deserialisation first, so secret-wrapped values reach the policies unwrapped, as in the engine.
Every resource policy sees every record but the Stack's (whose only props, the outputs, come
after the engine's per-resource checks); every stack policy sees all of them at once.

Like the pack, the policies read `PULUMI_CONFIG` (the stack config, secrets in plain text),
`PULUMI_STACK` and `CEK_POLICIES_PROJECT_FILE` from the environment: set them as the engine would.
Mocks do not see resource options: give a docker.Secret `resource_options(["data"])`, as
pulumi_docker does, or capture `additionalSecretOutputs` with a `MockMonitor`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from policies.project import stack_name
from policies.rules import ALL_POLICIES
from policies.workloads import STACK

# `(type token, resource name, props, options)`; props as the mocks record them (camelCase).
Record = tuple[str, str, Mapping[str, Any], PolicyResourceOptions | None]


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.policy} ({self.resource}): {self.message}"


def resource_options(additional_secret_outputs: Sequence[str] = ()) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(additional_secret_outputs),
    )


def _resource(record: Record) -> PolicyResource:
    resource_type, name, props, opts = record
    urn = f"urn:pulumi:{stack_name() or 'test'}::cek-proxy::{resource_type}::{name}"
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(deserialize_properties(dict(props))),
        urn,
        name,
        opts or resource_options(),
        None,
        None,
        [],
        {},
    )


def _collector(
    violations: list[Violation], policy: str, resource: str, names: Mapping[str, str]
) -> ReportViolation:
    def report_violation(message: str, urn: str | None) -> None:
        violations.append(Violation(policy, names.get(urn or "", resource), message))

    return report_violation


def run_policies(
    records: Iterable[Record],
    policies: Sequence[Policy] = ALL_POLICIES,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """Every violation of `policies` (policy config by policy name, as `--policy-pack-config` gives it)."""
    resources = [_resource(record) for record in records]
    # The root Stack resource has no inputs: its props here are the stack outputs, for stack policies.
    inputs = [resource for resource in resources if resource.resource_type != STACK]
    names = {resource.urn: resource.name for resource in resources}
    violations: list[Violation] = []
    for policy in policies:
        policy_config = (config or {}).get(policy.name, {})
        if isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(resources, policy_config)
            policy.validate(args, _collector(violations, policy.name, "", names))
        elif isinstance(policy, ResourceValidationPolicy):
            for resource in inputs:
                resource_args = ResourceValidationArgs(
                    resource.resource_type,
                    resource.props,
                    resource.urn,
                    resource.name,
                    resource.opts,
                    None,
                    policy_config,
                )
                policy.validate(resource_args, _collector(violations, policy.name, resource.name, names))
    return violations
