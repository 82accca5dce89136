"""The one response type of the console layer (the server turns it into HTTP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class ConsoleResponse:
    """An HTTP answer: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: Sequence[tuple[str, str]] = field(default_factory=tuple)
