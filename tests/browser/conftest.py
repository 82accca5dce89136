"""Fixtures of the browser tests: Debian's chromium driven headless over CDP.

The tests skip (saying why) only when no chromium can be found; ``.ci/run`` installs it
with ``apt-get install -y chromium``, so CI always runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.cdp import Browser, find_chromium

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The chromium executable, or a skip when the machine has none."""
    found = find_chromium()
    if found is None:
        pytest.skip(
            "chromium not found on PATH and not installed (.ci/run installs it with "
            "`apt-get install -y chromium`); the browser test needs a real browser"
        )
    return found


@pytest.fixture
def browser(chromium_path: str, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless chromium with its own profile, closed after the test."""
    with Browser(chromium_path, tmp_path / "chromium-profile") as started:
        yield started


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """tests/artifacts/: screenshots kept after the run (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
