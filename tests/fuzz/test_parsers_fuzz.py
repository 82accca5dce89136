"""Fuzzing of the protocol parsers in-process: the form parser, both SQS codecs, SNS's
Query codec and the Lambda REST routes, over a real broker on a real SQLite store.

Every request is drawn from the service models (``tests/fuzz/shapes.py``): right and wrong
types, missing members, huge numbers, odd unicode, nested junk. Whatever arrives, a front
end must answer (no exception escapes it) and must not answer a client's mistake with a
5xx: a 500 here is a bug of ours that a client could trigger at will.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ekiden.core.clock import FakeClock
from ekiden.core.errors import MalformedRequest
from ekiden.core.functions import FunctionSpec
from ekiden.core.services.broker import Broker
from ekiden.core.services.functions import FunctionsService
from ekiden.protocols.awslambda.frontend import LambdaFrontend
from ekiden.protocols.sns import sns_model
from ekiden.protocols.sns.frontend import SnsFrontend
from ekiden.protocols.sqs.frontend import SqsFrontend, WireResponse
from ekiden.protocols.sqs.operations import RequestContext
from ekiden.protocols.wire.model import sqs_model
from ekiden.protocols.wire.query import parse_form
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.topics import SqliteTopicStore
from tests.fuzz.shapes import junk, odd_text, params_for, to_form
from tests.support.invokers import RecordingInvoker

ACCOUNT = "000000000000"
REGION = "us-east-1"
BASE_URL = "http://localhost:4566"
T = TypeVar("T")


@dataclass
class Harness:
    """The three front ends on one broker, driven from one event loop that outlives the
    examples (a store per example would make each example cost an open and a close)."""

    loop: asyncio.AbstractEventLoop
    sqs: SqsFrontend
    sns: SnsFrontend
    functions: LambdaFrontend
    strings: tuple[str, ...]  # real queue URLs, ARNs and names to aim requests at

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def ctx(self) -> RequestContext:
        return RequestContext(base_url=BASE_URL, sender_id=ACCOUNT, request_id="fuzz")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    path: Path = tmp_path_factory.mktemp("fuzz-parsers")

    async def start() -> tuple[Any, ...]:
        clock = FakeClock()
        store = await SqliteStore.open(path)
        broker = Broker(store, clock, ACCOUNT, REGION, topic_store=SqliteTopicStore(store.writer))
        await broker.start()
        queue = await broker.queues.create("fuzz", {}, {})
        fifo = await broker.queues.create("fuzz.fifo", {"FifoQueue": "true"}, {})
        assert broker.topics is not None
        topic: str = await broker.topics.create_topic("fuzz-topic", {}, ())
        service = FunctionsService(
            (FunctionSpec("fn", "app:handle"),),
            SqliteMappingStore(store.writer),
            broker.queues,
            broker.messages,
            clock,
            ACCOUNT,
            REGION,
        )
        await service.start()
        service.invoker = RecordingInvoker()
        strings = (
            f"{BASE_URL}/{ACCOUNT}/fuzz",
            f"{BASE_URL}/{ACCOUNT}/fuzz.fifo",
            queue.arn,
            fifo.arn,
            topic,
            "fuzz",
            "fn",
        )
        frontends = (
            SqsFrontend(broker),
            SnsFrontend(broker.topics),
            LambdaFrontend(service, clock.now_ms()),
        )
        return store, broker, service, frontends, strings

    store, broker, service, (sqs, sns, functions), strings = loop.run_until_complete(start())
    yield Harness(loop, sqs, sns, functions, strings)

    async def stop() -> None:
        await service.stop()
        await broker.stop()
        await store.close()

    loop.run_until_complete(stop())
    loop.close()


def assert_client_error_or_success(answer: WireResponse) -> None:
    """An answer, and not a 5xx: a client's input is never the server's fault."""
    assert isinstance(answer, WireResponse)
    assert 200 <= answer.status < 500, (answer.status, answer.body[:500])


SQS = sqs_model()
SNS = sns_model()
sqs_action = st.sampled_from(SQS.operation_names)
sns_action = st.sampled_from(sorted(set(SNS.operation_names)))


@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode)))
def test_parse_form_returns_a_dict_or_raises_malformed_request(body: bytes) -> None:
    try:
        form = parse_form(body)
    except MalformedRequest:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in form.items())


@given(form=st.dictionaries(odd_text, odd_text, max_size=6))
def test_parse_form_reads_back_what_urlencode_wrote(form: dict[str, str]) -> None:
    clean = {
        k.encode("utf-8", "replace").decode(): v.encode("utf-8", "replace").decode()
        for k, v in form.items()
        if k
    }
    assert parse_form(urlencode(clean).encode()) == clean


@given(data=st.data(), action=sqs_action)
def test_sqs_json_requests_of_any_shape_get_an_answer_below_500(
    harness: Harness, data: st.DataObject, action: str
) -> None:
    params = data.draw(params_for(SQS, action, harness.strings))
    body = json.dumps(params).encode()  # ensure_ascii: lone surrogates arrive as \ud800
    answer = harness.run(harness.sqs.handle_json(f"AmazonSQS.{action}", body, harness.ctx()))
    assert_client_error_or_success(answer)


@given(body=st.one_of(st.binary(max_size=200), junk.map(lambda j: json.dumps(j).encode())))
def test_sqs_json_bodies_that_are_not_requests_get_an_answer_below_500(
    harness: Harness, body: bytes
) -> None:
    answer = harness.run(harness.sqs.handle_json("AmazonSQS.SendMessage", body, harness.ctx()))
    assert_client_error_or_success(answer)


@given(data=st.data(), action=sqs_action, by_path=st.booleans())
def test_sqs_query_requests_of_any_shape_get_an_answer_below_500(
    harness: Harness, data: st.DataObject, action: str, by_path: bool
) -> None:
    form = to_form(SQS, action, data.draw(params_for(SQS, action, harness.strings)))
    params = parse_form(urlencode(form).encode())
    path = f"/{ACCOUNT}/fuzz" if by_path else "/"
    answer = harness.run(harness.sqs.handle_query(params, path, harness.ctx()))
    assert_client_error_or_success(answer)


@given(data=st.data(), action=sns_action)
def test_sns_query_requests_of_any_shape_get_an_answer_below_500(
    harness: Harness, data: st.DataObject, action: str
) -> None:
    form = to_form(SNS, action, data.draw(params_for(SNS, action, harness.strings)))
    params = parse_form(urlencode(form).encode())
    answer = harness.run(harness.sns.handle_query(params, harness.ctx()))
    assert_client_error_or_success(answer)


# The HTTP layer reads the request line and headers as latin-1: that is all a handler sees.
wire_text = odd_text.map(lambda s: s.encode("utf-8", "replace").decode("latin-1"))

_LAMBDA_PATHS = [
    "/2015-03-31/functions",
    "/2015-03-31/functions/",
    "/2015-03-31/functions/fn",
    "/2015-03-31/functions/fn/configuration",
    "/2015-03-31/functions/fn/invocations",
    "/2015-03-31/functions/nope/invocations",
    "/2015-03-31/event-source-mappings",
    "/2015-03-31/event-source-mappings/",
    "/2015-03-31/event-source-mappings/00000000-0000-0000-0000-000000000000",
    "/2015-03-31/",
    "/2015-03-31",
]
lambda_path = st.one_of(
    st.sampled_from(_LAMBDA_PATHS),
    st.builds(
        # Lone surrogates become the bytes of their UTF-8 form: invalid UTF-8 on the wire.
        lambda p, s: p + "/" + quote(s, safe="", errors="surrogatepass"),
        st.sampled_from(_LAMBDA_PATHS),
        odd_text,
    ),
    st.builds(lambda s: "/2015-03-31/" + s, wire_text),
)
lambda_query = st.one_of(
    st.just(""),
    st.dictionaries(
        st.sampled_from(["MaxItems", "Marker", "FunctionName", "EventSourceArn", "Qualifier"]),
        odd_text.map(lambda s: s.encode("utf-8", "replace").decode()),
        max_size=3,
    ).map(urlencode),
    wire_text,
)
lambda_body = st.one_of(
    st.just(b""),
    st.binary(max_size=200),
    junk.map(lambda j: json.dumps(j).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "FunctionName": st.one_of(st.just("fn"), junk),
            "EventSourceArn": st.one_of(st.sampled_from(["arn:aws:sqs:us-east-1:0:x"]), junk),
            "BatchSize": junk,
            "Enabled": junk,
            "MaximumBatchingWindowInSeconds": junk,
            "FilterCriteria": junk,
            "ScalingConfig": junk,
            "FunctionResponseTypes": junk,
        },
    ).map(lambda d: json.dumps(d).encode()),
)
lambda_headers = st.dictionaries(
    st.sampled_from(
        ["x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context", "content-type"]
    ),
    st.one_of(
        st.sampled_from(["RequestResponse", "Event", "DryRun", "Tail", "None", "e30="]),
        wire_text,
    ),
    max_size=3,
)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
    path=lambda_path,
    query=lambda_query,
    body=lambda_body,
    headers=lambda_headers,
)
def test_lambda_rest_requests_of_any_shape_get_an_answer_below_500(
    harness: Harness, method: str, path: str, query: str, body: bytes, headers: dict[str, str]
) -> None:
    answer = harness.run(harness.functions.handle(method, path, query, headers, body, "fuzz"))
    assert_client_error_or_success(answer)
