"""The ``context`` object a handler receives, shaped like Lambda's Python runtime.

It lives inside the handler process (see :mod:`ekiden.runtime.handler_process`) and uses
the standard library only, because that process may run under another interpreter than
the server. Field names and types follow ``awslambdaric.lambda_context.LambdaContext``,
so handler code written for Lambda reads them unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
from typing import Any


class ClientContext:
    """The mobile client context (Lambda's ``ClientContext``): ``client``, ``custom``, ``env``."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict[str, Any]) -> None:
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class Client:
    """The ``client`` member of a client context (Lambda's ``Client``)."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


def parse_client_context(encoded: str | None) -> ClientContext | None:
    """Decode the ``ClientContext`` of an Invoke call (base64 of a JSON object).

    ``None`` or an empty string give ``None``. Raises ``ValueError`` when it is not base64
    of a JSON object (the Lambda API rejects such a value before invoking).
    """
    if not encoded:
        return None
    try:
        data = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Client context must be base64 of a JSON object: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("Client context must be base64 of a JSON object")
    return ClientContext(data)


class LambdaContext:
    """What the handler's second argument offers (Lambda's ``LambdaContext``).

    Attributes:
        function_name, function_version ("$LATEST"), invoked_function_arn,
        memory_limit_in_mb (an int), aws_request_id, log_group_name, log_stream_name,
        identity (always ``None``: no Cognito here), client_context (``None`` unless the
        invocation carried one).
    """

    def __init__(
        self,
        *,
        aws_request_id: str,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        log_group_name: str,
        log_stream_name: str,
        deadline_monotonic_s: float,
        client_context: ClientContext | None = None,
        function_version: str = "$LATEST",
    ) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity: object | None = None
        self.client_context = client_context
        # Monotonic, not wall clock: a clock step must not shorten or lengthen the budget.
        self._deadline_monotonic_s = deadline_monotonic_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation is killed for its timeout (never < 0)."""
        remaining = int((self._deadline_monotonic_s - time.monotonic()) * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg: object) -> None:
        """Write ``msg`` to the function's log, as Lambda's ``context.log`` does (no newline
        is added)."""
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},identity={self.identity}])"
        )
