"""The stack-config pre-check: plain-text secrets in Pulumi.yaml or a stack file fail it, by file and
key, without their value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from policies import check_config
from tests.policies.support import ACTION_KEY, CHATBOT_SECRET, PROJECT_YAML

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD_STACK = """\
encryptionsalt: v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy
config:
  cek-proxy:domain: cek.example.test
  cek-proxy:replicas: "2"
  cek-proxy:chatbotSecret:
    secure: v1:bm9uY2U=:Y2lwaGVydGV4dA==
  cek-proxy:actionKey:
    secure: v1:bm9uY2UK:Y2lwaGVydGV4dAo=
"""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML)
    (tmp_path / "Pulumi.dev.yaml").write_text(GOOD_STACK)
    return tmp_path


def _run(paths: list[Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = check_config.main([str(path) for path in paths])
    captured = capsys.readouterr()
    assert CHATBOT_SECRET not in captured.out + captured.err
    assert ACTION_KEY not in captured.out + captured.err
    return status, captured.err


def test_a_clean_project_passes(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, errors = _run([project_dir / "Pulumi.yaml", project_dir / "Pulumi.dev.yaml"], capsys)
    assert (status, errors) == (0, "")


def test_a_plaintext_secret_in_a_stack_file_fails(
    project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = project_dir / "Pulumi.prod.yaml"
    stack.write_text(
        f"config:\n  cek-proxy:domain: cek.example.com\n  cek-proxy:chatbotSecret: {CHATBOT_SECRET}\n"
    )
    status, errors = _run([stack], capsys)
    assert status == 1
    assert errors.splitlines() == [
        f"{stack}: cek-proxy:chatbotSecret: stored as plain text but it is declared `secret: true` in "
        "Pulumi.yaml; set it with `pulumi config set --secret cek-proxy:chatbotSecret`"
    ]


@pytest.mark.parametrize(
    ("config", "key", "reason"),
    [
        # Declared in Pulumi.yaml without the namespace prefix.
        (f"cek-proxy:actionKey: {ACTION_KEY}", "cek-proxy:actionKey", "it is declared `secret: true`"),
        (f"cek-proxy:adminPassword: {CHATBOT_SECRET}", "cek-proxy:adminPassword", "its name looks secret"),
        (f"cek-proxy:db:\n    password: {CHATBOT_SECRET}", "cek-proxy:db.password", "its name looks secret"),
        (f"cek-proxy:banner: ghp_{'x1' * 18}", "cek-proxy:banner", "the value looks like a GitHub token"),
        (
            "cek-proxy:banner: AKIAIOSFODNN7EXAMPLE",
            "cek-proxy:banner",
            "the value looks like an AWS access key id",
        ),
        (
            f"cek-proxy:banner: sk-{CHATBOT_SECRET}",
            "cek-proxy:banner",
            "the value looks like an API secret key",
        ),
        (
            "cek-proxy:banner: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZw",
            "cek-proxy:banner",
            "the value looks like a JSON Web Token",
        ),
        (
            "cek-proxy:tls: |\n"
            + "    -----BEGIN RSA PRIVATE KEY-----\n    MIIB\n    -----END RSA PRIVATE KEY-----",
            "cek-proxy:tls",
            "the value looks like a PEM private key",
        ),
        (
            f"docker:host: ssh://deploy:{CHATBOT_SECRET}@swarm.example",
            "docker:host",
            "the value looks like credentials",
        ),
    ],
)
def test_secret_looking_plain_values_fail(
    project_dir: Path, capsys: pytest.CaptureFixture[str], config: str, key: str, reason: str
) -> None:
    stack = project_dir / "Pulumi.staging.yaml"
    stack.write_text(f"config:\n  {config}\n")
    status, errors = _run([stack], capsys)
    assert status == 1
    assert errors.startswith(f"{stack}: {key}: stored as plain text but {reason}")


@pytest.mark.parametrize(
    ("declaration", "problem"),
    [
        (
            "cek-proxy:userIdKey: {type: string, secret: true, default: abc}",
            "cek-proxy:userIdKey: declared `secret: true` but has a default",
        ),
        (
            "cek-proxy:redisPassword: {type: string}",
            "cek-proxy:redisPassword: looks secret but is not declared",
        ),
        (
            "cek-proxy:motd: AKIAIOSFODNN7EXAMPLE",
            "cek-proxy:motd: plain-text default but the value looks like",
        ),
    ],
)
def test_secret_mistakes_in_pulumi_yaml_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], declaration: str, problem: str
) -> None:
    project = tmp_path / "Pulumi.yaml"
    project.write_text(f"{PROJECT_YAML}  {declaration}\n")
    status, errors = _run([project], capsys)
    assert status == 1
    assert errors.splitlines()[0].startswith(f"{project}: {problem}")


def test_invalid_yaml_fails_without_quoting_it(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = project_dir / "Pulumi.bad.yaml"
    stack.write_text(f"config:\n  cek-proxy:chatbotSecret: [{CHATBOT_SECRET}\n")
    status, errors = _run([stack], capsys)
    assert (status, errors) == (1, f"{stack}: not valid YAML (line 3)\n")


def test_a_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, errors = _run([tmp_path / "Pulumi.dev.yaml"], capsys)
    assert status == 1
    assert "cannot be read" in errors


def test_with_no_paths_it_checks_the_repository_files(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(check_config, "REPO_ROOT", project_dir)
    (project_dir / "Pulumi.prod.yaml").write_text(f"config:\n  cek-proxy:chatbotSecret: {CHATBOT_SECRET}\n")
    status, errors = _run([], capsys)
    assert status == 1
    assert errors.startswith(f"{project_dir / 'Pulumi.prod.yaml'}: cek-proxy:chatbotSecret:")


def test_with_no_files_there_is_nothing_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(check_config, "REPO_ROOT", tmp_path / "empty")
    assert check_config.main([]) == 0
    assert "nothing to check" in capsys.readouterr().out


def test_the_repositorys_own_config_passes() -> None:
    """What scripts/test runs: `python -m policies.check_config` in the repository root."""
    result = subprocess.run(
        [sys.executable, "-m", "policies.check_config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stack config pre-check:")
