"""``python -m ekiden worker`` as a child process of a test, and helpers to watch what it
does to a live ekiden."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class WorkerProcess:
    """``python -m ekiden worker`` in ``cwd``; its log (stdout and stderr) kept in memory."""

    def __init__(self, cwd: Path, endpoint: str, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EKIDEN_", "AWS_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ekiden", "worker", "--endpoint", endpoint, *extra],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self._lines)

    def wait_for_log(self, pattern: str, timeout_s: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log)
            if found:
                return found
            if self.proc.poll() is not None:
                self._reader.join(2)
                found = re.search(pattern, self.log)
                if found:
                    return found
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in the worker's log:\n{self.log}")

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, then the exit status (the process is killed if it does not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the worker did not stop:\n{self.log}") from None
        self._reader.join(2)
        return status


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def queue_is_empty(sqs: Any, url: str) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return bool(
        attributes
        == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    )
