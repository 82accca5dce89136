"""Fixtures of the store contract suite: one run per store implementation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.stores import STORE_OPENERS, StoreOpener


@pytest.fixture(params=sorted(STORE_OPENERS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens (and, called again, reopens) one store implementation at a fresh location."""
    return STORE_OPENERS[request.param](tmp_path / "store")
