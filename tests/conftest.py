"""Fixtures: a real ekiden server per test session (and fresh ones on demand), real clients."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import PROTOCOLS, sqs_client
from tests.support.raw_http import RawSqs
from tests.support.server import EkidenProcess
from tests.support.sns import sns_client

_names = itertools.count()


@pytest.fixture(scope="session")
def ekiden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EkidenProcess]:
    """One shared server for behavioural tests (tests use their own queue names)."""
    with EkidenProcess(tmp_path_factory.mktemp("ekiden-data")) as server:
        yield server


@pytest.fixture
def fresh_ekiden(tmp_path: Path) -> Iterator[Callable[..., EkidenProcess]]:
    """A factory of servers with their own data dir, stopped after the test."""
    started: list[EkidenProcess] = []

    def make(*args: str, data_dir: Path | None = None) -> EkidenProcess:
        server = EkidenProcess(data_dir or tmp_path / f"data{len(started)}", *args)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sqs(ekiden: EkidenProcess, protocol: str) -> Any:
    """A boto3 client of the shared server, once per wire protocol."""
    return sqs_client(ekiden.endpoint, protocol)


@pytest.fixture
def raw(ekiden: EkidenProcess) -> RawSqs:
    """Hand-made HTTP requests to the shared server, over either protocol."""
    return RawSqs(ekiden.endpoint)


@pytest.fixture
def queue_name(request: pytest.FixtureRequest) -> str:
    """A queue name unique to this test (and worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:50]
    return f"{base}-{worker}-{next(_names)}"


@pytest.fixture
def sns(ekiden: EkidenProcess) -> Any:
    """A boto3 SNS client of the shared server."""
    return sns_client(ekiden.endpoint)


@pytest.fixture
def topic(sns: Any, queue_name: str) -> str:
    """A fresh standard topic, named like the test's queue."""
    arn: str = sns.create_topic(Name=queue_name)["TopicArn"]
    return arn
