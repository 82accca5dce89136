"""Entry point of the ``ekiden`` command.

Each subcommand group lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed ``argparse.Namespace`` and returning the exit status) with ``set_defaults``. To add
a group, write the module and list its ``register`` in ``_COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import metadata

from ekiden.cli import bench, function, queue, serve, topic, worker
from ekiden.config import ConfigError

__all__ = ["build_parser", "main"]

_Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

_COMMANDS: tuple[_Register, ...] = (
    serve.register,
    worker.register,
    bench.register,
    queue.register,
    topic.register,
    function.register,
)

EXIT_USAGE = 2


def _version() -> str:
    try:
        return metadata.version("ekiden")
    except metadata.PackageNotFoundError:  # running from a source tree, not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser without running anything."""
    parser = argparse.ArgumentParser(
        prog="ekiden",
        description="A durable message broker that speaks the Amazon SQS wire protocols.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for register in _COMMANDS:
        register(subparsers)
    return parser


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # SystemExit("message") convention
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the ``ekiden`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status instead of exiting: 0 on success, 2 for usage and
    configuration errors (printed to standard error as ``ekiden: <message>``), otherwise
    what the subcommand returns.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return _exit_status(exc.code)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_usage(sys.stderr)
        print("ekiden: error: a command is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        return func(args)
    except ConfigError as exc:
        print(f"ekiden: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
