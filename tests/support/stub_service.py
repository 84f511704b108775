"""Run a stub upstream as a process of its own (in a container for the deployment tests).

    python -m tests.support.stub_service chatbot --secret-file F [--secret-file F2 ...] \
        [--action-url U --action-key-file K] [--slow-trigger T --slow-seconds S]
    python -m tests.support.stub_service backend [--expect-token-file T]
    python -m tests.support.stub_service replica [--hang-up]

Both take `--listen host:port` and, for HTTPS, `--tls-cert`/`--tls-key`.
"""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from proxy.secret_files import read_secret_file
from tests.support.stubs import ActionCall, StubActionBackend, StubChatbot, StubReplica


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stub_service")
    parser.add_argument("kind", choices=("chatbot", "backend", "replica"))
    parser.add_argument("--listen", default="0.0.0.0:8443")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument(
        "--secret-file",
        type=Path,
        action="append",
        default=[],
        help="chatbot: a Custom API secret key it accepts",
    )
    parser.add_argument("--action-url", help="chatbot: answer `send` by calling this action relay URL")
    parser.add_argument("--action-key-file", type=Path, help="chatbot: the key for the action relay")
    parser.add_argument(
        "--action-trigger", default="", help="chatbot: call the action only for texts with this"
    )
    parser.add_argument("--slow-trigger", default="", help="chatbot: answer texts with this late")
    parser.add_argument("--slow-seconds", type=float, default=0.0, help="chatbot: how late")
    parser.add_argument("--hang-up", action="store_true", help="replica: read, then close, never answer")
    parser.add_argument("--expect-token-file", type=Path, help="backend: refuse any other bearer token")
    return parser


def _secret(path: Path | None) -> str | None:
    return read_secret_file(path).get_secret_value() if path else None


def build_app(args: argparse.Namespace) -> web.Application:
    if args.kind == "replica":
        return StubReplica(hang_up=args.hang_up).app()
    if args.kind == "backend":
        return StubActionBackend(expected_token=_secret(args.expect_token_file)).app()
    secrets = [read_secret_file(path).get_secret_value() for path in args.secret_file]
    if not secrets:
        raise SystemExit("chatbot: --secret-file is required")
    stub = StubChatbot(
        secrets[0],
        extra_secrets=tuple(secrets[1:]),
        slow_trigger=args.slow_trigger,
        slow_seconds=args.slow_seconds,
    )
    key = _secret(args.action_key_file)
    if args.action_url and key:
        stub.action = ActionCall(args.action_url, key, trigger=args.action_trigger, extra_headers={})
    return stub.app()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    context = None
    if args.tls_cert and args.tls_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    web.run_app(build_app(args), host=host, port=int(port), ssl_context=context, print=None)


if __name__ == "__main__":
    main()
