"""How the server process uses Python's cyclic garbage collector.

Reference counting frees nearly everything a request allocates the moment it is done
with; the cyclic collector exists for the rare reference cycle. With the interpreter's
defaults it runs a young-generation pass after every 700 net new container objects and
now and then a full pass over every object the process holds -- including the tens of
thousands start-up made (modules, the AWS service models, caches) and keeps for life.
Measured on a busy server (benchmarks/README.md, "Where the time goes"), the collector
took about a tenth of the event-loop thread, and every full pass stalled all requests
for 10-20 ms: it was the p99 of a SendMessage.

So once start-up is done, its objects are moved to the collector's permanent generation
(``gc.freeze``: never walked again; freed by reference counting when they are dropped,
but never as part of a garbage cycle -- start-up objects are kept for life, so what
this can leak is small and bounded), and the young generation is collected after
``YOUNG_GENERATION_THRESHOLD`` net new objects. Cycles made later are still collected,
a little later; the older generations keep the interpreter's thresholds.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_GENERATION_THRESHOLD: Final = 20_000
"""Net new container objects between two young-generation collections (default 700).
Garbage cycles wait that much longer for collection: a few MB at most."""


def settle_after_startup() -> None:
    """Apply the policy; call once, when start-up has built what the process keeps."""
    gc.collect()  # what start-up left as garbage is not worth keeping forever
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)
