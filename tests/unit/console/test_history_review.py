"""The console's history and totals when a queue is deleted and created again under the
same name: the new queue starts from zero and its chart never sees the old one's points
(which would make the throughput differences negative)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.console.test_api import World, run


def test_a_queue_created_again_starts_from_zero_totals_and_a_fresh_history(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        await w.ok("POST", "queues", {"name": "jobs"})
        await w.ok("POST", "queues", {"name": "other"})
        for body in ("a", "b", "c"):
            await w.ok("POST", "queues/jobs/messages", {"body": body})
        await w.ok("POST", "queues/other/messages", {"body": "x"})
        await w.history.sample(w.clock.now_ms())
        w.clock.advance(ms=5000)

        await w.ok("DELETE", "queues/jobs")
        w.clock.advance(ms=61_000)  # past the 60 s before a name may be reused
        await w.ok("POST", "queues", {"name": "jobs"})
        await w.ok("POST", "queues/jobs/messages", {"body": "new"})
        await w.history.sample(w.clock.now_ms())

        summary = (await w.ok("GET", "queues/jobs"))["queue"]
        assert (summary["sent_total"], summary["visible"]) == (1, 1)
        samples = (await w.ok("GET", "history"))["samples"]
        assert [sorted(s["queues"]) for s in samples] == [["other"], ["jobs", "other"]]
        assert samples[1]["queues"]["jobs"]["sent_total"] == 1
        # Every queue's totals only grow from one kept sample to the next.
        for name in ("other",):
            totals = [s["queues"][name]["sent_total"] for s in samples]
            assert totals == sorted(totals) == [1, 1]

    run(tmp_path, scenario)
