"""A stand-in for the worker pool (``ekiden.core.functions.FunctionInvoker``) in tests
that exercise the services and front ends without running handlers."""

from __future__ import annotations

from collections.abc import Callable

from ekiden.core.functions import FunctionSpec, InvokeResult


def answer_null(payload: bytes, request_id: str | None) -> InvokeResult:
    """The handler returned ``None``."""
    return InvokeResult(request_id or "r", b"null")


class RecordingInvoker:
    """Records every payload it is given and answers with ``answer`` (by default the
    handler returned ``None``)."""

    def __init__(self, answer: Callable[[bytes, str | None], InvokeResult] = answer_null) -> None:
        self.payloads: list[bytes] = []
        self._answer = answer

    async def invoke(
        self,
        function: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        wait_for_capacity: bool = True,
    ) -> InvokeResult:
        self.payloads.append(payload)
        return self._answer(payload, request_id)
