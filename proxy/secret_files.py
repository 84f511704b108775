"""Secrets come only from files (Swarm secrets under /run/secrets, or any `*_FILE` path).

A secret given as a plain environment variable would show up in `docker inspect`, in
`/proc/<pid>/environ` and in crash reports, so the proxy refuses to start when it sees one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

ENV_PREFIX = "CEK_PROXY_"

# Settings whose value is a secret: each is accepted only as `<NAME>_FILE`.
SECRET_SETTINGS = (
    "CHATBOT_SECRET",
    "ACTION_KEY",
    "TOKEN_KEY",
    "TOKEN_STORE_PASSWORD",
    "USER_ID_KEY",
)

MAX_SECRET_BYTES = 64 * 1024


class SecretFileError(ValueError):
    """A secret file is missing, unreadable, empty or too large (the message never holds its content)."""


def plain_secret_variables(environ: Mapping[str, str]) -> list[str]:
    """Messages for every secret given as a plain environment variable."""
    return [
        f"{ENV_PREFIX}{name}: secrets are not accepted in environment variables; "
        f"write it to a file and set {ENV_PREFIX}{name}_FILE to that path"
        for name in SECRET_SETTINGS
        if f"{ENV_PREFIX}{name}" in environ
    ]


def read_secret_file(path: str | Path) -> SecretStr:
    """Read one secret, dropping the trailing newline that `echo` and editors add."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SECRET_BYTES:
            raise SecretFileError(f"secret file {file} is larger than {MAX_SECRET_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SecretFileError(f"secret file {file} does not exist") from exc
    except PermissionError as exc:
        raise SecretFileError(f"secret file {file} is not readable by this user") from exc
    except UnicodeDecodeError as exc:
        raise SecretFileError(f"secret file {file} is not UTF-8 text") from exc
    except OSError as exc:
        raise SecretFileError(f"secret file {file} cannot be read ({exc.strerror})") from exc
    value = text.removesuffix("\n").removesuffix("\r")
    if not value:
        raise SecretFileError(f"secret file {file} is empty")
    return SecretStr(value)
