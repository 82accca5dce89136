"""``ekiden topic list|create|delete|publish|subscribe``: SNS topics of a running ekiden,
through its console JSON API (see :mod:`ekiden.cli.api_client`).

Same conventions as ``ekiden queue``: ``--endpoint``, ``--json``, ``--yes`` for delete,
exit status 0 / 1 (refused or unreachable) / 2 (usage).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ekiden.cli.api_client import (
    EXIT_USAGE,
    ApiClient,
    CliError,
    add_api_command,
    api_command,
    client_for,
    segment,
)
from ekiden.cli.output import confirm, emit, print_json, print_table
from ekiden.cli.queue import add_message_options

__all__ = ["register"]


def _path(name: str, *rest: str) -> str:
    return "/".join(("/topics", segment(name), *rest))


@api_command
def _list(args: argparse.Namespace) -> int:
    answer = client_for(args).get("/topics")
    if args.json:
        print_json(answer)
        return 0
    print_table(
        ("NAME", "TYPE", "SUBSCRIPTIONS", "ARN"),
        (
            (
                topic["name"],
                "fifo" if topic["fifo"] else "standard",
                len(topic["subscriptions"]),
                topic["arn"],
            )
            for topic in answer["topics"]
        ),
    )
    return 0


@api_command
def _create(args: argparse.Namespace) -> int:
    name: str = args.name
    if args.fifo and not name.endswith(".fifo"):
        name += ".fifo"
    body: dict[str, Any] = {"name": name}
    if name.endswith(".fifo"):  # SNS wants both the name and the attribute
        body["attributes"] = {"FifoTopic": "true"}
    answer = client_for(args).post("/topics", body)
    topic = answer["topic"]
    return emit(
        args.json,
        answer,
        lambda: print_table(
            ("NAME", "TYPE", "ARN"),
            [(topic["name"], "fifo" if topic["fifo"] else "standard", topic["arn"])],
        ),
    )


@api_command
def _delete(args: argparse.Namespace) -> int:
    confirm(f"delete topic {args.name} and its subscriptions", yes=args.yes)
    answer = client_for(args).delete(_path(args.name))
    return emit(args.json, answer, f"deleted topic {args.name}")


@api_command
def _publish(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"message": args.message}
    if args.subject is not None:
        body["subject"] = args.subject
    if args.attribute:
        body["attributes"] = dict(args.attribute)
    if args.group_id is not None:
        body["group_id"] = args.group_id
    if args.dedup_id is not None:
        body["dedup_id"] = args.dedup_id
    answer = client_for(args).post(_path(args.name, "publish"), body)
    if args.json:
        print_json(answer)
    else:
        print_table(
            ("MESSAGE ID", "SEQUENCE NUMBER"),
            [(answer["message_id"], answer.get("sequence_number"))],
        )
    return 0


def _sqs_endpoint(client: ApiClient, endpoint: str) -> str:
    """An ``sqs`` subscription's endpoint is a queue ARN; a bare queue name is looked up."""
    if endpoint.startswith("arn:"):
        return endpoint
    arn: str = client.get("/queues/" + segment(endpoint))["queue"]["arn"]
    return arn


@api_command
def _subscribe(args: argparse.Namespace) -> int:
    attributes: dict[str, str] = {}
    if args.raw:
        attributes["RawMessageDelivery"] = "true"
    if args.filter_policy is not None:
        try:
            json.loads(args.filter_policy)
        except ValueError as error:
            raise CliError(f"--filter-policy is not JSON: {error}", EXIT_USAGE) from None
        attributes["FilterPolicy"] = args.filter_policy
    client = client_for(args)
    protocol: str = args.protocol.lower()
    endpoint = _sqs_endpoint(client, args.endpoint_) if protocol == "sqs" else args.endpoint_
    body: dict[str, Any] = {"protocol": protocol, "endpoint": endpoint}
    if attributes:
        body["attributes"] = attributes
    answer = client.post(_path(args.name, "subscriptions"), body)
    return emit(
        args.json,
        answer,
        lambda: print_table(("SUBSCRIPTION ARN",), [(answer["subscription_arn"],)]),
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``topic`` and its subcommands to the top-level parser."""
    group = subparsers.add_parser(
        "topic",
        help="list, create, publish to and subscribe to SNS topics",
        description="Work with the SNS topics of a running ekiden (through its console API).",
    )
    commands = group.add_subparsers(title="topic commands", metavar="COMMAND", required=True)

    parser = add_api_command(commands, "list", "list topics")
    parser.set_defaults(func=_list)

    parser = add_api_command(commands, "create", "create a topic")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--fifo", action="store_true", help="a FIFO topic (adds .fifo to NAME)")
    parser.set_defaults(func=_create)

    parser = add_api_command(commands, "delete", "delete a topic and its subscriptions")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(func=_delete)

    parser = add_api_command(commands, "publish", "publish a message to a topic")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("message", metavar="MESSAGE")
    parser.add_argument("--subject", metavar="S", help="the message's subject")
    add_message_options(parser, "topics")
    parser.set_defaults(func=_publish)

    parser = add_api_command(commands, "subscribe", "subscribe an endpoint to a topic")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("protocol", metavar="PROTOCOL", help="sqs, http, https, lambda, ...")
    parser.add_argument(
        "endpoint_",
        metavar="ENDPOINT",
        help="where messages go: a queue ARN or name (sqs), a URL (http/https), ...",
    )
    parser.add_argument("--raw", action="store_true", help="raw message delivery (no SNS envelope)")
    parser.add_argument("--filter-policy", metavar="JSON", help="a filter policy (JSON)")
    parser.set_defaults(func=_subscribe)
