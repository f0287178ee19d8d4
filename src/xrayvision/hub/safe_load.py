"""Load weight files into a flat state dict without running code from the file.

Formats understood by :func:`load_weights_file`:

* **safetensors** (our own checkpoints, converted mirrors);
* **plain state dicts** saved with ``torch.save`` (zip or legacy format): loaded with
  ``torch.load(weights_only=True)``, PyTorch's own restricted unpickler;
* **whole pickled modules** (the reference's DenseNet files, written with
  ``torch.save(model)``): a class path like ``torchxrayvision.models.DenseNet`` must
  never be imported or run. ``weights_only=True`` refuses these files (it rejects every
  class it does not know), and making it accept them would mean registering every class
  path the pickle names in advance. Instead :func:`_load_module_pickle` runs
  ``torch.load`` with a *restricted pickle module*: an explicit allow-list of
  tensor-rebuild functions and storage types, while every other global is replaced by
  an inert stand-in class. Creating a stand-in the way ``torch.save`` does for modules
  (``__new__`` then ``__setstate__``) just records the state dictionary; *calling* one,
  which is what a ``__reduce__`` payload such as ``os.system(...)`` does, raises
  :class:`UnsafeWeightsError`. The record tree's ``_parameters``, ``_buffers`` and
  ``_modules`` dictionaries then give the same keys as ``module.state_dict()``.

Files that wrap a state dict in a larger object (Lightning checkpoints, the CheXpert
ensemble's ``.pth.tar`` members) are read with :func:`load_object`, which returns the
object itself: plain containers and tensors as they are, numeric numpy scalars (training
metrics) rebuilt from their bytes, and every other class (Lightning's ``AttributeDict``,
...) as an inert record. TorchScript archives (code) are refused. Before any
``torch.load``, the storage sizes the pickle asks for are bounded by the data the file
holds (:mod:`._storage_claims`), and every failure to parse becomes a
:class:`WeightsFormatError` naming the file.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import types
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..errors import UnsafeWeightsError, WeightsFormatError, XRVError
from ._storage_claims import check_storage_claims, python3_global

_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024


class _UnsafeCall(pickle.UnpicklingError):
    """Raised inside the unpickler when the file tries to call a non-allowed global."""

    def __init__(self, dotted: str):
        self.dotted = dotted
        super().__init__(f"the file calls {dotted}")


class _StandInMeta(type):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # Pickle's REDUCE / INST-with-arguments call the global: that is how payloads run.
        raise _UnsafeCall(cls._xrv_dotted)  # type: ignore[attr-defined]

    def __repr__(cls) -> str:
        return f"<stand-in for {cls._xrv_dotted}>"  # type: ignore[attr-defined]


class _StandIn(metaclass=_StandInMeta):
    """Inert record of a pickled object whose class was not imported."""

    _xrv_dotted = "?"
    dump_patches = False  # read by torch's legacy loader; never write patch files

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        # BUILD: state is the pickled __dict__, or (dict, slots) for slotted objects.
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        object.__setattr__(self, "_xrv_state", state if isinstance(state, dict) else {"__state__": state})

    # SETITEMS / APPENDS on a pickled dict or list subclass (e.g. Lightning's AttributeDict
    # in a checkpoint's hyper-parameters): the items are recorded, nothing runs.
    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__.setdefault("_xrv_items", {})[key] = value

    def append(self, value: Any) -> None:
        self.__dict__.setdefault("_xrv_list", []).append(value)

    def extend(self, values: Any) -> None:
        self.__dict__.setdefault("_xrv_list", []).extend(values)

    def __reduce__(self) -> Any:
        raise TypeError("stand-in records cannot be pickled again")


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg._reconstructor (protocol 0/1 pickles of plain objects), restricted to the
    # one harmless form: a stand-in built on ``object``.
    if isinstance(cls, _StandInMeta) and base is object and state is None:
        return cls.__new__(cls)
    raise _UnsafeCall("copyreg._reconstructor with arguments " + repr((cls, base))[:100])


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    # numpy's scalar pickles: ``scalar(dtype, raw bytes)``. Only plain numeric dtypes.
    import numpy as np

    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise _UnsafeCall(f"numpy scalar({dtype!r}, {type(data).__name__})")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = False) -> Any:
    import numpy as np

    if not isinstance(spec, str) or spec[:1] not in ("b", "i", "u", "f", "c"):
        raise _UnsafeCall(f"numpy.dtype({spec!r})")
    return np.dtype(spec)


def _latin1_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # How protocol-2 pickles written by Python 3 spell a bytes object.
    if not isinstance(text, str) or encoding != "latin1":
        raise _UnsafeCall(f"_codecs.encode(..., {encoding!r})")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "object"): object,
        ("copyreg", "_reconstructor"): _safe_reconstructor,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("torch", "UntypedStorage"): torch.UntypedStorage,
        ("torch.storage", "UntypedStorage"): torch.UntypedStorage,
        # numeric numpy scalars, as training metrics in checkpoint metadata (CheXpert)
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
        ("numpy", "dtype"): _numpy_dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = getattr(torch._utils, name)
    for name, value in vars(torch).items():  # dtypes such as torch.float32
        if isinstance(value, torch.dtype):
            allowed[("torch", name)] = value
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that imports nothing: allow-listed globals or inert stand-ins."""

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if _RestrictedUnpickler._allowed is None:
            _RestrictedUnpickler._allowed = _allowed_globals()
        # Protocol 0-2 pickles carry Python 2 names (``__builtin__.set``); map them the way
        # pickle's own find_class does, for the allow-list lookup only.
        module, name = python3_global(module, name)
        found = _RestrictedUnpickler._allowed.get((module, name))
        if found is not None:
            return found
        dotted = f"{module}.{name}"
        return _StandInMeta(
            f"StandIn[{dotted}]", (_StandIn,), {"_xrv_dotted": dotted, "__module__": __name__}
        )


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# What torch.load needs from a ``pickle_module``: Unpickler, load, and a __name__.
_restricted_pickle = types.ModuleType("xrayvision_restricted_pickle")
_restricted_pickle.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_restricted_pickle.load = _restricted_load  # type: ignore[attr-defined]
_restricted_pickle.loads = lambda data, **kw: _restricted_load(io.BytesIO(data), **kw)  # type: ignore[attr-defined]


def sniff_format(source: Path | io.BytesIO) -> str:
    """What kind of file ``source`` (a path, or the bytes of a zip member) is, from its
    first bytes (and its zip directory).

    Returns:
        ``"safetensors"``, ``"torch-zip"``, ``"torch-legacy"``, ``"torchscript"``,
        ``"zip"`` (another zip archive), ``"html"`` or ``"other"``.

    Raises:
        WeightsFormatError: the file starts like a zip archive but is not a readable one.
    """
    if isinstance(source, Path):
        with open(source, "rb") as handle:
            head = handle.read(512)
    else:
        source.seek(0)
        head = source.read(512)
        source.seek(0)
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(source) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise WeightsFormatError(
                f"{source if isinstance(source, Path) else 'an in-memory file'} starts like a zip archive (a PyTorch "
                f"file) but is not a readable one ({err}); it is truncated or damaged: download it again"
            ) from err
        finally:
            if not isinstance(source, Path):
                source.seek(0)
        if any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            return "torch-zip"
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "torch-legacy"  # a pickle stream: torch's legacy format starts with one
    if len(head) >= 10 and head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if 0 < header_len <= _SAFETENSORS_MAX_HEADER:
            return "safetensors"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "torch-legacy"  # very old tar-based torch.save
    if head.lstrip().startswith(b"<"):
        return "html"
    return "other"


def is_torchscript(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with ``constants.pkl``), without loading it."""
    return sniff_format(Path(path).expanduser()) == "torchscript"


def load_object(source: str | os.PathLike[str] | bytes, label: str | None = None) -> Any:
    """Read whatever a weight file holds, without running code from it.

    Plain containers, tensors and numeric numpy scalars come back as themselves;
    objects of any other class (a pickled ``nn.Module``, Lightning's hyper-parameter
    dict, ...) come back as inert records (see the module docstring). Use this for
    files that wrap a state dict: Lightning checkpoints (``obj["state_dict"]``), the
    CheXpert ensemble's members (``obj["model_state"]``).

    Args:
        source: a file path, or the bytes of a file (e.g. a zip member).
        label: how to name the source in errors (default: the path).

    Returns:
        The object; a safetensors file gives its ``{name: tensor}`` dict.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        UnsafeWeightsError: the file tries to call code, or is a TorchScript archive.
        WeightsFormatError: the file is not a PyTorch or safetensors file.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        stream: Path | io.BytesIO = io.BytesIO(bytes(source))
        name = label or "<in-memory file>"
    else:
        stream = Path(source).expanduser()
        name = label or str(stream)
        if not stream.is_file():
            raise FileNotFoundError(f"weight file {stream} does not exist")
    try:
        return _load_tree(stream, name)
    except XRVError:
        raise
    except MemoryError as err:
        raise WeightsFormatError(f"{name}: not enough memory to read it ({err})") from err
    except Exception as err:  # every parser's own error type: one typed error naming the file
        raise WeightsFormatError(f"{name}: not a readable weight file ({type(err).__name__}: {err})") from err


def _load_tree(stream: Path | io.BytesIO, name: str) -> Any:
    kind = sniff_format(stream)
    if kind == "safetensors":
        from safetensors.torch import load, load_file

        try:
            if isinstance(stream, Path):
                return dict(load_file(str(stream), device="cpu"))
            return dict(load(stream.getvalue()))
        except Exception as err:  # safetensors raises its own SafetensorError
            raise WeightsFormatError(f"{name}: unreadable safetensors file: {err}") from err
    if kind == "torchscript":
        raise UnsafeWeightsError(
            f"{name} is a TorchScript archive (it contains code); it is not loaded as weights"
        )
    if kind == "html":
        raise WeightsFormatError(
            f"{name} is an HTML page, not weights (an error page was saved); delete it and download again"
        )
    if kind in ("zip", "other"):
        raise WeightsFormatError(
            f"{name} is neither a PyTorch (torch.save) nor a safetensors file; check that the "
            "download is complete and is the right file"
        )
    check_storage_claims(_rewound(stream), kind, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.load(_rewound(stream), map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError:
        return _load_module_pickle(stream, name)  # a module pickle, or a file with a payload


def load_weights_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weight file into a flat ``{name: tensor}`` state dict on the CPU.

    Args:
        path: a safetensors file, a ``torch.save``-d state dict, or a ``torch.save``-d
            whole ``nn.Module`` (e.g. the reference's DenseNet weights).

    Returns:
        The state dict, with the keys and order ``module.state_dict()`` would give
        (parameters and persistent buffers, ``num_batches_tracked`` included),
        detached plain tensors.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeWeightsError: the file tries to call code (a ``__reduce__`` payload) or is
            a TorchScript archive.
        WeightsFormatError: the file is not a weight file of a supported kind.
    """
    path = Path(path).expanduser()
    return as_state_dict(load_object(path), path)


def iter_tensors(tree: Any, _depth: int = 0) -> Iterator[torch.Tensor]:
    """Every tensor in an object tree returned by :func:`load_object` (records included)."""
    if _depth > 100:
        return
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from iter_tensors(value, _depth + 1)
    elif isinstance(tree, (list, tuple, set, frozenset)):
        for value in tree:
            yield from iter_tensors(value, _depth + 1)
    elif isinstance(tree, _StandIn):
        yield from iter_tensors(getattr(tree, "_xrv_state", None), _depth + 1)


def _rewound(stream: Path | io.BytesIO) -> Path | io.BytesIO:
    if not isinstance(stream, Path):
        stream.seek(0)
    return stream


def _load_module_pickle(stream: Path | io.BytesIO, name: str) -> Any:
    try:
        with warnings.catch_warnings():
            # The legacy loader warns that it cannot find the stand-ins' source code.
            warnings.simplefilter("ignore")
            return torch.load(
                _rewound(stream), map_location="cpu", weights_only=False, pickle_module=_restricted_pickle, mmap=False
            )
    except _UnsafeCall as err:
        raise UnsafeWeightsError(
            f"{name} tries to call {err.dotted} while loading; it was not run. The file is "
            "not a plain weight file and may be malicious: do not load it with torch.load"
        ) from None
    except Exception as err:
        raise WeightsFormatError(f"{name}: not a readable PyTorch file: {err}") from err


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    plain = tensor.detach()
    if type(plain) is not torch.Tensor:
        plain = plain.as_subclass(torch.Tensor)
    return plain


def as_state_dict(loaded: Any, path: object) -> dict[str, torch.Tensor]:
    """A flat state dict from what :func:`load_object` returned: a ``{name: tensor}`` dict
    as it is, or a pickled module's record tree walked like ``module.state_dict()``.

    Raises:
        WeightsFormatError: ``loaded`` is neither (``path`` names the source).
    """
    if isinstance(loaded, _StandIn):
        state = getattr(loaded, "_xrv_state", None)
        if not isinstance(state, dict) or not isinstance(state.get("_modules"), dict):
            raise WeightsFormatError(
                f"{path} holds a pickled {type(loaded)._xrv_dotted} object, not a torch module"
            )
        out: dict[str, torch.Tensor] = {}
        _walk(loaded, "", out, path)
        return out
    if isinstance(loaded, dict) and loaded and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
    ):
        return {k: _plain(v) for k, v in loaded.items()}
    if isinstance(loaded, dict):
        keys = ", ".join(repr(k) for k in list(loaded)[:10])
        raise WeightsFormatError(
            f"{path} holds a dict that is not a flat state dict (keys: {keys}); it may be a "
            "training checkpoint: extract its state dict first"
        )
    raise WeightsFormatError(f"{path} holds a {type(loaded).__name__}, not a state dict or a module")


def _walk(record: _StandIn, prefix: str, out: dict[str, torch.Tensor], path: object, depth: int = 0) -> None:
    """Emit what ``nn.Module.state_dict`` would: parameters, persistent buffers, children."""
    if depth > 100:  # also stops a crafted file whose module tree is a cycle
        raise WeightsFormatError(f"{path}: module tree deeper than 100 levels at {prefix}")
    state = getattr(record, "_xrv_state", None)
    if not isinstance(state, dict):
        raise WeightsFormatError(f"{path}: module {prefix or '<root>'} has no pickled state")
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        tensors = state.get(group) or {}
        if not isinstance(tensors, dict):
            raise WeightsFormatError(f"{path}: {prefix}{group} is not a dictionary")
        for name, tensor in tensors.items():
            if tensor is None or (group == "_buffers" and name in non_persistent):
                continue
            if not isinstance(tensor, torch.Tensor):
                raise WeightsFormatError(f"{path}: {prefix}{name} is a {type(tensor).__name__}, not a tensor")
            out[prefix + name] = _plain(tensor)
    children = state.get("_modules") or {}
    if not isinstance(children, dict):
        raise WeightsFormatError(f"{path}: {prefix}_modules is not a dictionary")
    for name, child in children.items():
        if child is None:
            continue
        if not isinstance(child, _StandIn):
            raise WeightsFormatError(f"{path}: submodule {prefix}{name} is a {type(child).__name__}")
        _walk(child, f"{prefix}{name}.", out, path, depth + 1)
