"""The runtime's supervisor against a live ekiden: a mapping that cannot start is shown
as failed and logged, and the others keep polling."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ekiden.core.functions import EventSourceMapping, FunctionSpec
from ekiden.runtime.pool import WorkerPool
from ekiden.runtime.sqs_client import SqsClient
from ekiden.runtime.supervisor import Runtime
from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

REGION = "us-east-1"
ACCOUNT = "000000000000"


def test_a_mapping_whose_poller_cannot_start_is_failed_and_logged(
    ekiden: EkidenProcess, queue_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sqs_client(ekiden.endpoint).create_queue(QueueName=queue_name)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return None\n")
    function = FunctionSpec("noop", "app:handler", code=str(tmp_path))
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    # A filter the API would have refused (a stored mapping of an older version, say).
    broken = EventSourceMapping("u-1", "noop", arn, filter_patterns=("{not json",))

    async def scenario() -> str:
        async with SqsClient(ekiden.endpoint, region=REGION) as sqs:
            pool = WorkerPool(region=REGION, account_id=ACCOUNT)
            runtime = Runtime(sqs=sqs, invoker=pool, functions={"noop": function}, region=REGION)
            runtime.apply([broken])
            for _ in range(200):
                await asyncio.sleep(0.05)
                if runtime.stats()[0].state == "Failed":
                    break
            state = runtime.stats()[0].state
            await runtime.close(1)
            await pool.close(1)
            return state

    with caplog.at_level(logging.ERROR, logger="ekiden.runtime"):
        state = asyncio.run(scenario())
    assert state == "Failed"
    assert "cannot start polling" in caplog.text
