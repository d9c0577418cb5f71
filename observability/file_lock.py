"""An exclusive ``flock`` taken only if it is free at once: who alone may do something now.

The kernel releases a ``flock`` when its descriptor is closed or its holder dies, ``kill -9``
included, so such a lock is never left behind. Used where a process must not wait for
another: the spool's replayer (one per machine) and the ingest journal (a segment whose
writer's lock is free is finished).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator


@contextlib.contextmanager
def held_if_free(descriptor: int) -> Iterator[bool]:
    """Take ``descriptor``'s exclusive lock without waiting; yields whether it was got.

    Owns ``descriptor``: closed after the block, which lets the lock go.
    """
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)
