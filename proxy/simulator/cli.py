"""The simulator's commands: `simulate`, `dev-key`, `test` and `selftest` (see README)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proxy.secret_files import SecretFileError, read_secret_file
from proxy.simulator.answers import render
from proxy.simulator.conversation import Conversation, Exchange, TurnError
from proxy.simulator.junit import write_junit
from proxy.simulator.keys import (
    DEFAULT_KEY_DIR,
    DEFAULT_PRIVATE_KEY,
    DevKey,
    DevKeyError,
    create_dev_key,
    load_dev_key,
)
from proxy.simulator.request_builder import DEFAULT_EXTENSION_ID, LOCALES, FreeText, Speaker, UserTurn
from proxy.simulator.runner import RunOptions, TestResult, run_suite
from proxy.simulator.selftest import Battery, Check
from proxy.simulator.shell import ShellError, parse_line
from proxy.simulator.speech_output import SpeakError, speak
from proxy.simulator.suite_file import SuiteFileError, load_suite, recorded_suite
from proxy.simulator.tables import table
from proxy.simulator.transport import TransportError, open_transport

COMMANDS = ("simulate", "dev-key", "test", "selftest")
DEFAULT_URL = "https://localhost/cek"  # the dev stack (./scripts/deploy-dev)
CEK_BUDGET_SECONDS = 8.0  # CEK's deadline (protocols.md §B.1)


class UsageError(Exception):
    """A bad argument: the message says which."""


class _AddTurn(argparse.Action):
    """`--launch`, `--say`, `--intent` and `--end` append, in order, to one list of turns; `--slot`
    adds a slot to the `--intent` before it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option: str | None = None,
    ) -> None:
        turns: list[tuple[str, Any]] = list(getattr(namespace, "turns", None) or [])
        if self.const == "slot":
            _add_slot(parser, turns, str(values))
        else:
            turns.append((self.const, values))
        namespace.turns = turns


def _add_slot(parser: argparse.ArgumentParser, turns: list[tuple[str, Any]], slot: str) -> None:
    if not turns or turns[-1][0] != "intent":
        parser.error("--slot goes after an --intent")
    name, sep, value = slot.partition("=")
    if not sep or not name:
        parser.error(f"--slot {slot}: expected NAME=VALUE")
    turns[-1][1][1][name] = value


def _add_identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key", type=Path, default=DEFAULT_PRIVATE_KEY, help="development private key (default: %(default)s)"
    )
    parser.add_argument(
        "--cacert", type=Path, help="extra CA to trust for HTTPS (the dev gateway's internal CA)"
    )
    parser.add_argument(
        "--extension-id", help=f"extension id (default: the suite's, else {DEFAULT_EXTENSION_ID})"
    )
    parser.add_argument(
        "--access-token-file", type=Path, help="file holding an account-linking access token to send"
    )


def _simulate_parser(sub: Any) -> None:
    parser = sub.add_parser("simulate", help="talk to an extension like a CLOVA speaker")
    parser.add_argument("url", nargs="?", default=DEFAULT_URL, help="extension URL (default: %(default)s)")
    _add_identity(parser)
    parser.add_argument("--locale", choices=LOCALES, default="ko-KR")
    parser.add_argument("--user-id", default=Speaker.user_id)
    parser.add_argument("--device-id", default=Speaker.device_id)
    parser.add_argument(
        "--free-text-intent", default=FreeText.intent, help="intent that carries --say (default: %(default)s)"
    )
    parser.add_argument("--free-text-slot", default=FreeText.slot, help="its slot (default: %(default)s)")
    parser.add_argument("--launch", action=_AddTurn, nargs=0, const="launch", help="a LaunchRequest")
    parser.add_argument(
        "--say", action=_AddTurn, const="say", metavar="TEXT", help="an IntentRequest carrying TEXT"
    )
    parser.add_argument(
        "--intent",
        action=_AddTurn,
        const="intent",
        metavar="NAME",
        type=lambda n: (n, {}),
        help="an IntentRequest",
    )
    parser.add_argument(
        "--slot", action=_AddTurn, const="slot", metavar="NAME=VALUE", help="a slot of the --intent before it"
    )
    parser.add_argument("--end", action=_AddTurn, nargs=0, const="end", help="a SessionEndedRequest")
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="write the transcript as a conversation test"
    )
    parser.add_argument(
        "--speak",
        nargs="?",
        const="-",
        metavar="WAV",
        help="say answers with espeak-ng, or write them to WAV",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cek-proxy", description="A virtual CLOVA for CEK extensions (see README)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _simulate_parser(sub)
    key = sub.add_parser("dev-key", help="create the development key pair")
    key.add_argument("--dir", type=Path, default=DEFAULT_KEY_DIR, help="where (default: %(default)s)")
    key.add_argument("--replace", action="store_true", help="replace an existing key")
    test = sub.add_parser("test", help="run YAML conversation tests")
    test.add_argument("files", nargs="+", type=Path, metavar="FILE")
    test.add_argument("--url", help="extension URL; without it, a local proxy with a stub chatbot is started")
    test.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML")
    _add_identity(test)
    selftest = sub.add_parser("selftest", help="certification-style checks of an extension URL")
    selftest.add_argument("url")
    _add_identity(selftest)
    selftest.add_argument(
        "--budget",
        type=float,
        default=CEK_BUDGET_SECONDS,
        help="seconds a launch may take (default: %(default)s)",
    )
    selftest.add_argument(
        "--http-port",
        type=int,
        default=80,
        help="plain-HTTP port for the redirect check (default: %(default)s)",
    )
    return parser


def _turn(kind: str, value: Any, free_text: FreeText) -> UserTurn:
    if kind == "launch":
        return UserTurn.launch()
    if kind == "end":
        return UserTurn.end()
    if kind == "say":
        return free_text.say(value)
    name, slots = value
    return UserTurn.with_intent(name, slots)


def _access_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return read_secret_file(path).get_secret_value()
    except SecretFileError as exc:
        raise UsageError(f"--access-token-file: {exc}") from None


def _speaker(args: argparse.Namespace) -> Speaker:
    return Speaker(
        extension_id=args.extension_id or DEFAULT_EXTENSION_ID,
        locale=args.locale,
        user_id=args.user_id,
        device_id=args.device_id,
        access_token=_access_token(args.access_token_file),
    )


def _say_aloud(exchange: Exchange, target: str | None, index: int) -> None:
    if target is None or not exchange.answer.speech:
        return
    wav = None if target == "-" else Path(target)
    if wav is not None and index > 1:
        wav = wav.with_name(f"{wav.stem}-{index}{wav.suffix}")
    speak(exchange.answer.text, exchange.answer.lang or "ko", wav)


async def _interactive_turns(free_text: FreeText) -> AsyncIterator[UserTurn]:
    prompt = sys.stdin.isatty()
    print(
        "Type what the user says; /launch, /end, /intent NAME k=v, /yes, /no, /guide, /cancel, /stop, /quit."
    )
    while True:
        if prompt:
            print("you> ", end="", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        try:
            turn = parse_line(line, free_text)
        except ShellError as exc:
            print(f"error: {exc}")
            continue
        if turn is None:
            continue
        if turn == "quit":
            return
        yield turn


async def _one_shots(turns: list[UserTurn]) -> AsyncIterator[UserTurn]:
    for turn in turns:
        yield turn


async def simulate(args: argparse.Namespace) -> int:
    free_text = FreeText(args.free_text_intent, args.free_text_slot)
    speaker, key = _speaker(args), load_dev_key(args.key)
    one_shots = [_turn(kind, value, free_text) for kind, value in getattr(args, "turns", None) or []]
    turns = _one_shots(one_shots) if one_shots else _interactive_turns(free_text)
    exchanges: list[Exchange] = []
    status = 0
    async with open_transport(args.cacert) as transport:
        conversation = Conversation(transport, args.url, key, speaker)
        async for turn in turns:
            try:
                exchange = await conversation.send(turn)
            except (TurnError, TransportError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = 1
                continue
            exchanges.append(exchange)
            print(render(exchange.answer), flush=True)
            _say_aloud(exchange, args.speak, len(exchanges))
    if args.record:
        name = f"recorded {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        args.record.write_text(recorded_suite(name, speaker, free_text, exchanges), encoding="utf-8")
        print(f"recorded {len(exchanges)} turn(s) to {args.record}")
    return status


def dev_key(args: argparse.Namespace) -> int:
    private, public = create_dev_key(args.dir, replace=args.replace)
    print(f"private key: {private} (mode 600, keep it out of version control)")
    print(f"public key:  {public} (trusted by the dev stack: cekPublicKeyFiles in Pulumi.dev.yaml)")
    return 0


def _results_table(results: list[TestResult]) -> str:
    rows = [
        [str(r.file), r.name, str(r.turns), "pass" if r.passed else "FAIL", f"{r.elapsed * 1000:.0f} ms"]
        for r in results
    ]
    return table(["file", "test", "turns", "result", "time"], rows)


async def run_tests(args: argparse.Namespace) -> int:
    suites = [(path, load_suite(path)) for path in args.files]
    key = load_dev_key(args.key) if args.url else DevKey.generate()  # the local proxy trusts it
    options = RunOptions(
        args.url, key, args.extension_id or DEFAULT_EXTENSION_ID, _access_token(args.access_token_file)
    )
    results: list[TestResult] = []
    async with open_transport(args.cacert) as transport:
        for path, suite in suites:
            results += await run_suite(path, suite, options, transport)
    print(_results_table(results))
    if any(not r.passed for r in results):
        print()
    for result in results:
        for failure in result.failures:
            print(f"FAIL {result.file} {result.name}: {failure}")
    failed = sum(not r.passed for r in results)
    print(f"\n{len(results) - failed} passed, {failed} failed")
    if args.junit:
        write_junit(args.junit, results)
    return 1 if failed else 0


def _checks_table(checks: list[Check]) -> str:
    verdicts = {True: "pass", False: "FAIL", None: "n/a"}
    return table(["check", "result", "detail"], [[c.name, verdicts[c.passed], c.detail] for c in checks])


async def selftest(args: argparse.Namespace) -> int:
    speaker = Speaker(extension_id=args.extension_id or DEFAULT_EXTENSION_ID)
    async with open_transport(args.cacert) as transport:
        battery = Battery(
            transport, args.url, load_dev_key(args.key), speaker, args.budget, args.http_port, args.cacert
        )
        checks = await battery.run()
    print(_checks_table(checks))
    failed = sum(c.passed is False for c in checks)
    print(f"\n{'all checks hold' if not failed else f'{failed} check(s) failed'}")
    return 1 if failed else 0


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "dev-key":
            return dev_key(args)
        runner = {"simulate": simulate, "test": run_tests, "selftest": selftest}[args.command]
        return asyncio.run(runner(args))
    except (DevKeyError, SuiteFileError, UsageError, SpeakError) as exc:
        print(f"cek-proxy {args.command}: {exc}", file=sys.stderr)
        return 2
