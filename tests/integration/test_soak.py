"""A short run of tools/soak.py: mixed traffic with client disconnects and a SIGKILL /
restart of the server halfway, after which every acknowledged message is accounted for.

The long run (``tools/soak.py --duration 120``) and its figures are in the README's
Reliability section; this one proves the script and the guarantee in about 15 seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_acknowledged_message_is_lost_across_disconnects_and_a_sigkill(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "soak.py"),
            "--duration",
            "12",
            "--workers",
            "3",
            "--json",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["ok"] is True
    assert (figures["lost"], figures["phantom"], figures["duplicates_fifo"]) == (0, 0, 0)
    # The run did what it claims: traffic on both sides of a real restart.
    assert figures["sent_acked"] > 100 and figures["deleted_acked"] > 0
    assert figures["sent_aborted"] > 0 and figures["restart_s"] > 0
    assert figures["drained"] > 0
