"""``ekiden queue list|create|delete|send|receive|peek|purge|redrive``: queues of a running
ekiden, through its console JSON API (see :mod:`ekiden.cli.api_client`).

Every command takes ``--endpoint`` and ``--json`` (the API's answer as is). Destructive
ones (delete, purge) ask on a terminal and need ``--yes`` otherwise. Exit status: 0 on
success, 1 when the API refuses (``ekiden: QueueDoesNotExist: ...``) or cannot be
reached, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ekiden.cli.api_client import (
    EXIT_FAILED,
    EXIT_USAGE,
    ApiClient,
    CliError,
    add_api_command,
    api_command,
    client_for,
    segment,
)
from ekiden.cli.output import age, confirm, count, emit, one_line, print_json, print_table
from ekiden.cli.progress import ProgressBar

__all__ = [
    "add_message_options",
    "parse_message_attribute",
    "parse_queue_attribute",
    "register",
    "send_bodies",
]

BATCH_SIZE: Final = 10  # the batch endpoint takes at most 10 bodies, like SendMessageBatch
_BASIC_TYPES: Final = ("String", "Number", "Binary")
_FINISHED: Final = ("COMPLETED", "CANCELLED", "FAILED")
_POLL_S: Final = 0.25


# --- parsing -----------------------------------------------------------------------------


def parse_queue_attribute(text: str) -> tuple[str, str]:
    """``K=V`` of ``--attribute`` on ``queue create`` (``VisibilityTimeout=60``)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_message_attribute(text: str) -> tuple[str, dict[str, str]]:
    """``NAME=TYPE:VALUE`` of ``--attribute`` on ``send`` / ``publish``, as the API's shape.

    TYPE is String, Number or Binary, optionally with a custom suffix (``Number.int``);
    a Binary VALUE is base64. Without a recognised TYPE (``NAME=VALUE``, ``at=12:30``)
    the whole text after ``=`` is a String.
    """
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=TYPE:VALUE, got {text!r}")
    data_type, colon, value = rest.partition(":")
    if not colon or data_type.split(".", 1)[0] not in _BASIC_TYPES:
        data_type, value = "String", rest
    if data_type.startswith("Binary"):
        return name, {"data_type": data_type, "binary_value": value}
    return name, {"data_type": data_type, "string_value": value}


def _attributes(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, Any]:
    return dict(pairs or ())


def _path(name: str, *rest: str) -> str:
    return "/".join(("/queues", segment(name), *rest))


def _last_part(arn: str | None) -> str | None:
    return None if arn is None else arn.rsplit(":", 1)[-1]


# --- list, create, delete ------------------------------------------------------------------


@api_command
def _list(args: argparse.Namespace) -> int:
    answer = client_for(args).get("/queues")
    if args.json:
        print_json(answer)
        return 0
    print_table(
        ("NAME", "TYPE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST", "DEAD LETTERS TO"),
        (
            (
                queue["name"],
                "fifo" if queue["fifo"] else "standard",
                queue["visible"],
                queue["in_flight"],
                queue["delayed"],
                age(queue["oldest_age_s"]),
                _last_part(queue["dead_letter_target_arn"]),
            )
            for queue in answer["queues"]
        ),
    )
    return 0


@api_command
def _create(args: argparse.Namespace) -> int:
    name: str = args.name
    attributes = _attributes(args.attribute)
    # FIFO queues need both the .fifo name and FifoQueue=true; either one says enough.
    if args.fifo and not name.endswith(".fifo"):
        name += ".fifo"
    if name.endswith(".fifo"):
        attributes.setdefault("FifoQueue", "true")
    body: dict[str, Any] = {"name": name}
    if attributes:
        body["attributes"] = attributes
    answer = client_for(args).post("/queues", body)
    queue = answer["queue"]
    return emit(
        args.json,
        answer,
        lambda: print_table(
            ("NAME", "TYPE", "URL"),
            [(queue["name"], "fifo" if queue["fifo"] else "standard", queue["url"])],
        ),
    )


@api_command
def _delete(args: argparse.Namespace) -> int:
    confirm(f"delete queue {args.name} and every message in it", yes=args.yes)
    answer = client_for(args).delete(_path(args.name))
    return emit(args.json, answer, f"deleted queue {args.name}")


@api_command
def _purge(args: argparse.Namespace) -> int:
    confirm(f"purge every message of queue {args.name}", yes=args.yes)
    answer = client_for(args).post(_path(args.name, "purge"))
    return emit(args.json, answer, f"purged queue {args.name}")


# --- send ----------------------------------------------------------------------------------


def _bodies(args: argparse.Namespace) -> list[str]:
    if args.file is not None:
        if args.body is not None:
            raise CliError("give either BODY or --file, not both", EXIT_USAGE)
        text = sys.stdin.read() if args.file == "-" else _read(args.file)
        bodies = [line for line in text.splitlines() if line.strip()]
        if not bodies:
            raise CliError(f"{args.file} holds no message (one body per line)", EXIT_USAGE)
        return bodies
    if args.body is not None:
        body: str = args.body
    elif sys.stdin.isatty():
        raise CliError("give a BODY, --file FILE, or the body on standard input", EXIT_USAGE)
    else:  # `echo hello | ekiden queue send q`: the body is "hello", not "hello\n"
        body = sys.stdin.read().removesuffix("\n")
    if args.count < 1:
        raise CliError("--count must be at least 1", EXIT_USAGE)
    return [body] * args.count


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}", EXIT_USAGE) from None


def _message(args: argparse.Namespace, body: str) -> dict[str, Any]:
    message: dict[str, Any] = {"body": body}
    if args.attribute:
        message["attributes"] = _attributes(args.attribute)
    if args.delay is not None:
        message["delay_s"] = args.delay
    if args.group_id is not None:
        message["group_id"] = args.group_id
    if args.dedup_id is not None:
        message["dedup_id"] = args.dedup_id
    return message


def send_bodies(
    client: ApiClient, name: str, bodies: Sequence[str], progress: ProgressBar, **message: Any
) -> tuple[list[str], list[dict[str, Any]]]:
    """Send ``bodies`` to queue ``name``; return the message ids of those sent, in order,
    and the bodies the queue refused, as ``{"index", "code", "message"}`` (index into
    ``bodies``).

    Plain bodies (``message`` holds at most ``group_id``) go through the batch endpoint,
    :data:`BATCH_SIZE` at a time; with attributes or a delay each is a send of its own,
    since the batch endpoint takes bodies only. ``progress`` advances as they go. A whole
    batch refused (the queue is gone, ...) raises :class:`ApiError` at once.
    """
    ids: list[str] = []
    failed: list[dict[str, Any]] = []
    if set(message) <= {"group_id"}:
        for start in range(0, len(bodies), BATCH_SIZE):
            chunk = list(bodies[start : start + BATCH_SIZE])
            answer = client.post(_path(name, "messages", "batch"), {"bodies": chunk, **message})
            ids += answer["message_ids"]
            for refused in answer.get("failed") or ():
                failed.append({**refused, "index": start + int(refused["index"])})
            progress.advance(len(chunk))
        return ids, failed
    for body in bodies:
        ids.append(client.post(_path(name, "messages"), {"body": body, **message})["message_id"])
        progress.advance()
    return ids, failed


@api_command
def _send(args: argparse.Namespace) -> int:
    bodies = _bodies(args)
    client = client_for(args)
    if len(bodies) == 1:
        answer = client.post(_path(args.name, "messages"), _message(args, bodies[0]))
        if args.json:
            print_json(answer)
        else:
            print_table(
                ("MESSAGE ID", "MD5 OF BODY", "SEQUENCE NUMBER"),
                [(answer["message_id"], answer["md5_of_body"], answer.get("sequence_number"))],
            )
        return 0
    if args.dedup_id is not None:
        raise CliError("--dedup-id names one message; it cannot go with several", EXIT_USAGE)
    extra = {k: v for k, v in _message(args, "").items() if k != "body"}
    started = time.monotonic()
    with ProgressBar(f"sending to {args.name}", len(bodies)) as progress:
        ids, failed = send_bodies(client, args.name, bodies, progress, **extra)
    if args.json:
        print_json({"message_ids": ids, "failed": failed})
    else:
        elapsed_s = time.monotonic() - started
        print(f"sent {count(len(ids), 'message')} to {args.name} in {elapsed_s:.1f}s")
    if failed:
        first = failed[0]
        raise CliError(
            f"{count(len(failed), 'message')} refused; the first: "
            f"{first['code']}: {first['message']}"
        )
    return 0


# --- receive, peek -------------------------------------------------------------------------


def _attribute_summary(attributes: Mapping[str, Mapping[str, str]]) -> str | None:
    if not attributes:
        return None
    shown = (
        f"{name}={value.get('string_value', '<binary>')}" for name, value in attributes.items()
    )
    return one_line(",".join(shown), 40)


@api_command
def _receive(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"max": args.max}
    if args.wait is not None:
        body["wait_s"] = args.wait
    if args.visibility is not None:
        body["visibility_timeout_s"] = args.visibility
    if args.delete:
        body["delete"] = True
    answer = client_for(args).post(_path(args.name, "receive"), body)
    if args.json:
        print_json(answer)
        return 0
    messages = answer["messages"]
    if not messages:
        print("no messages")
        return 0
    print_table(
        ("MESSAGE ID", "RECEIVES", "ATTRIBUTES", "BODY"),
        (
            (
                m["message_id"],
                m["receive_count"],
                _attribute_summary(m.get("message_attributes") or {}),
                one_line(m["body"]),
            )
            for m in messages
        ),
    )
    return 0


@api_command
def _peek(args: argparse.Namespace) -> int:
    answer = client_for(args).get(_path(args.name, "peek"), {"max": args.max})
    if args.json:
        print_json(answer)
        return 0
    messages = answer["messages"]
    if not messages:
        print("no messages")
        return 0
    now_ms = time.time() * 1000
    print_table(
        ("MESSAGE ID", "STATE", "RECEIVES", "AGE", "GROUP", "BODY"),
        (
            (
                m["message_id"],
                m["state"],
                m["receive_count"],
                age(max(0.0, (now_ms - m["sent_ms"]) / 1000)),
                m.get("group_id"),
                one_line(m["body"]),
            )
            for m in messages
        ),
    )
    return 0


# --- redrive -------------------------------------------------------------------------------


def _task(client: ApiClient, name: str, handle: str) -> dict[str, Any]:
    for task in client.get(_path(name, "redrive"))["tasks"]:
        if task["task_handle"] == handle:
            return dict(task)
    raise CliError(f"the redrive task {handle} of {name} is no longer listed")


def _wait_for(client: ApiClient, name: str, handle: str) -> Iterator[dict[str, Any]]:
    """The task as it is now, then again every :data:`_POLL_S` until it ends."""
    while True:
        task = _task(client, name, handle)
        yield task
        if task["status"] in _FINISHED:
            return
        time.sleep(_POLL_S)  # the API has no way to wait on a task: poll it


@api_command
def _redrive(args: argparse.Namespace) -> int:
    client = client_for(args)
    body: dict[str, Any] = {}
    if args.to is not None:
        body["destination_arn"] = args.to
    if args.rate is not None:
        body["max_per_s"] = args.rate
    started = client.post(_path(args.name, "redrive"), body)
    handle: str = started["task_handle"]
    if args.no_wait:
        if args.json:
            print_json(started)
        else:
            print(f"redrive of {args.name} started; task handle {handle}")
        return 0
    task: dict[str, Any] = {}
    try:
        with ProgressBar(f"redriving {args.name}") as progress:
            for task in _wait_for(client, args.name, handle):
                progress.update(int(task["moved"]), int(task["to_move"]) or None)
    except KeyboardInterrupt:
        print(f"ekiden: stopped waiting; the redrive goes on (task {handle})", file=sys.stderr)
        return 130
    if args.json:
        print_json(task)
    else:
        print_table(
            ("STATUS", "MOVED", "TO MOVE", "FROM", "TO"),
            [
                (
                    task["status"],
                    task["moved"],
                    task["to_move"],
                    _last_part(task["source_arn"]),
                    _last_part(task.get("destination_arn")) or "(source queues)",
                )
            ],
        )
    if task["status"] == "FAILED":
        reason = task.get("failure_reason") or "no reason given"
        raise CliError(f"the redrive of {args.name} failed: {reason}", EXIT_FAILED)
    return 0


# --- the parser ----------------------------------------------------------------------------


def add_message_options(parser: argparse.ArgumentParser, fifo_kind: str) -> None:
    """``--attribute``, ``--group-id`` and ``--dedup-id`` of a command that sends one
    message (``queue send``, ``topic publish``); ``fifo_kind`` names what is FIFO."""
    parser.add_argument(
        "--attribute",
        action="append",
        type=parse_message_attribute,
        metavar="NAME=TYPE:VALUE",
        help="a message attribute; TYPE String, Number or Binary (base64) (repeatable)",
    )
    parser.add_argument("--group-id", metavar="G", help=f"message group id (FIFO {fifo_kind})")
    parser.add_argument("--dedup-id", metavar="D", help=f"deduplication id (FIFO {fifo_kind})")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``queue`` and its subcommands to the top-level parser."""
    group = subparsers.add_parser(
        "queue",
        help="list, create, send to, receive from, purge and redrive queues",
        description="Work with the queues of a running ekiden (through its console API).",
    )
    commands = group.add_subparsers(title="queue commands", metavar="COMMAND", required=True)

    parser = add_api_command(commands, "list", "list queues with their message counts")
    parser.set_defaults(func=_list)

    parser = add_api_command(commands, "create", "create a queue")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--fifo", action="store_true", help="a FIFO queue (adds .fifo to NAME)")
    parser.add_argument(
        "--attribute",
        action="append",
        type=parse_queue_attribute,
        metavar="K=V",
        help="a queue attribute, e.g. VisibilityTimeout=60 (repeatable)",
    )
    parser.set_defaults(func=_create)

    parser = add_api_command(commands, "delete", "delete a queue and its messages")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(func=_delete)

    parser = add_api_command(commands, "send", "send one message, or many with --count / --file")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument(
        "body", metavar="BODY", nargs="?", help="the message body (default: standard input)"
    )
    add_message_options(parser, "queues")
    parser.add_argument("--delay", type=int, metavar="S", help="delay in seconds (0-900)")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--count", type=int, default=1, metavar="N", help="send BODY N times")
    amount.add_argument(
        "--file", metavar="F", help="send each non-empty line of F as a message ('-': stdin)"
    )
    parser.set_defaults(func=_send)

    parser = add_api_command(commands, "receive", "receive messages (they become in flight)")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--max", type=int, default=1, metavar="N", help="1-10 (default 1)")
    parser.add_argument("--wait", type=int, metavar="S", help="long-poll up to S seconds (0-20)")
    parser.add_argument(
        "--visibility", type=int, metavar="S", help="visibility timeout of what is received"
    )
    parser.add_argument("--delete", action="store_true", help="delete each message received")
    parser.set_defaults(func=_receive)

    parser = add_api_command(commands, "peek", "show messages without receiving them")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--max", type=int, default=10, metavar="N", help="1-100 (default 10)")
    parser.set_defaults(func=_peek)

    parser = add_api_command(commands, "purge", "delete every message of a queue")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(func=_purge)

    parser = add_api_command(commands, "redrive", "move a dead-letter queue's messages back")
    parser.add_argument("name", metavar="DLQ")
    parser.add_argument(
        "--to", metavar="ARN", help="destination queue ARN (default: the source queues)"
    )
    parser.add_argument("--rate", type=int, metavar="N", help="at most N messages a second")
    parser.add_argument(
        "--no-wait", action="store_true", help="start the task and return its handle"
    )
    parser.set_defaults(func=_redrive)
