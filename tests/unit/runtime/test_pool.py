"""The worker pool runs real handler processes: results, errors, timeouts, crashes, import
failures, warm reuse, the context, the environment and the logs.

Handlers are Python files written into ``tmp_path``; each test drives a real
:class:`WorkerPool` on its own event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ekiden.core.functions import FunctionSpec, InvokeResult
from ekiden.runtime.pool import WorkerPool

T = TypeVar("T")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def handler(tmp_path: Path, source: str, *, module: str = "app", **spec: Any) -> FunctionSpec:
    """Write ``source`` as ``<tmp_path>/<module>.py`` and declare a function serving it."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    spec.setdefault("name", "hello")
    spec.setdefault("handler", f"{module}.handler")
    return FunctionSpec(code=str(tmp_path), **spec)


def with_pool(
    test: Callable[[WorkerPool, list[str]], Awaitable[T]], **options: Any
) -> tuple[T, list[str]]:
    """Run ``test`` against a fresh pool (closed afterwards); its result and the log lines."""
    logged: list[str] = []

    async def main() -> T:
        pool = WorkerPool(
            region="eu-west-1", account_id="123456789012", log_sink=logged.append, **options
        )
        try:
            return await test(pool, logged)
        finally:
            await pool.close(2.0)

    return asyncio.run(main()), logged


def body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def invoke_all(spec: FunctionSpec, *payloads: bytes) -> list[InvokeResult]:
    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        return [await pool.invoke(spec, payload) for payload in payloads]

    return with_pool(test)[0]


# --- results ---------------------------------------------------------------------------


def test_handler_return_values_become_json_payloads(tmp_path: Path) -> None:
    spec = handler(
        tmp_path,
        """
        def handler(event, context):
            return event.get("answer")
        """,
    )
    results = invoke_all(
        spec, b'{"answer": {"ok": [1, 2.5, "x"]}}', b"{}", b"", b'{"answer": "caf\\u00e9"}'
    )
    assert [r.payload for r in results] == [
        b'{"ok": [1, 2.5, "x"]}',
        b"null",
        b"null",
        b'"caf\\u00e9"',
    ]
    assert all(r.function_error is None and not r.timed_out for r in results)
    assert all(UUID.match(r.request_id) for r in results)


def test_a_raised_exception_gives_lambdas_error_document(tmp_path: Path) -> None:
    spec = handler(
        tmp_path,
        """
        def check(event):
            raise ValueError("amount must be positive: " + str(event["amount"]))

        def handler(event, context):
            check(event)
        """,
    )

    async def test(pool: WorkerPool, _: list[str]) -> InvokeResult:
        return await pool.invoke(spec, b'{"amount": -3}', request_id="req-1")

    result, logged = with_pool(test)
    assert result.function_error == "Unhandled"
    document = body(result)
    assert document["errorMessage"] == "amount must be positive: -3"
    assert document["errorType"] == "ValueError"
    assert document["requestId"] == "req-1"
    # Only user frames, formatted as traceback.format_list does (runtime frames cut).
    assert len(document["stackTrace"]) == 2
    assert document["stackTrace"][0].startswith(
        f'  File "{tmp_path / "app.py"}", line 6, in handler'
    )
    assert "in check\n    raise ValueError(" in document["stackTrace"][1]
    error_lines = [line for line in logged if "[ERROR] ValueError" in line]
    assert error_lines == [
        error_lines[0],
    ] and error_lines[0].startswith("[hello] [ERROR] ValueError: amount must be positive: -3\r")


def test_a_return_value_that_is_not_json_gives_a_marshal_error(tmp_path: Path) -> None:
    spec = handler(
        tmp_path,
        """
        def handler(event, context):
            return {"tags": {"a", "b"}}
        """,
    )
    (result,) = invoke_all(spec, b"{}")
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.MarshalError"
    assert body(result)["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_module_state_survives_between_invocations_of_a_warm_process(tmp_path: Path) -> None:
    spec = handler(
        tmp_path,
        """
        import os
        print("initialising")
        count = 0

        def handler(event, context):
            global count
            count += 1
            return {"count": count, "pid": os.getpid()}
        """,
    )

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        return [await pool.invoke(spec, b"{}") for _ in range(3)]

    results, logged = with_pool(test)
    assert [body(r)["count"] for r in results] == [1, 2, 3]
    assert len({body(r)["pid"] for r in results}) == 1
    assert logged.count("[hello] initialising") == 1
    assert "initialising" in results[0].log_tail  # the cold start's output is its log
    assert "Init Duration:" in results[0].log_tail
    assert "Init Duration:" not in results[1].log_tail


# --- timeouts and crashes --------------------------------------------------------------


def test_a_handler_past_its_timeout_is_killed_and_a_fresh_process_serves_the_next_call(
    tmp_path: Path,
) -> None:
    spec = handler(
        tmp_path,
        """
        import os, time

        def handler(event, context):
            if event.get("hang"):
                print("about to hang")
                time.sleep(60)
            return os.getpid()
        """,
        timeout_s=1,
    )

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        first = await pool.invoke(spec, b"{}")
        hung = await pool.invoke(spec, b'{"hang": true}', request_id="slow-1")
        after = await pool.invoke(spec, b"{}")
        return [first, hung, after]

    (first, hung, after), logged = with_pool(test)
    assert hung.timed_out and hung.function_error == "Unhandled"
    message = body(hung)["errorMessage"]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z slow-1 Task timed out after 1\.00 seconds",
        message,
    )
    assert 1000 <= hung.duration_ms < 2500
    assert "about to hang" in hung.log_tail and message in hung.log_tail
    assert "Status: timeout" in hung.log_tail
    with pytest.raises(ProcessLookupError):
        os.kill(int(first.payload), 0)  # the hung process is gone
    assert after.function_error is None and after.payload != first.payload
    assert any(line == f"[hello] {message}" for line in logged)


@pytest.mark.parametrize(
    ("crash", "reason"),
    [
        ("os._exit(3)", "exit status 3"),
        ("os.kill(os.getpid(), signal.SIGSEGV)", "signal: segmentation fault"),
        ("sys.exit(1)", "exit status 1"),
    ],
)
def test_a_process_that_dies_mid_invocation_gives_an_exit_error_and_is_replaced(
    tmp_path: Path, crash: str, reason: str
) -> None:
    spec = handler(
        tmp_path,
        f"""
        import os, signal, sys, threading, time

        def handler(event, context):
            if event.get("crash"):
                # A non-daemon thread must not keep a dying process alive.
                threading.Thread(target=time.sleep, args=(30,)).start()
                {crash}
            return "fine"
        """,
    )

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        crashed = await pool.invoke(spec, b'{"crash": true}', request_id="r-9")
        return [crashed, await pool.invoke(spec, b"{}")]

    (crashed, after), _ = with_pool(test)
    assert crashed.function_error == "Unhandled" and not crashed.timed_out
    assert body(crashed) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: r-9 Error: Runtime exited with error: {reason}",
    }
    assert crashed.duration_ms < 5000
    assert after.payload == b'"fine"' and after.function_error is None


def test_import_failures_give_lambdas_runtime_errors_and_a_fixed_module_loads_next_time(
    tmp_path: Path,
) -> None:
    missing_module = FunctionSpec(name="m", handler="nowhere.handler", code=str(tmp_path))
    missing_function = handler(tmp_path, "def other(e, c): return 1\n", module="lib", name="f")
    broken = handler(tmp_path, "import not_installed_package\n", module="broken", name="b")
    failing = handler(tmp_path, "raise RuntimeError('no config')\n", module="bad", name="c")

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        results = [
            await pool.invoke(spec, b"{}")
            for spec in (missing_module, missing_function, broken, failing)
        ]
        (tmp_path / "broken.py").write_text("def handler(e, c): return 'fixed'\n")
        results.append(await pool.invoke(broken, b"{}"))
        return results

    (module, function, dependency, raising, fixed), _ = with_pool(test)
    assert body(module) == {
        "errorMessage": "Unable to import module 'nowhere': No module named 'nowhere'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert module.function_error == "Unhandled"
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module" in module.log_tail
    assert body(function)["errorType"] == "Runtime.HandlerNotFound"
    assert body(function)["errorMessage"] == "Handler 'handler' missing on module 'lib'"
    assert body(dependency)["errorMessage"] == (
        "Unable to import module 'broken': No module named 'not_installed_package'"
    )
    assert body(raising)["errorType"] == "RuntimeError"
    assert body(raising)["errorMessage"] == "no config"
    assert fixed.payload == b'"fixed"'


def test_hostile_handlers_cannot_hang_or_break_the_pool(tmp_path: Path) -> None:
    spec = handler(
        tmp_path,
        """
        import sys, threading, time

        def chatter():
            for i in range(3):
                print("thread says", i)

        def handler(event, context):
            data = sys.stdin.read()  # stdin is empty, never the caller's terminal
            sys.stdout.write("x" * 1_000_000 + "\\n")
            for i in range(20000):
                print("line", i)
            print("no newline at the end", end="")
            threading.Thread(target=chatter).start()
            return {"stdin": data}
        """,
    )

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        return [await pool.invoke(spec, b"{}") for _ in range(2)]

    results, logged = with_pool(test)
    assert [r.payload for r in results] == [b'{"stdin": ""}'] * 2
    assert sum(1 for line in logged if line.startswith("[hello] line ")) == 40000
    assert max(len(line) for line in logged) <= 256 * 1024 + 10  # long lines are cut
    for result in results:
        assert len(result.log_tail.encode()) <= 4096
        assert result.log_tail.splitlines()[-1].startswith("REPORT RequestId: ")
        assert "line 19999\nno newline at the end" in result.log_tail
    # What a thread prints after the handler returned is logged too (it races the return).
    assert any("thread says 2" in line for line in logged)


# --- what the handler sees -------------------------------------------------------------


def test_the_context_carries_lambdas_fields_and_counts_down(tmp_path: Path) -> None:
    spec = handler(
        tmp_path,
        """
        import time

        def handler(event, context):
            before = context.get_remaining_time_in_millis()
            time.sleep(0.2)
            cc = context.client_context
            return {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "request_id": context.aws_request_id,
                "group": context.log_group_name,
                "stream": context.log_stream_name,
                "identity": context.identity,
                "custom": None if cc is None else cc.custom,
                "app": None if cc is None else cc.client.app_title,
                "before": before,
                "after": context.get_remaining_time_in_millis(),
            }
        """,
        name="ctx-fn",
        timeout_s=7,
        memory_mb=256,
    )
    encoded = base64.b64encode(b'{"custom": {"k": "v"}, "client": {"app_title": "demo"}}')

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        first = await pool.invoke(spec, b"{}", request_id="abc", client_context=encoded.decode())
        return [first, await pool.invoke(spec, b"{}")]

    (seen, plain), _ = with_pool(test)
    fields = body(seen)
    assert fields["function_name"] == "ctx-fn"
    assert fields["function_version"] == "$LATEST"
    assert fields["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:ctx-fn"
    assert fields["memory"] == 256
    assert fields["request_id"] == "abc"
    assert fields["group"] == "/aws/lambda/ctx-fn"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", fields["stream"])
    assert fields["identity"] is None
    assert (fields["custom"], fields["app"]) == ({"k": "v"}, "demo")
    assert 6800 <= fields["before"] <= 7000
    assert 150 <= fields["before"] - fields["after"] <= 1000
    assert body(plain)["custom"] is None and body(plain)["stream"] == fields["stream"]


def test_the_handler_environment_is_the_parents_plus_the_functions_plus_lambdas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EKIDEN_TEST_INHERITED", "from-parent")
    source = """
        import os

        def handler(event, context):
            return {k: os.environ.get(k) for k in event["keys"]}
        """
    spec = handler(
        tmp_path, source, name="env-fn", environment={"TABLE": "orders", "AWS_REGION": "x"}
    )
    own_endpoint = handler(
        tmp_path, source, name="own", environment={"AWS_ENDPOINT_URL": "http://elsewhere"}
    )
    keys = [
        "EKIDEN_TEST_INHERITED", "TABLE", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION",
        "AWS_DEFAULT_REGION", "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL",
    ]  # fmt: skip
    event = json.dumps({"keys": [*keys, "AWS_LAMBDA_LOG_STREAM_NAME"]}).encode()

    async def test(pool: WorkerPool, _: list[str]) -> list[InvokeResult]:
        return [await pool.invoke(spec, event), await pool.invoke(own_endpoint, event)]

    (seen, own), _ = with_pool(test, endpoint_url="http://127.0.0.1:9324")
    env = body(seen)
    assert [env[k] for k in keys] == [
        "from-parent", "orders", "env-fn", "$LATEST", "128", "3", "/aws/lambda/env-fn",
        "eu-west-1", "eu-west-1", str(tmp_path.resolve()), "app.handler",
        "http://127.0.0.1:9324", "http://127.0.0.1:9324", "http://127.0.0.1:9324", None,
    ]  # fmt: skip
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    # A function that names its own endpoint keeps it for every service.
    assert body(own)["AWS_ENDPOINT_URL"] == "http://elsewhere"
    assert body(own)["AWS_ENDPOINT_URL_SQS"] is None


def test_output_and_log_records_reach_the_sink_tagged_and_framed_by_start_end_report(
    tmp_path: Path,
) -> None:
    spec = handler(
        tmp_path,
        """
        import logging, sys
        logging.getLogger().setLevel(logging.INFO)

        def handler(event, context):
            print("to stdout")
            print("to stderr", file=sys.stderr)
            logging.info("processed %d records", 3)
            return None
        """,
        name="logs",
    )

    async def test(pool: WorkerPool, _: list[str]) -> InvokeResult:
        return await pool.invoke(spec, b"{}", request_id="rid-7")

    result, logged = with_pool(test)
    assert logged[0] == "[logs] START RequestId: rid-7 Version: $LATEST"
    assert "[logs] to stdout" in logged and "[logs] to stderr" in logged
    (record,) = [line for line in logged if "processed" in line]
    assert re.fullmatch(
        r"\[logs\] \[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\trid-7\tprocessed 3 records",
        record,
    )
    assert logged[-2] == "[logs] END RequestId: rid-7"
    assert re.fullmatch(
        r"\[logs\] REPORT RequestId: rid-7\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms"
        r"\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms",
        logged[-1],
    )
    # The tail is the same lines, untagged, START first.
    assert result.log_tail.splitlines() == [line.removeprefix("[logs] ") for line in logged]
