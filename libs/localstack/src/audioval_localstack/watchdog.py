"""``python -m audioval_localstack.watchdog FD``: kill the named process groups when FD closes.

Reads ``watch PGID`` / ``release PGID`` lines from the pipe FD, whose only writer is the parent
(see :mod:`audioval_localstack.supervision`). At EOF, however the parent went, every group still
watched gets SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE_S = 5.0


def reap(groups: set[int], grace: float = GRACE_S) -> None:
    for pgid in groups:
        _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = {g for g in groups if _signal(g, 0)}
        time.sleep(0.1)
    for pgid in groups:
        _signal(pgid, signal.SIGKILL)


def _signal(pgid: int, signum: int) -> bool:
    """Signal a group; False when no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> None:
    # Our own session already; a terminal's Ctrl-C is the parent's to handle, not ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: set[int] = set()
    with os.fdopen(int(argv[1]), "rb") as pipe:
        for raw in pipe:
            verb, _, arg = raw.decode().strip().partition(" ")
            if verb == "watch":
                groups.add(int(arg))
            elif verb == "release":
                groups.discard(int(arg))
    reap(groups)


if __name__ == "__main__":
    main(sys.argv)
