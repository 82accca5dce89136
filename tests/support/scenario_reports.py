"""Runs a scenario script of another SQS client against a live ekiden and returns its report.

``tests/js/sqs_scenarios.mjs`` (AWS SDK for JavaScript v3) and
``tests/support/old_boto3_scenarios.py`` (boto3 1.26.165) both take ``<endpoint>
<queue-prefix>`` and print one JSON report on stdout; the tests assert on its parts.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def run_scenarios(
    interpreter: str | Path,
    script: Path,
    endpoint: str,
    prefix: str,
    *,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float = 240,
) -> dict[str, Any]:
    """Run ``interpreter script endpoint <queue prefix>`` and return the report it prints.

    The queue prefix is ``prefix``, the xdist worker and a random part, so that parallel
    runs never share queues. The script gets none of the ``AWS_*`` and ``EKIDEN_*``
    variables of this environment (only ``extra_env``); a non-zero exit fails the test
    with the script's output.
    """
    queue_prefix = f"{prefix}-{os.environ.get('PYTEST_XDIST_WORKER', 'w')}-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EKIDEN_"))}
    env.update(extra_env or {})
    done = subprocess.run(
        [str(interpreter), str(script), endpoint, queue_prefix],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stderr}\n{done.stdout}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report
