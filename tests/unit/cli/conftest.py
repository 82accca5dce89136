"""Fixtures of the CLI tests: a clean environment, and worker processes stopped after
each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ekiden.cli import worker as worker_command
from tests.support.worker import WorkerProcess


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EKIDEN_* or AWS key of the developer's shell, and no ./ekiden.toml, leaks in."""
    for name in list(os.environ):
        if name.startswith("EKIDEN_") or name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(worker_command, "configure_logging", lambda level: None)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(endpoint: str, *extra: str) -> WorkerProcess:
        worker = WorkerProcess(tmp_path, endpoint, *extra)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()
