"""``ekiden serve``: run the broker in the foreground until it is told to stop."""

from __future__ import annotations

import argparse
import dataclasses
import os

from ekiden.cli.logs import configure_logging
from ekiden.cli.settings import add_config_argument, settings_for
from ekiden.config import LOG_LEVELS

__all__ = ["register", "run"]

# Settings that have a flag; each flag's dest is the setting's name. Every flag defaults to
# None ("not given"), so the config file and the environment decide unless it is given.
_OVERRIDES = (
    "host",
    "port",
    "data_dir",
    "log_level",
    "commit_interval_ms",
    "max_body_bytes",
    "public_url",
    "tls_cert",
    "tls_key",
    "runtime_enabled",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand to the top-level parser."""
    parser = subparsers.add_parser(
        "serve",
        help="run the broker",
        description="Run the SQS-compatible broker in the foreground.",
    )
    add_config_argument(parser)
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", help="TCP port; 0 picks a free one (default 9324)")
    parser.add_argument(
        "--data-dir", metavar="DIR", help="directory of the store (default ./ekiden-data)"
    )
    parser.add_argument(
        "--log-level", metavar="LEVEL", help=f"one of {', '.join(LOG_LEVELS)} (default info)"
    )
    parser.add_argument(
        "--commit-interval-ms",
        metavar="MS",
        help="extra wait before a group commit (default 0)",
    )
    parser.add_argument("--max-body-bytes", metavar="N", help="largest HTTP request body accepted")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="http(s) URL clients reach ekiden at, for queue URLs and SNS message links "
        "(default: the request's Host header)",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="certificate chain (server's certificate first); with --tls-key the port "
        "speaks HTTPS instead of HTTP",
    )
    parser.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert (unencrypted)")
    parser.add_argument(
        "--no-runtime",
        dest="runtime_enabled",
        action="store_const",
        const=False,
        default=None,
        help="do not run functions in this process (an `ekiden worker` does; "
        "[runtime] enabled = false)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve without authentication on an address other than loopback "
        "(no [[auth.keys]] configured); never in production",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the settings, configure logging and serve until shutdown; return the exit code.

    Raises:
        ConfigError: the configuration is unusable (reported by ``main``).
    """
    overrides = {name: getattr(args, name) for name in _OVERRIDES}
    settings = settings_for(args, overrides, os.environ)
    configure_logging(settings.log_level)
    if args.insecure:  # checked by the server before it opens anything
        settings = dataclasses.replace(
            settings, auth=dataclasses.replace(settings.auth, allow_insecure=True)
        )
    # Imported here so that `ekiden --help` and other subcommands do not load the server.
    from ekiden.server.main import serve

    return serve(settings)
