"""Lake query admission: how many governed queries run at once, per principal and in all.

Key contracts:
- A query runs only while it holds a slot: at most `CHARTER_LAKE_QUERIES_PER_PRINCIPAL`
  of one principal's queries run at once, and `CHARTER_LAKE_QUERIES_TOTAL` of everyone's.
  Its parse, plan, check and run all happen inside the slot: parsing a big query text is
  pure Python, and each such thread takes its share of the interpreter from every other
  request the server is answering.
- A query that finds no slot waits for one, at most `CHARTER_LAKE_QUERY_WAIT` seconds, in
  a line that holds at most as many queries per principal, and in all, as may run; past
  the wait, or with the line full, it is refused with `too_many_queries` (429). Running
  and waiting queries each hold one of the server's worker threads, so lake queries hold
  at most twice the total, and the rest stay free for every other request.
- Slots are counted per process (per `Runtime`): servers sharing one database each count
  their own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from charter.core.context import Runtime
from charter.errors import TooManyRequests
from charter.settings import Settings

_lock = threading.Lock()


@dataclass
class Slots:
    """Running and waiting queries, by principal and in all, under the limits of
    `settings`."""

    settings: Settings
    cond: threading.Condition = field(default_factory=threading.Condition)
    running: Counter[Hashable] = field(default_factory=Counter)
    waiting: Counter[Hashable] = field(default_factory=Counter)

    @contextmanager
    def slot(self, who: Hashable) -> Iterator[None]:
        """Hold a slot for `who` while the block runs; wait for one if need be."""
        with self.cond:
            self._admit(who)
            self.running[who] += 1
        try:
            yield
        finally:
            with self.cond:
                self.running[who] -= 1
                if not self.running[who]:
                    del self.running[who]
                self.cond.notify_all()  # waiters of other principals may run now

    def _mine_full(self, who: Hashable) -> bool:
        return self.running[who] >= self.settings.lake.queries_per_principal

    def _free(self, who: Hashable) -> bool:
        return (not self._mine_full(who)
                and self.running.total() < self.settings.lake.queries_total)

    def _admit(self, who: Hashable) -> None:
        """Return once `who` may run (the condition's lock held), or refuse."""
        if self._free(who):
            return
        wait = self.settings.lake.query_wait
        if (wait <= 0 or self.waiting[who] >= self.settings.lake.queries_per_principal
                or self.waiting.total() >= self.settings.lake.queries_total):
            raise _refusal(self._mine_full(who), self.settings)
        self.waiting[who] += 1
        try:
            deadline = time.monotonic() + wait
            while not self._free(who):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _refusal(self._mine_full(who), self.settings)
                self.cond.wait(left)
        finally:
            self.waiting[who] -= 1
            if not self.waiting[who]:
                del self.waiting[who]


def _refusal(mine: bool, settings: Settings) -> TooManyRequests:
    if mine:
        most = settings.lake.queries_per_principal
        return TooManyRequests(
            "you already run the most lake queries at once that one principal may "
            f"({most}, CHARTER_LAKE_QUERIES_PER_PRINCIPAL); send it again once one has "
            "finished", code="too_many_queries", limit="principal", queries=most)
    most = settings.lake.queries_total
    return TooManyRequests(
        "the platform already runs the most lake queries at once that it allows "
        f"({most}, CHARTER_LAKE_QUERIES_TOTAL); send it again in a moment",
        code="too_many_queries", limit="total", queries=most)


def slots(runtime: Runtime) -> Slots:
    """The platform's query slots, made on first use."""
    with _lock:
        found = runtime.cache.get("lake.slots")
        if found is None:
            found = runtime.cache["lake.slots"] = Slots(runtime.settings)
        return found
