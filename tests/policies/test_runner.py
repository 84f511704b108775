"""run_policies: every policy over recorded resources, as the engine would run them."""

from __future__ import annotations

from policies.rules import ALL_POLICIES
from policies.runner import Violation, run_policies
from policies.workloads import SERVICE, STACK
from tests.policies.support import (
    CHATBOT_SECRET,
    STACK_OUTPUTS,
    changed,
    compliant_records,
    proxy_service,
    spec,
    wrapped_secret,
)


def test_the_sample_program_passes_every_policy() -> None:
    assert run_policies(compliant_records()) == []


def test_every_policy_runs() -> None:
    """Each policy finds its own planted problem in one record set."""
    env = {
        "CEK_PROXY_CHATBOT_SECRET": CHATBOT_SECRET,
        "CEK_PROXY_CEK_PUBLIC_KEY_URL": "https://keys.example.test/k.pem",
    }
    leaky_proxy = changed(
        proxy_service(),
        lambda p: (
            spec(p).update(image="cek-proxy:latest", user="root", env=env),
            p.update(endpointSpec={"ports": [{"targetPort": 8080.0}]}),
        ),
    )
    records = [
        *compliant_records(),
        (SERVICE, "leaky-proxy", leaky_proxy, None),
        ("docker:index/secret:Secret", "unmarked", {"data": "eA=="}, None),
        (
            "docker:index/serviceConfig:ServiceConfig",
            "keys",
            {"dataRaw": "-----BEGIN EC PRIVATE KEY-----"},
            None,
        ),
        ("docker:index/container:Container", "debug", {"image": "busybox:1.36", "privileged": True}, None),
    ]
    found = run_policies(records, config={"prod-proxy-trusts-only-clova-key": {"strictStacks": ["dev"]}})
    assert {violation.policy for violation in found} == {policy.name for policy in ALL_POLICIES}
    assert {violation.resource for violation in found} == {"leaky-proxy", "unmarked", "keys", "debug"}
    assert all(CHATBOT_SECRET not in str(violation) for violation in found)


def test_violations_name_the_policy_and_the_resource() -> None:
    records = [(STACK, "cek-proxy-dev", {**STACK_OUTPUTS, "oops": CHATBOT_SECRET}, None)]
    assert run_policies(records) == [
        Violation(
            "secret-config-not-in-stack",
            "cek-proxy-dev",
            "the value of secret config cek-proxy:chatbotSecret appears (raw) in stack output oops",
        )
    ]


def test_secret_wrapped_props_reach_the_policies_unwrapped() -> None:
    """Mocks (and the engine) send secrets wrapped; the policies must still see through them."""
    props = changed(
        proxy_service(), lambda p: p["labels"].append(wrapped_secret({"label": "x", "value": CHATBOT_SECRET}))
    )
    found = run_policies([(SERVICE, "proxy", props, None)])
    assert [violation.policy for violation in found] == [
        "secret-config-not-in-resources",
        "secret-config-not-in-stack",
    ]
