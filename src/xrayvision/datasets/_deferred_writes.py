"""Cache files written on a background thread, so a cold dataset construction returns as
soon as its table is parsed.

Writing the parsed-table cache entry of a large table (CheXpert: 223k rows) costs about
a third of a cold construction, measured. It is not needed to build the dataset, only by
the *next* construction, so it runs on a thread of its own while the caller goes on
(pandas' copy-on-write makes the snapshot it writes immune to the caller's later edits).

The writes stay invisible and safe:

* each file is still written to a temporary name and renamed into place, so a reader
  sees either no entry or a whole one;
* a construction that needs an entry still being written waits for that write
  (:func:`wait_for`), so within one process the second construction is always warm;
* before the process forks (DataLoader workers, ``multiprocessing``) every pending write
  is finished, so no child starts with a half-done write or a lock held by a thread it
  does not have; a child starts with no pending writes of its own;
* the threads are not daemons, so the interpreter finishes them before it exits;
* :func:`wait_for_all` lets tests, benchmarks and scripts that time the full cost wait.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

_lock = threading.Lock()
_pending: dict[Path, threading.Thread] = {}


def submit(target: Path, write: Callable[[], object]) -> None:
    """Run ``write()`` (which creates ``target``) on a background thread.

    A write already pending for the same ``target`` is finished first, so the newest
    one wins, as with sequential writes.
    """
    wait_for(target)

    def run() -> None:
        try:
            write()
        finally:
            with _lock:
                if _pending.get(target) is threading.current_thread():
                    del _pending[target]

    thread = threading.Thread(target=run, name=f"xrv-cache-write-{target.name}", daemon=False)
    with _lock:
        _pending[target] = thread
    thread.start()


def wait_for(target: Path) -> None:
    """Return once no write of ``target`` is pending."""
    with _lock:
        thread = _pending.get(target)
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def wait_for_all() -> None:
    """Return once every pending background write has finished."""
    with _lock:
        threads = list(_pending.values())
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join()


def pending_count() -> int:
    """How many background writes are still running."""
    with _lock:
        return len(_pending)


def _forget_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's lock object may have been held mid-fork
    _pending.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(before=wait_for_all, after_in_child=_forget_in_child)
