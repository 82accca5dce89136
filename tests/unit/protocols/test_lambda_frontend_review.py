"""The Lambda front end over the real functions service and SQLite store: fixes of the
review against AWS (page caps of the list operations, the code of an oversized event,
payloads Python's parser reads but JSON does not have, nesting that would crash it).

The invoker is a small recorder: it stands for the runtime's worker pool, which has its
own tests; the front end, service, broker and store are the real ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from ekiden.core.clock import FakeClock
from ekiden.core.functions import FunctionSpec
from ekiden.core.services.broker import Broker
from ekiden.core.services.function_invoke import MAX_ASYNC_PAYLOAD_BYTES
from ekiden.core.services.functions import FunctionsService
from ekiden.protocols.awslambda.frontend import LambdaFrontend
from ekiden.protocols.sqs.frontend import WireResponse
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.store import SqliteStore
from tests.support.invokers import RecordingInvoker

ACCOUNT = "000000000000"
REGION = "us-east-1"
FUNCTIONS = tuple(FunctionSpec(f"fn-{i:03d}", "app:handle") for i in range(60))
INVOKE_PATH = "/2015-03-31/functions/fn-000/invocations"


class Api:
    """A front end on a functions service on a broker on a store in ``location``."""

    def __init__(self, frontend: LambdaFrontend, broker: Broker, invoker: RecordingInvoker):
        self.frontend = frontend
        self.broker = broker
        self.invoker = invoker

    async def call(
        self, method: str, path: str, query: str = "", body: bytes = b"", **headers: str
    ) -> WireResponse:
        lowered = {name.lower().replace("_", "-"): value for name, value in headers.items()}
        return await self.frontend.handle(method, path, query, lowered, body, "request-1")


def run(tmp_path: Path, scenario: Callable[[Api], Awaitable[None]]) -> None:
    async def main() -> None:
        clock = FakeClock()
        store = await SqliteStore.open(tmp_path / "data")
        broker = Broker(store, clock, ACCOUNT, REGION)
        await broker.start()
        service = FunctionsService(
            FUNCTIONS,
            SqliteMappingStore(store.writer),
            broker.queues,
            broker.messages,
            clock,
            ACCOUNT,
            REGION,
        )
        await service.start()
        invoker = RecordingInvoker()
        service.invoker = invoker
        try:
            await scenario(Api(LambdaFrontend(service, clock.now_ms()), broker, invoker))
        finally:
            await service.stop()
            await broker.stop()
            await store.close()

    asyncio.run(main())


def document(response: WireResponse) -> dict[str, Any]:
    parsed = orjson.loads(response.body)
    assert isinstance(parsed, dict)
    return parsed


def error_code(response: WireResponse) -> str:
    return dict(response.headers)["x-amzn-ErrorType"]


def test_list_functions_answers_at_most_50_a_page_whatever_max_items_asks(
    tmp_path: Path,
) -> None:
    async def scenario(api: Api) -> None:
        first = await api.call("GET", "/2015-03-31/functions", "MaxItems=10000")
        assert first.status == 200
        page = document(first)
        assert [f["FunctionName"] for f in page["Functions"]] == [f"fn-{i:03d}" for i in range(50)]
        assert page["NextMarker"] == "fn-049"
        rest = document(
            await api.call("GET", "/2015-03-31/functions", "MaxItems=10000&Marker=fn-049")
        )
        assert [f["FunctionName"] for f in rest["Functions"]] == [
            f"fn-{i:03d}" for i in range(50, 60)
        ]
        assert "NextMarker" not in rest

    run(tmp_path, scenario)


def test_list_event_source_mappings_answers_at_most_100_a_page_whatever_max_items_asks(
    tmp_path: Path,
) -> None:
    async def scenario(api: Api) -> None:
        created: set[str] = set()
        for queue in ("a", "b"):
            arn = (await api.broker.queues.create(queue, {}, {})).arn
            for function in FUNCTIONS:
                body = json.dumps({"FunctionName": function.name, "EventSourceArn": arn})
                response = await api.call(
                    "POST", "/2015-03-31/event-source-mappings", body=body.encode()
                )
                assert response.status == 202, response.body
                created.add(document(response)["UUID"])
        first = document(await api.call("GET", "/2015-03-31/event-source-mappings", "MaxItems=500"))
        assert len(first["EventSourceMappings"]) == 100
        marker = first["NextMarker"]
        rest = document(
            await api.call(
                "GET", "/2015-03-31/event-source-mappings", f"MaxItems=500&Marker={marker}"
            )
        )
        assert "NextMarker" not in rest
        seen = [m["UUID"] for m in first["EventSourceMappings"] + rest["EventSourceMappings"]]
        assert len(seen) == len(created) == 120
        assert set(seen) == created

    run(tmp_path, scenario)


def test_an_event_over_the_asynchronous_limit_is_request_entity_too_large(
    tmp_path: Path,
) -> None:
    async def scenario(api: Api) -> None:
        payload = json.dumps({"x": "a" * MAX_ASYNC_PAYLOAD_BYTES}).encode()
        response = await api.call("POST", INVOKE_PATH, body=payload, x_amz_invocation_type="Event")
        assert response.status == 413
        assert error_code(response) == "RequestEntityTooLargeException"
        assert document(response)["message"] == (
            f"{len(payload)} byte payload is too large for the Event invocation type "
            f"(limit {MAX_ASYNC_PAYLOAD_BYTES} bytes)"
        )
        # the same payload is within the synchronous limit
        synchronous = await api.call("POST", INVOKE_PATH, body=payload)
        assert synchronous.status == 200
        assert api.invoker.payloads == [payload]

    run(tmp_path, scenario)


@pytest.mark.parametrize("payload", [b"NaN", b'{"a": Infinity}', b"[-Infinity]"])
def test_nan_and_infinity_are_not_json_payloads(tmp_path: Path, payload: bytes) -> None:
    async def scenario(api: Api) -> None:
        for invocation_type in ("RequestResponse", "Event", "DryRun"):
            response = await api.call(
                "POST", INVOKE_PATH, body=payload, x_amz_invocation_type=invocation_type
            )
            assert response.status == 400, invocation_type
            assert error_code(response) == "InvalidRequestContentException"
        assert api.invoker.payloads == []

    run(tmp_path, scenario)


@pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_a_payload_nested_too_deeply_is_invalid_content_not_a_server_error(
    tmp_path: Path, payload: bytes
) -> None:
    async def scenario(api: Api) -> None:
        for invocation_type in ("RequestResponse", "Event"):
            response = await api.call(
                "POST", INVOKE_PATH, body=payload, x_amz_invocation_type=invocation_type
            )
            assert response.status == 400, invocation_type
            assert error_code(response) == "InvalidRequestContentException"
            assert "nested too deeply" in document(response)["message"]
        assert api.invoker.payloads == []

    run(tmp_path, scenario)
