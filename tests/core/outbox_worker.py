"""A dispatcher process for the outbox crash tests (run as a script, not collected by pytest).

    python outbox_worker.py --url URL --subscriber NAME --record FILE
        [--crash-after N] [--delay SECONDS] [--lease SECONDS]

Delivers the pending deliveries of subscriber NAME until none is left. The handler appends
"<pid> <event id>" to FILE (flushed and fsynced) before it returns, so the file says what
was handled even if the process dies the next instant. With --crash-after N the process
kills itself (os._exit, no cleanup) right after the N-th handler returned, that is after
the effect and before the delivery is marked delivered. --delay makes each handler slow
so a test can SIGKILL the process part-way.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from charter.core import events
from charter.core.context import Runtime
from charter.core.db import Database
from charter.core.storage import open_store
from charter.settings import Settings

CRASH_EXIT_CODE = 17


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--subscriber", required=True)
    parser.add_argument("--record", required=True, type=Path)
    parser.add_argument("--crash-after", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=60.0)
    args = parser.parse_args(argv)

    home = args.record.parent
    settings = Settings(home=home, database_url=args.url)
    runtime = Runtime(settings, Database(args.url), open_store(settings))
    handled = 0

    def handler(_runtime: Runtime, event: events.Event) -> None:
        nonlocal handled
        with args.record.open("a") as out:
            out.write(f"{os.getpid()} {event.id}\n")
            out.flush()
            os.fsync(out.fileno())
        handled += 1
        if args.crash_after and handled >= args.crash_after:
            os._exit(CRASH_EXIT_CODE)  # the crash: handler done, delivery not yet marked
        if args.delay:
            time.sleep(args.delay)

    events.subscribe(runtime, args.subscriber, {"*"}, handler)
    lease = timedelta(seconds=args.lease)
    while events.dispatch_pending(runtime, limit=10, lease=lease):
        pass
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
