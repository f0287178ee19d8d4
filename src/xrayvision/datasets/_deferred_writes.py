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

A write also holds back while a dataset is being constructed in this process (the
dataset base class wraps every constructor in :func:`constructing`): encoding a table
holds the GIL for tens of milliseconds, which on two cores made a cold CheXpert
construction 0.1 s slower (0.33 s against 0.22 s, measured). It starts when the last
construction returns, when something waits for it, or after :data:`HOLD_LIMIT` seconds.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

#: Seconds a write waits at most for constructions in progress before it starts anyway.
HOLD_LIMIT = 5.0

_lock = threading.Lock()
_pending: dict[Path, threading.Thread] = {}
# Constructions in progress; a write starts once this is 0 (or it is told to go now).
_constructing = 0
_settled = threading.Condition()
_go_now: set[threading.Thread] = set()


@contextlib.contextmanager
def constructing() -> Iterator[None]:
    """Hold back the writes submitted meanwhile until the block (and any enclosing one,
    in any thread) is left."""
    global _constructing
    with _settled:
        _constructing += 1
    try:
        yield
    finally:
        with _settled:
            _constructing -= 1
            _settled.notify_all()


def submit(target: Path, write: Callable[[], object]) -> None:
    """Run ``write()`` (which creates ``target``) on a background thread.

    A write already pending for the same ``target`` is finished first, so the newest
    one wins, as with sequential writes.
    """
    wait_for(target)

    def run() -> None:
        me = threading.current_thread()
        with _settled:
            _settled.wait_for(lambda: _constructing <= 0 or me in _go_now, timeout=HOLD_LIMIT)
        try:
            write()
        finally:
            with _settled:
                _go_now.discard(me)
            with _lock:
                if _pending.get(target) is threading.current_thread():
                    del _pending[target]

    thread = threading.Thread(target=run, name=f"xrv-cache-write-{target.name}", daemon=False)
    with _lock:
        _pending[target] = thread
    thread.start()


def wait_for(target: Path) -> None:
    """Return once no write of ``target`` is pending (starting it now if held back)."""
    with _lock:
        thread = _pending.get(target)
    if thread is not None:
        _finish([thread])


def wait_for_all() -> None:
    """Return once every pending background write has finished."""
    with _lock:
        threads = list(_pending.values())
    _finish(threads)


def _finish(threads: list[threading.Thread]) -> None:
    threads = [thread for thread in threads if thread is not threading.current_thread() and thread.is_alive()]
    with _settled:
        _go_now.update(threads)
        _settled.notify_all()
    for thread in threads:
        thread.join()
    with _settled:  # a write that had finished by itself never removed its mark
        _go_now.difference_update(threads)


def pending_count() -> int:
    """How many background writes are still running."""
    with _lock:
        return len(_pending)


def _forget_in_child() -> None:
    global _lock, _settled, _constructing
    _lock = threading.Lock()  # the parent's locks may have been held mid-fork
    _settled = threading.Condition()
    _pending.clear()
    _go_now.clear()
    _constructing = 0  # a construction in another parent thread is not this child's


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(before=wait_for_all, after_in_child=_forget_in_child)
