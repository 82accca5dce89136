"""One handler process seen from the server: start it, run invocations on it, stop it.

A :class:`WorkerProcess` owns one OS process running :mod:`ekiden.runtime.handler_process`
for one :class:`~ekiden.core.functions.FunctionSpec`. It serves one invocation at a time
(the pool guarantees it) and turns everything the handler can do into an
:class:`~ekiden.core.functions.InvokeResult`: a return value, an exception, a timeout
(the process group is SIGKILLed), a crash. It forwards every line the process writes on
stdout and stderr to the log sink, tagged ``[function-name]``, and collects the lines of
the running invocation for its log tail.

The process is started lazily by the first invocation, so the handler's import-time
output and an import error belong to that invocation's log (START ... REPORT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import ekiden
from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import FunctionSpec, InvokeResult
from ekiden.runtime import invocation_log as lines
from ekiden.runtime.handler_process import BOOTSTRAP, FRAME_LENGTH, SYNC_PREFIX, encode_frame

INIT_TIMEOUT_S: Final = 10.0
"""Lambda's limit on the init phase (importing the handler module)."""
SYNC_GRACE_S: Final = 1.0
"""How long to wait for output to catch up with a result (only a handler that closed its
stdout or stderr makes this wait run out)."""
EXIT_GRACE_S: Final = 2.0
"""How long a process that closed its channel may take to exit before it is killed."""
MAX_LINE_BYTES: Final = 256 * 1024
"""Longer output lines are cut into pieces of this size (as Lambda splits log events)."""
READ_CHUNK: Final = 64 * 1024

_IMPORT_ROOT = str(Path(ekiden.__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What every handler process of a pool shares.

    Attributes:
        region, account_id: for the ARN and the ``AWS_REGION`` variables.
        endpoint_url: ekiden's URL, exported as the SQS, SNS and Lambda endpoints of
            the SDKs (``AWS_ENDPOINT_URL_SQS`` ...) unless the function sets them.
        python: the interpreter that runs handlers.
        sink: receives every output line, tagged ``[name] ``; must not block.
    """

    region: str
    account_id: str
    endpoint_url: str | None
    python: str
    sink: Callable[[str], None]


@dataclass(slots=True)
class _Outcome:
    payload: bytes
    error_type: str | None = None  # set when the invocation failed
    timed_out: bool = False
    duration_ms: float | None = None  # None: measured by the parent


def function_arn(settings: WorkerSettings, name: str) -> str:
    return f"arn:aws:lambda:{settings.region}:{settings.account_id}:function:{name}"


ENDPOINT_SERVICES: Final = ("SQS", "SNS", "LAMBDA")
"""The services whose SDK endpoint handlers are pointed at ekiden for."""


def handler_environment(
    spec: FunctionSpec, settings: WorkerSettings, log_stream_name: str, code_dir: str
) -> dict[str, str]:
    """The variables added to the inherited environment: the function's own, then
    Lambda's reserved ones (which win, as Lambda forbids setting them), and
    the endpoints of the services ekiden serves (``AWS_ENDPOINT_URL_SQS``, ``_SNS``,
    ``_LAMBDA``) unless the function chose its own. Only those: a handler's other AWS
    clients (S3, DynamoDB...) keep their usual endpoints."""
    env = dict(spec.environment)
    if settings.endpoint_url is not None and "AWS_ENDPOINT_URL" not in env:
        for service in ENDPOINT_SERVICES:
            env.setdefault(f"AWS_ENDPOINT_URL_{service}", settings.endpoint_url)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
            "AWS_REGION": settings.region,
            "AWS_DEFAULT_REGION": settings.region,
            "LAMBDA_TASK_ROOT": code_dir,
            "_HANDLER": spec.handler,
        }
    )
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise InvalidParameterValue(f"Invalid environment variable name or value: {key!r}")
    return env


class WorkerProcess:
    """A warm handler process for one function spec (see the module docstring).

    ``alive`` is true until the process failed to import the handler, was killed, or
    exited; a dead worker is never invoked again. ``on_exit`` (set by the pool) is called
    once, from the event loop, when the OS process has exited.
    """

    def __init__(self, spec: FunctionSpec, settings: WorkerSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.alive = True
        self.on_exit: Callable[[WorkerProcess], None] | None = None
        self.log_stream_name = (
            datetime.now(UTC).strftime("%Y/%m/%d/") + "[$LATEST]" + uuid.uuid4().hex
        )
        self._token = secrets.token_hex(8)
        self._sync_tag = SYNC_PREFIX + self._token.encode() + b":"
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = 0
        self._synced = {1: -1, 2: -1}  # per output fd: last sync marker seen (-1: none)
        self._eof = {1: False, 2: False}
        self._output_event = asyncio.Event()
        self._tail: lines.TailCollector | None = None
        self._max_memory_mb = 0
        self._init_ms: float | None = None  # reported once, on the first REPORT

    # --- output ------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        """One log line: to the sink (tagged) and to the running invocation's tail."""
        with contextlib.suppress(Exception):  # a faulty sink must not break invocations
            self.settings.sink(f"[{self.spec.name}] {text}")
        if self._tail is not None:
            self._tail.add(text)

    def _on_output(self, raw: bytes, fd: int) -> None:
        at = raw.find(self._sync_tag)
        if at >= 0:
            with contextlib.suppress(ValueError):
                self._synced[fd] = max(self._synced[fd], int(raw[at + len(self._sync_tag) :]))
            self._output_event.set()
            raw = raw[:at]  # text a thread printed without a newline before the marker
            if not raw:
                return
        self._emit(raw.decode("utf-8", "replace").rstrip("\r"))

    async def _pump(self, stream: asyncio.StreamReader, fd: int) -> None:
        pending = b""
        try:
            while chunk := await stream.read(READ_CHUNK):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    self._on_output(raw, fd)
                while len(pending) > MAX_LINE_BYTES:
                    self._on_output(pending[:MAX_LINE_BYTES], fd)
                    pending = pending[MAX_LINE_BYTES:]
            if pending:
                self._on_output(pending, fd)
        finally:
            self._eof[fd] = True
            self._output_event.set()

    async def _wait_output(self, seq: int | None, timeout_s: float) -> None:
        """Wait until both output streams passed sync marker ``seq`` (``None``: reached
        end of file), or ``timeout_s`` ran out."""

        def done(fd: int) -> bool:
            return self._eof[fd] or (seq is not None and self._synced[fd] >= seq)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not (done(1) and done(2)):
                    self._output_event.clear()
                    await self._output_event.wait()

    # --- process -----------------------------------------------------------------------

    async def _spawn(self) -> None:
        code_dir = str(Path(self.spec.code).resolve())
        env = handler_environment(self.spec, self.settings, self.log_stream_name, code_dir)
        parent_end, child_end = socket.socketpair()
        try:
            # The child inherits the server's environment and adds the function's
            # variables itself (sent in the init frame, not on a command line where any
            # user could read them in /proc).
            self._proc = await asyncio.create_subprocess_exec(
                self.settings.python,
                "-u",
                "-c",
                BOOTSTRAP,
                _IMPORT_ROOT,
                str(child_end.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(child_end.fileno(),),
                cwd=code_dir,
                start_new_session=True,  # its own process group: a timeout kills it all
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self._reader, self._writer = await asyncio.open_connection(sock=parent_end)
        proc = self._proc
        assert proc.stdout is not None and proc.stderr is not None
        self._tasks = [
            asyncio.create_task(self._pump(proc.stdout, 1)),
            asyncio.create_task(self._pump(proc.stderr, 2)),
            asyncio.create_task(self._watch_exit(proc)),
        ]
        module, function = self.spec.module_and_function
        init = {
            "type": "init",
            "token": self._token,
            "handler": self.spec.handler,
            "module": module,
            "function": function,
            "function_name": self.spec.name,
            "function_arn": function_arn(self.settings, self.spec.name),
            "memory_mb": self.spec.memory_mb,
            "log_group_name": f"/aws/lambda/{self.spec.name}",
            "log_stream_name": self.log_stream_name,
            "environment": env,
        }
        self._writer.write(encode_frame(init))

    async def _watch_exit(self, proc: asyncio.subprocess.Process) -> None:
        await proc.wait()
        self.alive = False
        if self.on_exit is not None:
            self.on_exit(self)

    async def _read_frame(self) -> tuple[dict[str, Any], bytes]:
        """The next frame from the process; raises ``EOFError`` when the channel closed."""
        assert self._reader is not None
        parts = []
        try:
            for _ in range(2):
                (size,) = FRAME_LENGTH.unpack(await self._reader.readexactly(FRAME_LENGTH.size))
                parts.append(await self._reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise EOFError from exc
        return json.loads(parts[0]), parts[1]

    def kill(self) -> None:
        """SIGKILL the process and everything it started (its process group)."""
        self.alive = False
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    async def _finish_dead(self, *, kill: bool) -> int | None:
        """Make sure the process is gone (killing it if asked, or if it lingers) and its
        output has been forwarded; its exit status."""
        self.alive = False
        proc = self._proc
        if proc is None:
            return None
        if kill:
            self.kill()
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), EXIT_GRACE_S)
        except TimeoutError:
            self.kill()
            await proc.wait()
        # Grandchildren may still hold stdout: do not wait for them.
        await self._wait_output(None, SYNC_GRACE_S)
        if self._writer is not None:
            self._writer.close()
        return proc.returncode

    async def stop(self, grace_s: float = EXIT_GRACE_S) -> None:
        """Ask an idle process to exit (close its channel), kill it after ``grace_s``."""
        self.alive = False
        proc = self._proc
        if proc is None:
            return
        if self._writer is not None:
            self._writer.close()
        if proc.returncode is None:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), grace_s)
            except TimeoutError:
                self.kill()
                await proc.wait()
        await self._wait_output(None, SYNC_GRACE_S)
        for task in self._tasks:
            task.cancel()

    # --- invocation --------------------------------------------------------------------

    async def invoke(
        self, request_id: str, payload: bytes, client_context: str | None
    ) -> InvokeResult:
        """Run one invocation (starting the process first if needed). Never raises for
        what the handler does; raises ``OSError`` if the process cannot be started."""
        loop = asyncio.get_running_loop()
        tail = lines.TailCollector()
        self._tail = tail
        began = loop.time()
        try:
            self._emit(lines.start_line(request_id))
            try:
                outcome = await self._run(request_id, payload, client_context)
            except BaseException:
                # Cancelled (or worse) mid-invocation: the process state is unknown.
                self.kill()
                raise
            duration_ms = outcome.duration_ms
            if duration_ms is None:
                duration_ms = (loop.time() - began) * 1000
            self._emit(lines.end_line(request_id))
            status = None
            if outcome.timed_out:
                status = "timeout"
            elif outcome.error_type is not None and outcome.error_type.startswith("Runtime."):
                status = "error"
            self._emit(
                lines.report_line(
                    request_id,
                    duration_ms=duration_ms,
                    memory_mb=self.spec.memory_mb,
                    max_memory_used_mb=max(self._max_memory_mb, 1),
                    init_duration_ms=self._init_ms,
                    status=status,
                    error_type=outcome.error_type if status == "error" else None,
                )
            )
            self._init_ms = None
        finally:
            self._tail = None
        return InvokeResult(
            request_id=request_id,
            payload=outcome.payload,
            function_error=None if outcome.error_type is None else "Unhandled",
            log_tail=tail.text(),
            duration_ms=duration_ms,
            timed_out=outcome.timed_out,
        )

    async def _run(self, request_id: str, payload: bytes, client_context: str | None) -> _Outcome:
        if self._proc is None:
            failed = await self._start(request_id)
            if failed is not None:
                return failed
        if not self.alive or self._writer is None:
            return await self._exit_outcome(request_id, kill=True)
        self._seq += 1
        seq = self._seq
        header = {
            "type": "invoke",
            "seq": seq,
            "request_id": request_id,
            "timeout_s": self.spec.timeout_s,
            "client_context": client_context,
        }
        try:
            self._writer.write(encode_frame(header, payload))
            async with asyncio.timeout(self.spec.timeout_s):
                result, body = await self._read_frame()
        except TimeoutError:
            await self._finish_dead(kill=True)
            message = lines.timeout_message(request_id, self.spec.timeout_s)
            self._emit(message)
            document = {"errorMessage": message}
            return _Outcome(json.dumps(document).encode(), "Sandbox.Timedout", timed_out=True)
        except (EOFError, ConnectionError):
            return await self._exit_outcome(request_id, kill=False)
        await self._wait_output(seq, SYNC_GRACE_S)
        self._max_memory_mb = max(self._max_memory_mb, int(result.get("max_memory_mb", 0)))
        error_type = None
        if not result.get("ok"):
            error_type = str(json.loads(body).get("errorType") or "Unhandled")
        return _Outcome(body, error_type, duration_ms=float(result["duration_ms"]))

    async def _start(self, request_id: str) -> _Outcome | None:
        """Start the process and import the handler; the failed invocation's outcome, or
        ``None`` when the handler is ready."""
        await self._spawn()
        try:
            async with asyncio.timeout(INIT_TIMEOUT_S):
                ready, body = await self._read_frame()
        except TimeoutError:
            await self._finish_dead(kill=True)
            message = lines.timeout_message(request_id, INIT_TIMEOUT_S)
            self._emit(message)
            document = {"errorMessage": message}
            return _Outcome(json.dumps(document).encode(), "Sandbox.Timedout", timed_out=True)
        except (EOFError, ConnectionError):
            return await self._exit_outcome(request_id, kill=False)
        await self._wait_output(0, SYNC_GRACE_S)
        self._init_ms = float(ready.get("init_ms", 0.0))
        if ready.get("ok"):
            return None
        # The import failed: the process exits; Lambda answers with the init error.
        await self._finish_dead(kill=False)
        document = json.loads(body)
        return _Outcome(body, str(document.get("errorType") or "Runtime.Unknown"))

    async def _exit_outcome(self, request_id: str, *, kill: bool) -> _Outcome:
        """The process died (or must be put down): Lambda's ``Runtime.ExitError``."""
        returncode = await self._finish_dead(kill=kill)
        message = lines.exit_error_message(request_id, returncode)
        self._emit(message)
        self._emit("Runtime.ExitError")
        document = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return _Outcome(json.dumps(document).encode(), "Runtime.ExitError")
