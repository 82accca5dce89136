"""Start and stop a real ``ekiden serve`` process on port 0 with its own data directory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_LISTENING = re.compile(r"listening on (https?)://([\d.]+):(\d+)")


class EkidenProcess:
    """One ``ekiden serve`` child process. ``start`` waits until it accepts requests.

    The process log is kept in memory (``log_text``) so tests can assert on what the
    server logged, and the same data directory can be reused across restarts.
    """

    def __init__(self, data_dir: Path, *extra_args: str, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.scheme = "http"  # "https" once a server started with --tls-cert says so
        self._log: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log_text(self) -> str:
        return "".join(self._log)

    def start(self, timeout_s: float = 20.0) -> EkidenProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EKIDEN_")}
        env.update(self.env or {})
        self._log = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ekiden",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        ready = threading.Event()
        proc = self.proc

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self._log.append(line)
                found = _LISTENING.search(line)
                if found and not ready.is_set():
                    self.scheme = found.group(1)
                    self.port = int(found.group(3))
                    ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"ekiden did not start:\n{self.log_text}")
        return self

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout_s)
        self._join()
        return code

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._join()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None

    def __enter__(self) -> EkidenProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
