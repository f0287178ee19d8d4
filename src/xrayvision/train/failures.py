"""A library error raised while loading a sample in a DataLoader worker, carried to the main process.

Torch wraps an exception raised in a worker in a ``RuntimeError`` whose text is the
worker's whole traceback, and rebuilds it by calling the class with its message, which
fails for errors whose ``__init__`` takes other arguments (``ImageReadError(path, reason)``).
So a worker returns a :class:`SampleFailure` instead of raising; :func:`collate` passes it
on as the batch, and the main process raises the original error again: the user sees the
same one-line message with ``run.workers = 4`` as with ``0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import XRVError


@dataclass(frozen=True)
class SampleFailure:
    """What is needed to raise a worker's :class:`~xrayvision.errors.XRVError` again (picklable).

    Attributes:
        kind: the error's class.
        args: its ``args`` (the message).
        attributes: its ``__dict__`` (``path``, ``reason``, ... of an image error).
        index: the sample that failed.
    """

    kind: type[XRVError]
    args: tuple[Any, ...]
    attributes: dict[str, Any]
    index: int

    @classmethod
    def of(cls, error: XRVError, index: int) -> SampleFailure:
        return cls(type(error), tuple(error.args), dict(vars(error)), int(index))

    def error(self) -> XRVError:
        """The original error, rebuilt without calling its ``__init__`` (whose arguments may differ from ``args``)."""
        error = _bare(self.kind, self.args)
        error.args = self.args
        error.__dict__.update(self.attributes)
        if hasattr(error, "add_note"):  # Python 3.11+: tracebacks say where it came from
            error.add_note(f"(raised in a DataLoader worker while loading sample {self.index})")
        return error


def _bare(kind: type[XRVError], args: tuple[Any, ...]) -> XRVError:
    """An instance of ``kind`` made by the ``__new__`` of its built-in base (an error that is also an
    ``OSError`` needs ``OSError.__new__``: Python refuses the others for it)."""
    for base in kind.__mro__:
        if base.__module__ == "builtins":
            try:
                return base.__new__(kind, *args)
            except TypeError:
                continue
    raise TypeError(f"cannot rebuild {kind.__name__}")  # pragma: no cover - every exception has a built-in base


def in_worker() -> bool:
    """Whether this code runs in a DataLoader worker process."""
    return torch.utils.data.get_worker_info() is not None


def raise_if_failed(batch: Any) -> Any:
    """``batch`` itself, or the error a worker met while loading it, raised in this process."""
    if isinstance(batch, SampleFailure):
        raise batch.error()
    return batch
