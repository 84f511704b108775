"""What looks like a secret: names, values, and the encoded forms a known secret value can take.

Shared by the policies and the stack-config pre-check. Nothing here returns or formats a secret
value: callers get a kind ("a PEM private key") or a form ("base64") to name in their messages.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

# Regular expressions (case-insensitive, searched) for names of variables and config keys that hold
# secrets. They see the name in UPPER_SNAKE form (`chatbotSecret` is matched as `CHATBOT_SECRET`).
DEFAULT_SECRET_NAME_PATTERNS: tuple[str, ...] = (
    r"SECRET",
    r"PASSWORD|PASSWD|PASSPHRASE",
    r"(^|_)PASS$",
    r"TOKEN$",
    r"(^|(?<!PUBLIC)_)KEY$",
    r"APIKEY",
    r"PRIVATE",
    r"CREDENTIAL",
    r"(^|_)AUTH$",
)

# What a secret value looks like, whatever it is called.
_SECRET_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a PEM private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("an API secret key", re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|[rs]k_live_[A-Za-z0-9]{16,})")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}")),
    ("a bearer or basic credential", re.compile(r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/-]{16,}=*")),
    ("credentials in a URL", re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/:@]*:[^\s/@]+@")),
    (
        "a password assignment",
        re.compile(
            r"(?im)\b(?:password|passwd|passphrase|secret|api[_-]?key|token)[\"']?\s*[:=]\s*[\"']?[^\s\"'<>{}$]{4,}"
            r"|^\s*(?:requirepass|masterauth)\s+\S"
        ),
    ),
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def upper_snake(name: str) -> str:
    """`chatbotSecret`, `chatbot-secret` and `CHATBOT_SECRET` all become `CHATBOT_SECRET`."""
    return _NOT_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", name)).strip("_").upper()


def compile_name_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


DEFAULT_NAME_PATTERNS = compile_name_patterns(DEFAULT_SECRET_NAME_PATTERNS)


def name_looks_secret(name: str, patterns: Sequence[re.Pattern[str]] = DEFAULT_NAME_PATTERNS) -> bool:
    """Whether a variable or config key name says it holds a secret."""
    normalized = upper_snake(name)
    return any(pattern.search(normalized) for pattern in patterns)


def secret_value_kind(text: str) -> str | None:
    """What kind of secret `text` looks like (for a message), or None."""
    for kind, pattern in _SECRET_VALUE_PATTERNS:
        if pattern.search(text):
            return kind
    return None


def encoded_forms(value: str) -> list[tuple[str, str]]:
    """`(form, needle)` pairs: a text containing a needle contains `value` in that form.

    Base64 depends on where the value starts within the encoded bytes, so there is one needle per
    alignment: the characters that only the value's own bits decide.
    """
    raw = value.encode()
    forms = [("raw", value)]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        core = encoded[-(-shift * 8 // 6) : (shift + len(raw)) * 8 // 6]
        forms += [("base64", core), ("url-safe base64", core.translate(str.maketrans("+/", "-_")))]
    forms.append(("URL-encoded", quote(value, safe="")))
    unique: dict[str, str] = {}
    for form, needle in forms:
        unique.setdefault(needle, form)
    return [(form, needle) for needle, form in unique.items()]
