"""``ekiden function list|invoke``: the functions of a running ekiden (those its config
declares), through its console JSON API (see :mod:`ekiden.cli.api_client`).

``invoke`` prints the function's result (JSON) on standard output and, with ``--log``,
the tail of its log on standard error. A function error (the handler raised, timed out)
exits with status 1 after printing what the function returned.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ekiden.cli.api_client import (
    EXIT_FAILED,
    EXIT_USAGE,
    CliError,
    add_api_options,
    api_command,
    client_for,
    segment,
)
from ekiden.cli.output import print_json, print_table

__all__ = ["register"]


@api_command
def _list(args: argparse.Namespace) -> int:
    answer = client_for(args).get("/functions")
    if args.json:
        print_json(answer)
        return 0
    print_table(
        ("NAME", "HANDLER", "INVOCATIONS", "ERRORS", "THROTTLES", "AVG MS", "RUNNING", "MAPPINGS"),
        (
            (
                function["name"],
                function["handler"],
                function["invocations"],
                function["errors"],
                function["throttles"],
                function["average_duration_ms"],
                function["concurrency"],
                len(function["mappings"]),
            )
            for function in answer["functions"]
        ),
    )
    return 0


def _payload(text: str | None) -> Any:
    if text is None:
        return {}
    source = sys.stdin.read() if text == "-" else text
    try:
        return json.loads(source)
    except ValueError as error:
        raise CliError(f"PAYLOAD_JSON is not JSON: {error}", EXIT_USAGE) from None


@api_command
def _invoke(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"payload": _payload(args.payload)}
    if args.asynchronous:
        body["asynchronous"] = True
    answer = client_for(args).post(f"/functions/{segment(args.name)}/invoke", body)
    if args.log and answer.get("log_tail"):
        sys.stderr.write(answer["log_tail"].rstrip("\n") + "\n")
    error = answer.get("function_error")
    if args.json:
        print_json(answer)
    elif args.asynchronous:
        print(f"queued an invocation of {args.name} (status {answer['status_code']})")
    else:
        print(json.dumps(answer.get("payload"), indent=2, ensure_ascii=False))
    if error:
        sys.stdout.flush()
        print(f"ekiden: function {args.name} failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``function`` and its subcommands to the top-level parser."""
    group = subparsers.add_parser(
        "function",
        help="list and invoke functions",
        description="Work with the functions of a running ekiden (through its console API).",
    )
    commands = group.add_subparsers(title="function commands", metavar="COMMAND", required=True)

    parser = commands.add_parser(
        "list", help="list functions", description="List functions with their figures."
    )
    add_api_options(parser)
    parser.set_defaults(func=_list)

    parser = commands.add_parser(
        "invoke",
        help="invoke a function",
        description="Invoke a function and print what it returns.",
    )
    add_api_options(parser)
    parser.add_argument("name", metavar="NAME")
    parser.add_argument(
        "payload",
        metavar="PAYLOAD_JSON",
        nargs="?",
        help="the event, as JSON ('-': standard input; default {})",
    )
    parser.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="queue the invocation (Event) instead of waiting for the result",
    )
    parser.add_argument("--log", action="store_true", help="print the log tail on stderr")
    parser.set_defaults(func=_invoke)
