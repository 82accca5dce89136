"""``ekiden worker``: run only the functions runtime, in its own process, against any SQS
endpoint (an ekiden broker started with ``--no-runtime``, or Amazon SQS itself).

It reads the same configuration as ``ekiden serve`` (``--config`` > ``EKIDEN_CONFIG`` >
``./ekiden.toml``; ``EKIDEN_*``), takes the ``[functions.*]`` and
``[[event_source_mappings]]`` it declares, and polls the mapped queues over HTTP:

1. Each mapping's queue is resolved: a name through GetQueueUrl, created with
   CreateQueue when it does not exist (with the attributes of a ``[[queues]]`` entry of
   the same name, if any); an ARN through GetQueueUrl of its last part (never created:
   while it is missing the runtime keeps retrying). GetQueueAttributes gives the
   QueueArn, whether it is FIFO and its VisibilityTimeout. An ARN must name a queue of
   the worker's region and of the account the endpoint answers for (GetQueueUrl finds
   names there only): another one is a configuration error, never a different queue.
2. Each mapping is checked by Lambda's rules (:mod:`ekiden.core.rules.mappings`) and
   given the stable uuid of its function and queue ARN.
3. The runtime polls until SIGTERM or SIGINT; then polling stops at once and batches in
   flight get up to their function's timeout to finish. A second signal kills the
   handler processes of the batches in flight (their messages reappear after the
   visibility timeout) and ends the process at once.

Credentials come from ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
``AWS_SESSION_TOKEN``; without them requests carry an unsigned ``Authorization`` header,
which ekiden accepts. The signing region is ``--region``, else the configured region.

Exit status: 0 after a signal-initiated stop; 128 + the signal's number when a second
signal cut it short; 2 for configuration errors (including a mapping Lambda would refuse,
or a queue ARN the endpoint cannot serve); 1 when the endpoint refuses to resolve or
create a queue.
"""

from __future__ import annotations

import argparse
import os
import ssl
from collections.abc import Mapping
from pathlib import Path

from ekiden.bench.sigv4 import Credentials
from ekiden.cli.logs import configure_logging
from ekiden.cli.settings import add_config_argument, settings_for
from ekiden.config import ConfigError

__all__ = ["credentials_from_env", "register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``worker`` subcommand to the top-level parser."""
    parser = subparsers.add_parser(
        "worker",
        help="run the functions runtime against an SQS endpoint",
        description=(
            "Poll the queues of the event source mappings declared in the config file and "
            "run their functions, against any SQS endpoint (ekiden or AWS)."
        ),
    )
    parser.add_argument(
        "--endpoint", required=True, metavar="URL", help="SQS endpoint, http(s)://host[:port]"
    )
    add_config_argument(parser)
    parser.add_argument("--region", help="signing region (default: the configured region)")
    parser.add_argument(
        "--ca-file", metavar="PEM", help="CA certificates for an https endpoint (default: system)"
    )
    parser.set_defaults(func=run)


def credentials_from_env(env: Mapping[str, str]) -> Credentials | None:
    """AWS credentials from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
    ``AWS_SESSION_TOKEN``; ``None`` when neither key is set (requests go unsigned).

    Raises:
        ConfigError: only one of the two keys is set.
    """
    key_id = env.get("AWS_ACCESS_KEY_ID", "")
    secret = env.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        missing = "AWS_ACCESS_KEY_ID" if not key_id else "AWS_SECRET_ACCESS_KEY"
        raise ConfigError(f"environment variable {missing} is needed with the other AWS key")
    return Credentials(key_id, secret, env.get("AWS_SESSION_TOKEN") or None)


def _ca_file(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    try:  # load it now, so that a bad file stops the start rather than the first request
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"--ca-file {value}: not a readable PEM file of CA certificates ({exc})"
        ) from None
    return path


def run(args: argparse.Namespace) -> int:
    """Load the settings and run the runtime until SIGTERM/SIGINT; return the exit status.

    Raises:
        ConfigError: the configuration, a flag, or a declared mapping is unusable.
    """
    settings = settings_for(args, {"region": args.region}, os.environ)
    if not settings.event_source_mappings:
        raise ConfigError(
            "no [[event_source_mappings]] are declared: the worker has nothing to poll"
        )
    credentials = credentials_from_env(os.environ)
    ca_file = _ca_file(args.ca_file)
    configure_logging(settings.log_level)
    # Imported here so that `ekiden --help` and other subcommands do not load the runtime.
    from ekiden.cli.worker_run import run_worker

    return run_worker(settings, args.endpoint, credentials=credentials, ca_file=ca_file)
