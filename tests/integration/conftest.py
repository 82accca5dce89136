"""Fixtures shared by the integration tests of functions: a module defines ``app`` (a
``tests.support.functions.FunctionsApp`` with its handlers and config) and gets ``server``
(``ekiden serve --config`` of that app, for the whole module) and ``client`` (boto3 SQS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.functions import FunctionsApp, sqs
from tests.support.server import EkidenProcess


@pytest.fixture(scope="module")
def server(app: FunctionsApp) -> Iterator[EkidenProcess]:
    with app.server() as server:
        yield server


@pytest.fixture(scope="module")
def client(server: EkidenProcess) -> Any:
    return sqs(server.endpoint)
