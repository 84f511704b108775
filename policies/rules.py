"""The policies: secrets only in Swarm secrets, and a hardened proxy behind the one gateway.

Each rule is a plain function `(args, report_violation)`; `ALL_POLICIES` wraps them for the pack
(`__main__.py`), the tests and `runner.run_policies`. Policies see secret values unwrapped and cannot
tell which were secret, so messages name keys, properties and forms, never a value.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.detect import (
    DEFAULT_SECRET_NAME_PATTERNS,
    compile_name_patterns,
    encoded_forms,
    name_looks_secret,
    secret_value_kind,
)
from policies.project import (
    PROJECT_FILE_ENV,
    PolicyInputError,
    load_project,
    project_file,
    stack_config,
    stack_name,
)
from policies.workloads import (
    IMAGE,
    PROXY_ENV_PREFIX,
    REMOTE_IMAGE,
    ROLE_LABEL,
    SERVICE,
    SERVICE_CONFIG,
    STACK,
    SWARM_SECRET,
    Roles,
    Workload,
    leaves,
)

SECRETS_DIR = "/run/secrets/"
DEFAULT_MIN_SECRET_LENGTH = 8
DEFAULT_STRICT_STACKS = ("prod",)
# The key the proxy package ships (`proxy/data/...`), wherever the package is installed in the image.
SHIPPED_CEK_KEY_SUFFIX = "/proxy/data/clova-signature-public-key.pem"
CLOVA_KEY_URLS = frozenset(
    {
        "https://clova.ai/.well-known/signature-public-key.pem",
        "https://clova-cek-requests.line.me/.well-known/signature-public-key.pem",
    }
)

_ValidationArgs = ResourceValidationArgs | StackValidationArgs
# `(config key, form, needle)`: a text holding the needle holds that key's value in that form.
Needles = list[tuple[str, str, str]]


# Policy configuration (`pulumi preview --policy-pack-config`), with the defaults the code applies.


def _setting(args: _ValidationArgs, key: str, default: Any) -> Any:
    return args.get_config().get(key, default)


def _roles(args: _ValidationArgs) -> Roles:
    return Roles(
        str(_setting(args, "roleLabel", ROLE_LABEL)), str(_setting(args, "proxyEnvPrefix", PROXY_ENV_PREFIX))
    )


_ROLE_SCHEMA: dict[str, dict[str, Any]] = {
    "roleLabel": {
        "type": "string",
        "default": ROLE_LABEL,
        "description": "Label (on a service or its container) whose value, proxy or gateway, names the role.",
    },
    "proxyEnvPrefix": {
        "type": "string",
        "default": PROXY_ENV_PREFIX,
        "description": "A workload with an environment variable of this prefix is the proxy.",
    },
}


# 1. Secret-looking environment variables


def _secret_in_file(value: str) -> bool:
    return value.startswith("/") and posixpath.normpath(value).startswith(SECRETS_DIR)


def _env_problem(name: str, value: str, patterns: Sequence[Any]) -> str | None:
    if name.endswith("_FILE") and name_looks_secret(name.removesuffix("_FILE"), patterns):
        return None if _secret_in_file(value) else f"points outside {SECRETS_DIR}"
    if name_looks_secret(name, patterns):
        return "has a secret-looking name and a literal value"
    kind = secret_value_kind(value)
    return f"has a value that looks like {kind}" if kind else None


def no_literal_secret_env(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    workload = Workload.of(args.resource_type, args.props)
    if workload is None:
        return
    patterns = compile_name_patterns(_setting(args, "secretEnvPatterns", DEFAULT_SECRET_NAME_PATTERNS))
    for name, value in workload.env:
        problem = _env_problem(name, value, patterns)
        if problem:
            report_violation(f"environment variable {name} {problem}", None)


# 2. Values of the config keys Pulumi.yaml declares secret


def _secret_needles(args: _ValidationArgs) -> Needles:
    """`(config key, form, needle)` for every declared-secret value the stack sets."""
    min_length = int(_setting(args, "minSecretLength", DEFAULT_MIN_SECRET_LENGTH))
    project = load_project(project_file())
    config = stack_config()
    return [
        (key, form, needle)
        for key in sorted(project.secret_keys)
        if len(value := config.get(key, "")) >= min_length
        for form, needle in encoded_forms(value)
    ]


# Where a secret config value may be: any in a docker.Secret's data; the registry password only
# where the provider logs in to push (an Image's registry) and where Swarm gets it to pull (a
# Service's auth, which the engine keeps out of the service's inspect).
ALLOWED_SECRET_PLACES: Mapping[tuple[str, str], frozenset[str] | None] = {
    (SWARM_SECRET, "data"): None,
    (IMAGE, "registry.password"): frozenset({"registryPassword"}),
    (SERVICE, "auth.password"): frozenset({"registryPassword"}),
}


def _allowed(resource_type: str, path: str, key: str) -> bool:
    if (resource_type, path) not in ALLOWED_SECRET_PLACES:
        return False
    keys = ALLOWED_SECRET_PLACES[(resource_type, path)]
    return keys is None or key.rpartition(":")[2] in keys  # `cek-proxy:registryPassword` or bare


def _leaks(resource_type: str, props: Mapping[str, Any], needles: Needles) -> Iterator[str]:
    """Messages for every property holding a secret value outside `ALLOWED_SECRET_PLACES`."""
    for path, value in leaves(props):
        if not isinstance(value, str):
            continue
        found: dict[str, str] = {}
        for key, form, needle in needles:
            if needle in value and not _allowed(resource_type, path, key):
                found.setdefault(key, form)
        for key, form in found.items():
            where = f"stack output {path}" if resource_type == STACK else f"property {path}"
            yield f"the value of secret config {key} appears ({form}) in {where}"


def _input_problem(exc: PolicyInputError) -> str:
    return f"cannot check for secret values: {exc}; set {PROJECT_FILE_ENV} to the project's Pulumi.yaml"


def secret_config_not_in_resources(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    try:
        needles = _secret_needles(args)
    except PolicyInputError as exc:
        report_violation(_input_problem(exc), None)
        return
    for message in _leaks(args.resource_type, args.props, needles):
        report_violation(message, None)


def secret_config_not_in_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    try:
        needles = _secret_needles(args)
    except PolicyInputError as exc:
        report_violation(_input_problem(exc), None)
        return
    for resource in args.resources:
        for message in _leaks(resource.resource_type, resource.props, needles):
            report_violation(message, resource.urn)


# 3. Swarm secrets and configs


def swarm_secret_data_is_secret(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SWARM_SECRET and "data" not in args.opts.additional_secret_outputs:
        report_violation("data is not in additional_secret_outputs", None)


def _decoded(data: str) -> str:
    """A ServiceConfig's `data` (base64, URL-safe or not) as text; the string itself if not base64."""
    padded = data.translate(str.maketrans("-_", "+/")) + "=" * (-len(data) % 4)
    try:
        blob = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return data
    return blob.decode("utf-8", errors="replace")


def no_secrets_in_swarm_configs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVICE_CONFIG:
        return
    data, data_raw = args.props.get("data"), args.props.get("dataRaw")
    texts = {"data": _decoded(data) if isinstance(data, str) else None, "dataRaw": data_raw}
    for field, text in texts.items():
        kind = secret_value_kind(text) if isinstance(text, str) else None
        if kind:
            report_violation(f"{field} holds what looks like {kind}", None)


# 4. Hardening


def no_privileged_containers(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    workload = Workload.of(args.resource_type, args.props)
    if workload is not None and workload.privileged:
        report_violation("privileged is true", None)


def _hardening_problems(workload: Workload) -> Iterator[str]:
    if workload.user.partition(":")[0] in ("", "0", "root"):
        yield f"runs as root (user {workload.user!r}); set user to a non-root uid:gid such as 10001:10001"
    if not workload.read_only:
        yield "has a writable root filesystem; set readOnly (read_only=True)"
    if workload.cap_adds:
        yield f"adds capabilities {', '.join(workload.cap_adds)}; remove them"
    if "ALL" not in (cap.upper() for cap in workload.cap_drops):
        yield 'does not drop all capabilities; set capDrops (cap_drops) to ["ALL"]'


def proxy_runs_hardened(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    workload = Workload.of(args.resource_type, args.props)
    if workload is None or not _roles(args).is_proxy(workload):
        return
    for problem in _hardening_problems(workload):
        report_violation(f"the proxy {problem}", None)


def only_gateway_publishes_ports(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    workload = Workload.of(args.resource_type, args.props)
    if workload is None or not workload.port_count or _roles(args).is_gateway(workload):
        return
    report_violation(f"publishes {workload.port_count} port(s) but is not the gateway", None)


_IMAGE_NAME_FIELDS = {IMAGE: "imageName", REMOTE_IMAGE: "name"}


def _image_ref(resource_type: str, props: Mapping[str, Any]) -> Any:
    workload = Workload.of(resource_type, props)
    if workload is not None:
        return workload.image
    field = _IMAGE_NAME_FIELDS.get(resource_type)
    return props.get(field) if field else None


def _unpinned(ref: str) -> str | None:
    """Why an image reference floats (no tag, or `latest`), or None when it is pinned."""
    if "@" in ref or ref.startswith("sha256:"):
        return None
    name = ref.rsplit("/", 1)[-1]
    if ":" not in name:
        return "has no tag, so Docker uses latest"
    return "uses the latest tag" if name.rsplit(":", 1)[1] == "latest" else None


def no_latest_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ref = _image_ref(args.resource_type, args.props)
    problem = _unpinned(ref) if isinstance(ref, str) else None
    if problem:
        report_violation(f"image {ref} {problem}", None)


def _untrusted_cek_keys(env: Mapping[str, str]) -> Iterator[str]:
    for path in filter(None, (p.strip() for p in env.get("CEK_PROXY_CEK_PUBLIC_KEY_FILES", "").split(","))):
        if not path.endswith(SHIPPED_CEK_KEY_SUFFIX):
            yield f"CEK_PROXY_CEK_PUBLIC_KEY_FILES trusts {path}"
    url = env.get("CEK_PROXY_CEK_PUBLIC_KEY_URL", "").strip()
    if url and url not in CLOVA_KEY_URLS:
        yield f"CEK_PROXY_CEK_PUBLIC_KEY_URL is {url}"


def prod_proxy_trusts_only_clova_key(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if stack_name() not in _setting(args, "strictStacks", DEFAULT_STRICT_STACKS):
        return
    workload = Workload.of(args.resource_type, args.props)
    if workload is None or not _roles(args).is_proxy(workload):
        return
    for problem in _untrusted_cek_keys(dict(workload.env)):
        report_violation(f"in stack {stack_name()}, {problem}", None)


def _policy(name: str, description: str, validate: Any, schema: dict[str, Any] | None = None) -> Policy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties=schema) if schema else None,
    )


_LEAK_DESCRIPTION = (
    "A secret config value (of a key Pulumi.yaml declares `secret: true`) appears, raw or encoded, "
    "in {where}. Secrets may only be a docker.Secret's data: read them with require_secret, give them "
    "to a docker.Secret, mount that as a file, and never put them in env, labels, args, names or outputs."
)
_LEAK_SCHEMA: dict[str, Any] = {
    "minSecretLength": {
        "type": "integer",
        "default": DEFAULT_MIN_SECRET_LENGTH,
        "description": "Secret values shorter than this are not searched for (they would match too much).",
    },
}

ALL_POLICIES: list[Policy] = [
    _policy(
        "no-literal-secret-env",
        "A docker.Service or docker.Container has a secret in an environment variable. Secrets must never be "
        "env values: create a docker.Secret, mount it (taskSpec.containerSpec.secrets, fileName under "
        "/run/secrets/) and pass only its path, as <NAME>_FILE=/run/secrets/<file>.",
        no_literal_secret_env,
        {
            "secretEnvPatterns": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_SECRET_NAME_PATTERNS),
                "description": "Case-insensitive regexes for secret variable names, in UPPER_SNAKE.",
            },
        },
    ),
    _policy(
        "secret-config-not-in-resources",
        _LEAK_DESCRIPTION.format(where="a resource's inputs"),
        secret_config_not_in_resources,
        _LEAK_SCHEMA,
    ),
    StackValidationPolicy(
        name="secret-config-not-in-stack",
        description=_LEAK_DESCRIPTION.format(where="the deployed resources or the stack outputs"),
        validate=secret_config_not_in_stack,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties=_LEAK_SCHEMA),
    ),
    _policy(
        "swarm-secret-data-is-secret",
        "A docker.Secret's data is not marked secret. Create it from a secret Output (config.require_secret) "
        'and keep "data" in additional_secret_outputs so it stays encrypted in the state.',
        swarm_secret_data_is_secret,
    ),
    _policy(
        "no-secrets-in-swarm-configs",
        "A docker.ServiceConfig holds a private key, token or password. Swarm configs are not encrypted: "
        "put the secret part in a docker.Secret and mount it as a file instead.",
        no_secrets_in_swarm_configs,
    ),
    _policy(
        "no-privileged-containers",
        "A docker.Container runs privileged. Remove privileged=True and grant nothing beyond what it needs.",
        no_privileged_containers,
    ),
    _policy(
        "proxy-runs-hardened",
        "The proxy (label cek-proxy.role=proxy, or CEK_PROXY_* variables) must run as a non-root user, "
        "with a read-only root filesystem, no added capability and all dropped: set user, read_only and "
        'cap_drops=["ALL"] on its container spec, and remove cap_adds.',
        proxy_runs_hardened,
        _ROLE_SCHEMA,
    ),
    _policy(
        "only-gateway-publishes-ports",
        "Only the gateway (label cek-proxy.role=gateway) may publish ports. Remove endpoint_spec.ports "
        "(or a container's ports) and reach the service over the internal overlay network instead.",
        only_gateway_publishes_ports,
        _ROLE_SCHEMA,
    ),
    _policy(
        "no-latest-images",
        "An image reference has no tag or uses :latest, so what runs can change without a deploy. "
        "Pin a version tag (caddy:2.8.4) or a digest (name@sha256:...), e.g. the built image's repo_digest.",
        no_latest_images,
    ),
    _policy(
        "prod-proxy-trusts-only-clova-key",
        "In a production stack the proxy must trust only CLOVA's signing key. Leave "
        "CEK_PROXY_CEK_PUBLIC_KEY_FILES unset (the shipped key), and set CEK_PROXY_CEK_PUBLIC_KEY_URL, "
        "if at all, to https://clova.ai/.well-known/signature-public-key.pem or "
        "https://clova-cek-requests.line.me/.well-known/signature-public-key.pem.",
        prod_proxy_trusts_only_clova_key,
        {
            **_ROLE_SCHEMA,
            "strictStacks": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_STRICT_STACKS),
                "description": "Stacks in which the proxy may trust only CLOVA's key.",
            },
        },
    ),
]
