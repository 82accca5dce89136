"""Hypothesis profiles of the fuzz suite.

* ``ci`` (the default): few examples per test, no deadline, so all of tests/fuzz runs in
  well under a minute on two shared cores.
* ``long``: ``HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -q tests/fuzz`` -- many
  thousands of examples per test, for a run of an hour or more before a release.
* ``dev``: in between, for a quick look after changing a parser.

Failing examples are kept in Hypothesis's database (``.hypothesis/``) and replayed first
on the next run, so a crash found by a long run is rerun by the short one on that machine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,  # a live server shares two cores with its fuzzer: no timing asserts
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("ci", max_examples=40, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=300, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=20_000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
