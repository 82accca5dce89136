"""``ekiden bench``: benchmark an SQS endpoint (ekiden or any other), or compare two.

The command reads its flags and, being the edge, the AWS environment variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``
/ ``AWS_DEFAULT_REGION``); everything else lives in :mod:`ekiden.bench`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import sys
from collections.abc import Mapping

from ekiden.bench.options import (
    DEFAULT_BACKLOG,
    DEFAULT_BODY_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_DURATION_S,
    DEFAULT_GROUPS,
    DEFAULT_RATE,
    SCENARIOS,
    BenchOptions,
    OptionsError,
    make_options,
)
from ekiden.bench.sigv4 import Credentials

__all__ = ["credentials_from", "options_from", "register", "run"]

EXIT_USAGE = 2
EXIT_FAILED = 1

_EPILOG = """\
scenarios:
  send        SendMessage, one message per request
  send-batch  SendMessageBatch of 10
  drain       fill a queue (N messages with --messages or --prefill, else for
              --duration), then ReceiveMessage 10 + DeleteMessageBatch until it is
              empty or the time is up
  latency     send at --rate msgs/s; long-polling consumers time send -> receive
  long-poll   receivers wait (WaitTimeSeconds=20); one message at a time, timed from
              the send's acknowledgement to the receive's return
  backlog     send and drain rates on an empty queue, then on one holding --backlog N

AWS credentials in the usual environment variables make it sign requests (SigV4);
without them requests carry a dummy signature, which emulators ignore.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` subcommand to the top-level parser."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmark an SQS endpoint",
        description="Measure an SQS endpoint (ekiden, moto, LocalStack, Amazon SQS), "
        "or two of them in alternation with --compare.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", choices=SCENARIOS, help="what to measure")
    parser.add_argument("--endpoint", required=True, metavar="URL", help="the endpoint (A)")
    parser.add_argument(
        "--compare", metavar="URL", help="a second endpoint (B), run in alternation with A"
    )
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help=f"seconds per measured phase (default {DEFAULT_DURATION_S:g})",
    )
    amount.add_argument("--messages", type=int, metavar="N", help="messages per measured phase")
    parser.add_argument(
        "--concurrency",
        type=int,
        metavar="C",
        help="requests in flight over all processes (default per scenario: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_CONCURRENCY.items())
        + "); consumers for latency, waiting receivers for long-poll",
    )
    parser.add_argument(
        "--processes", type=int, default=1, metavar="P", help="load processes (default 1)"
    )
    parser.add_argument(
        "--pipeline",
        type=int,
        default=1,
        metavar="D",
        help="requests in flight per connection (default 1: no pipelining)",
    )
    parser.add_argument(
        "--body-size",
        type=int,
        default=DEFAULT_BODY_SIZE,
        metavar="B",
        help=f"message body in bytes (default {DEFAULT_BODY_SIZE})",
    )
    parser.add_argument("--fifo", action="store_true", help="use a FIFO queue")
    parser.add_argument(
        "--groups",
        type=int,
        metavar="G",
        help=f"message groups of a FIFO queue (default {DEFAULT_GROUPS})",
    )
    parser.add_argument(
        "--rate", type=float, metavar="R", help=f"latency: messages/s (default {DEFAULT_RATE:g})"
    )
    parser.add_argument(
        "--backlog",
        type=int,
        metavar="N",
        help=f"backlog: messages in the full queue (default {DEFAULT_BACKLOG:,})",
    )
    parser.add_argument(
        "--prefill",
        type=int,
        metavar="N",
        help="drain with --duration: fill exactly N messages first (default: fill for "
        "--duration seconds)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="K",
        help="runs per endpoint, medians reported (default 3 with --compare, else 1)",
    )
    parser.add_argument(
        "--keep-queue", action="store_true", help="leave the queues in place afterwards"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show progress on stderr even if not a TTY"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument(
        "--region", help="region to sign for (default: AWS_REGION, the endpoint's host, us-east-1)"
    )
    parser.set_defaults(func=run)


def credentials_from(environ: Mapping[str, str]) -> Credentials | None:
    """AWS credentials from the usual variables, or None unless both key parts are set."""
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return Credentials(key, secret, environ.get("AWS_SESSION_TOKEN") or None)


def options_from(args: argparse.Namespace, environ: Mapping[str, str]) -> BenchOptions:
    """Validated options of a parsed ``bench`` command line.

    Raises:
        OptionsError: the flags cannot be used together or a value is out of range.
    """
    region = args.region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    return make_options(
        scenario=args.scenario,
        endpoint=args.endpoint,
        compare=args.compare,
        duration_s=args.duration,
        messages=args.messages,
        concurrency=args.concurrency,
        processes=args.processes,
        pipeline=args.pipeline,
        body_size=args.body_size,
        fifo=args.fifo,
        groups=args.groups,
        rate=args.rate,
        backlog=args.backlog,
        prefill=args.prefill,
        rounds=args.rounds,
        keep_queue=args.keep_queue,
        progress=args.progress,
        json_path=args.json,
        region=region or None,
    )


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the report (and write the JSON); return the exit status:
    0 when it ran (errors of the endpoint are part of the report), 1 when it could not
    run, 2 for unusable flags."""
    try:
        options = options_from(args, os.environ)
    except OptionsError as exc:
        print(f"ekiden bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Imported here so that `ekiden --help` and `ekiden serve` do not load the client.
    from ekiden.bench.progress import Progress
    from ekiden.bench.report import Report, machine_info
    from ekiden.bench.runner import BenchError, Runner

    stream = sys.stderr if options.progress or sys.stderr.isatty() else None
    started = _now()
    # SIGTERM unwinds like Ctrl-C, so the queues are deleted and the workers stopped.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        runs = Runner(options, credentials_from(os.environ), Progress(stream)).run()
    except BenchError as exc:
        print(f"ekiden bench: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    report = Report(options, runs, machine_info(), started, _now())
    sys.stdout.write(report.text())
    sys.stdout.flush()
    if options.json_path:
        with open(options.json_path, "wb") as out:
            out.write(report.json_bytes())
    return 0
