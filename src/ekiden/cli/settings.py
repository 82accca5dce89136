"""Shared by the subcommands that need :class:`~ekiden.config.Settings`.

The config file is chosen as: ``--config PATH`` > ``EKIDEN_CONFIG`` > ``./ekiden.toml``
if that file exists > none. A file named explicitly (flag or variable) must exist.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from ekiden.config import CONFIG_FILE_ENV, ConfigError, Settings, load_settings

__all__ = ["DEFAULT_CONFIG_FILE", "add_config_argument", "resolve_config_file", "settings_for"]

DEFAULT_CONFIG_FILE = Path("ekiden.toml")


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--config PATH`` to a subcommand parser (stored as ``args.config``)."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=(
            f"TOML config file (default: ${CONFIG_FILE_ENV}, else ./{DEFAULT_CONFIG_FILE} "
            "if it exists)"
        ),
    )


def resolve_config_file(flag: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """Return the config file to read, or ``None``.

    Raises:
        ConfigError: the file named by ``--config`` or ``EKIDEN_CONFIG`` does not exist.
    """
    for value, source in ((flag, "--config"), (env.get(CONFIG_FILE_ENV), CONFIG_FILE_ENV)):
        if value:
            path = Path(value).expanduser()
            if not (path if path.is_absolute() else cwd / path).is_file():
                raise ConfigError(f"config file {value} (from {source}) does not exist")
            return path
    default = cwd / DEFAULT_CONFIG_FILE
    return DEFAULT_CONFIG_FILE if default.is_file() else None


def settings_for(
    args: argparse.Namespace, overrides: Mapping[str, object], env: Mapping[str, str]
) -> Settings:
    """Load the settings for a subcommand: config file (from ``args.config``), env, flags."""
    config_file = resolve_config_file(args.config, env, Path.cwd())
    return load_settings(config_file, env, overrides)
