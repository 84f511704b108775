"""`cek-proxy` (also `python -m proxy`): `serve` (the default) or `check-config`; the simulator's
`simulate`, `dev-key`, `test` and `selftest` (proxy/simulator)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from proxy.server import serve
from proxy.settings import SettingsError, load_settings
from proxy.simulator import cli as simulator_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cek-proxy",
        description="Verified CLOVA Extensions Kit endpoint bridged to a CLOVA Chatbot. "
        "Settings come from CEK_PROXY_* environment variables (see README). "
        f"The simulator: cek-proxy {{{','.join(simulator_cli.COMMANDS)}}} --help.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=("serve", "check-config"),
        help="serve (default) runs the service; check-config validates the settings and exits",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in simulator_cli.COMMANDS:
        return simulator_cli.main(arguments)
    args = _parser().parse_args(arguments)
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"cek-proxy: {exc}", file=sys.stderr)
        return 2 if args.command == "serve" else 1
    if args.command == "check-config":
        print(
            f"cek-proxy: settings are valid (mode={settings.mode.value}, listen={settings.listen}, "
            f"{len(settings.extension_ids)} extension id(s), {len(settings.cek_public_keys)} pinned key(s))"
        )
        return 0
    serve(settings)
    return 0
