"""How much tensor memory a ``torch.save`` file asks for, found before anything is allocated.

A pickle names the size of every storage it wants (``numel`` in its persistent ids, or
the argument of a ``torch.UntypedStorage(n)`` call), and ``torch.load`` allocates that
much before it reads the data. The bytes a file holds bound what it can honestly fill,
so :func:`check_storage_claims` reads the pickle once with an unpickler that builds
nothing (every global becomes an inert stand-in, nothing is called) and refuses a file
that claims more than it holds, before the real load runs.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import WeightsFormatError

# torch's legacy format: three small pickles (magic number, protocol, system info), then
# the one that names the storages.
_LEGACY_HEADER_PICKLES = 3


def python3_global(module: str, name: str) -> tuple[str, str]:
    """The Python 3 spelling of a global named by a protocol 0-2 pickle (``__builtin__.set``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class _Budget:
    def __init__(self, path: object, limit: int):
        self.path = path
        self.limit = limit
        self.claimed = 0
        self.keys: set[Any] = set()

    def claim(self, key: Any, count: Any, itemsize: int) -> None:
        if key is not None:
            if key in self.keys:  # views of one storage share its memory
                return
            self.keys.add(key)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise WeightsFormatError(f"{self.path}: a storage asks for {count!r} elements; the file is damaged")
        self.claimed += count * itemsize
        if self.claimed > self.limit:
            raise WeightsFormatError(
                f"{self.path} asks for at least {self.claimed} bytes of tensor storage but holds only "
                f"{self.limit} bytes of data: it is damaged or crafted to exhaust memory; it was not loaded"
            )


class _InertMeta(type):
    """Calling a stand-in builds an inert object; calling a storage class claims memory."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls._itemsize:  # type: ignore[attr-defined]
            cls._budget.claim(None, args[0] if args else 0, cls._itemsize)  # type: ignore[attr-defined]
        return object.__new__(cls)


class _Inert(metaclass=_InertMeta):
    _itemsize = 0
    _budget: _Budget | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


#: Bytes per element of the storage classes a pickle may name (torch's typed storages).
_ITEMSIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
    "QUInt8Storage": 1, "QInt8Storage": 1, "QInt32Storage": 4, "QUInt4x2Storage": 1,
    "QUInt2x4Storage": 1, "UntypedStorage": 1,
}  # fmt: skip


class _InventoryUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, budget: _Budget):
        super().__init__(file)
        self._budget = budget

    def find_class(self, module: str, name: str) -> Any:
        module, name = python3_global(module, name)
        itemsize = _ITEMSIZE.get(name, 1) if module in ("torch", "torch.storage") and name.endswith("Storage") else 0
        return _InertMeta(f"Inert[{module}.{name}]", (_Inert,), {"_itemsize": itemsize, "_budget": self._budget})

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and pid:
            kind = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
            if kind == "module" and len(pid) > 1:
                return pid[1]
            if kind == "storage" and len(pid) >= 5:
                storage_type, key, numel = pid[1], pid[2], pid[4]
                itemsize = max(getattr(storage_type, "_itemsize", 1), 1)
                self._budget.claim(key, numel, itemsize)
        return _Inert()


def check_storage_claims(source: Path | io.BytesIO, kind: str, name: object = None) -> None:
    """Refuse a ``torch.save`` file whose storages ask for more bytes than it holds.

    Args:
        source: the file, or its bytes (a zip member).
        kind: ``"torch-zip"`` or ``"torch-legacy"`` (other kinds are not checked here).
        name: how errors name the file (default: ``source``).

    Raises:
        WeightsFormatError: the claimed storage exceeds the data the file holds.
        Exception: whatever the pickle module raises on a malformed stream (the caller
            turns it into a ``WeightsFormatError`` naming the file).
    """
    name = source if name is None else name
    size = source.stat().st_size if isinstance(source, Path) else len(source.getbuffer())
    if kind == "torch-zip":
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            limit = max(size, sum(m.file_size for m in members))
            data = next((m for m in members if m.filename.endswith("data.pkl")), None)
            if data is None:
                return
            stream = io.BytesIO(archive.read(data))
        _InventoryUnpickler(stream, _Budget(name, limit)).load()
    elif kind == "torch-legacy":
        handle = open(source, "rb") if isinstance(source, Path) else source  # noqa: SIM115
        try:
            handle.seek(0)
            if handle.read(512)[257:262] == b"ustar":
                return  # the very old tar format reads each storage's size from its data
            handle.seek(0)
            budget = _Budget(name, size)
            for _ in range(_LEGACY_HEADER_PICKLES + 1):
                _InventoryUnpickler(handle, budget).load()
        finally:
            if isinstance(source, Path):
                handle.close()
            else:
                source.seek(0)
