"""Settings are validated once at start-up; a bad one stops the start with a message naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.settings import Mode, SettingsError, load_settings
from tests.proxy.conftest import CHATBOT_SECRET


def _problems(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    return str(caught.value)


def test_the_base_settings_load(base_env: dict[str, str]) -> None:
    settings = load_settings(base_env)
    assert settings.mode is Mode.BRIDGE
    assert str(settings.listen) == "0.0.0.0:8080"
    assert settings.max_body_bytes == 64 * 1024
    assert settings.upstream_timeout == 5.0


def test_settings_never_show_secrets(base_env: dict[str, str]) -> None:
    settings = load_settings(base_env)
    assert CHATBOT_SECRET not in repr(settings)
    assert CHATBOT_SECRET not in str(settings)
    assert settings.chatbot_secret is not None
    assert settings.chatbot_secret.get_secret_value() == CHATBOT_SECRET  # trailing newline dropped


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CEK_PROXY_EXTENSION_IDS": None}, "CEK_PROXY_EXTENSION_IDS: Field required"),
        ({"CEK_PROXY_EXTENSION_IDS": " , "}, "CEK_PROXY_EXTENSION_IDS"),
        ({"CEK_PROXY_LISTEN": "8080"}, "CEK_PROXY_LISTEN: Value error, must be host:port"),
        ({"CEK_PROXY_MODE": "mirror"}, "CEK_PROXY_MODE"),
        (
            {"CEK_PROXY_CHATBOT_URL": "http://chatbot.example/x"},
            "CEK_PROXY_CHATBOT_URL: Value error, must use https",
        ),
        ({"CEK_PROXY_CHATBOT_URL": "https://u:p@chatbot.example/x"}, "must not carry credentials"),
        ({"CEK_PROXY_CHATBOT_URL": None}, "CEK_PROXY_CHATBOT_URL: required when CEK_PROXY_MODE=bridge"),
        (
            {"CEK_PROXY_CHATBOT_SECRET_FILE": "/nonexistent/secret"},
            "CEK_PROXY_CHATBOT_SECRET_FILE: secret file",
        ),
        (
            {"CEK_PROXY_CEK_PUBLIC_KEY_FILES": "/nonexistent.pem"},
            "CEK_PROXY_CEK_PUBLIC_KEY_FILES: /nonexistent.pem",
        ),
        ({"CEK_PROXY_UPSTREAM_TIMEOUT": "30"}, "CEK_PROXY_UPSTREAM_TIMEOUT"),
        ({"CEK_PROXY_MAX_BODY_BYTES": "lots"}, "CEK_PROXY_MAX_BODY_BYTES"),
        ({"CEK_PROXY_LOG_LEVEL": "chatty"}, "CEK_PROXY_LOG_LEVEL"),
        ({"CEK_PROXY_LISTN": "0.0.0.0:1"}, "CEK_PROXY_LISTN: unknown setting"),
        (
            {"CEK_PROXY_MODE": "passthrough"},
            "CEK_PROXY_PASSTHROUGH_URL: required when CEK_PROXY_MODE=passthrough",
        ),
    ],
)
def test_a_bad_setting_is_named(base_env: dict[str, str], change: dict[str, str | None], named: str) -> None:
    environ = {k: v for k, v in {**base_env, **change}.items() if v is not None}
    assert named in _problems(environ)


def test_a_secret_in_a_plain_variable_is_refused_and_points_to_the_file_form(
    base_env: dict[str, str],
) -> None:
    message = _problems({**base_env, "CEK_PROXY_CHATBOT_SECRET": "s3cr3t-in-env"})
    assert "CEK_PROXY_CHATBOT_SECRET: secrets are not accepted in environment variables" in message
    assert "CEK_PROXY_CHATBOT_SECRET_FILE" in message
    assert "s3cr3t-in-env" not in message


def test_an_empty_secret_file_is_refused(base_env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "is empty" in _problems({**base_env, "CEK_PROXY_CHATBOT_SECRET_FILE": str(empty)})


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("default_language = 'de'", "default_language"),
        ("[messages.apology]\nfr = 'Désolé'", "messages.apology.fr: unknown key"),
        ("[messages.menu]\nko = 'no placeholder'", "messages.menu"),
        ("[utterances.intents.Ask]\ntemplates = ['{slot.__class__}']", "utterances.intents.Ask.templates.0"),
        ("[conversaton]\nend_intents = []", "conversaton: unknown key"),
        ("this is = not toml =", "is not valid TOML"),
    ],
)
def test_a_bad_config_file_key_is_named(
    base_env: dict[str, str], tmp_path: Path, toml: str, named: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    assert named in _problems({**base_env, "CEK_PROXY_CONFIG_FILE": str(path)})


def test_several_workers_with_actions_need_a_shared_token_store(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    config, key = tmp_path / "actions.toml", tmp_path / "action-key"
    config.write_text('[actions.orders]\nurl = "https://backend.example/orders"\n')
    key.write_text("k" * 20)
    environ = {
        **base_env,
        "CEK_PROXY_REUSE_PORT": "true",
        "CEK_PROXY_CONFIG_FILE": str(config),
        "CEK_PROXY_ACTION_KEY_FILE": str(key),
    }
    assert "CEK_PROXY_TOKEN_STORE_URL" in _problems(environ)


def test_all_problems_are_reported_at_once(base_env: dict[str, str]) -> None:
    environ = {
        **base_env,
        "CEK_PROXY_CHATBOT_SECRET_FILE": "/missing",
        "CEK_PROXY_CEK_PUBLIC_KEY_FILES": "/missing.pem",
    }
    message = _problems(environ)
    assert "CEK_PROXY_CHATBOT_SECRET_FILE" in message
    assert "CEK_PROXY_CEK_PUBLIC_KEY_FILES" in message


def test_messages_configured_for_one_language_keep_the_others(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[messages.goodbye]\nko = '안녕히 가세요.'\n")
    messages = load_settings({**base_env, "CEK_PROXY_CONFIG_FILE": str(path)}).config.messages
    assert messages.goodbye["ko"] == "안녕히 가세요."
    assert messages.goodbye["en"] == "Goodbye."


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_config_passes_good_settings_and_fails_bad_ones(base_env: dict[str, str]) -> None:
    good = _cli("check-config", env=base_env)
    assert good.returncode == 0, good.stderr
    assert "settings are valid" in good.stdout
    bad = _cli("check-config", env={**base_env, "CEK_PROXY_MODE": "mirror"})
    assert bad.returncode == 1
    assert "CEK_PROXY_MODE" in bad.stderr


def test_serve_refuses_to_start_with_bad_settings(base_env: dict[str, str]) -> None:
    result = _cli(env={**base_env, "CEK_PROXY_CHATBOT_SECRET": "plain"})
    assert result.returncode == 2
    assert "CEK_PROXY_CHATBOT_SECRET_FILE" in result.stderr
