"""The real aws-cli (v1, installed next to this interpreter) as the tests run it: a
subprocess with ``--endpoint-url``, dummy credentials and empty config files, exactly as
a user would type it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AWS = Path(sys.executable).parent / "aws"


@dataclass
class AwsCli:
    """Runs ``aws [service...] <command> ...`` against one endpoint; ``service`` is put
    before every command (``("sqs",)``), or empty when each command names its own."""

    endpoint: str
    env: dict[str, str]
    service: tuple[str, ...] = ()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS), "--endpoint-url", self.endpoint, "--region", "us-east-1",
             "--output", "json", *self.service, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip

    def __call__(self, *args: str) -> dict[str, Any]:
        """Run a command that must succeed; its JSON output (``{}`` when it prints nothing)."""
        done = self.run(*args)
        command = " ".join((*self.service, *args))
        assert done.returncode == 0, f"aws {command} failed:\n{done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else {}


def aws_cli_env(directory: Path) -> dict[str, str]:
    """The environment of an aws-cli run: dummy credentials, empty config files in
    ``directory``, nothing of the caller's AWS_* or EKIDEN_* settings."""
    assert AWS.exists(), f"aws-cli is not installed next to {sys.executable}"
    config = directory / "aws-config"
    credentials = directory / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EKIDEN_"))}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDEKIDENCLI",
        AWS_SECRET_ACCESS_KEY="dummy-secret",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",  # a server error must show up, not be retried away
    )
    return env
