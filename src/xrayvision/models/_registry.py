"""The weight registry: every published weight set as a frozen :class:`Weights` record.

The data lives in ``weights.json`` beside this module (URLs, labels, thresholds,
resolutions, licences); this module only turns it into objects and looks names up.
Aliases resolve to the *same* object, as in the reference, but the objects are frozen
and hold tuples, so no caller can corrupt the registry by mutating a label list.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import UnknownNameError

#: Kinds of records in the registry.
CLASSIFIER, AUTOENCODER, BASELINE = "classifier", "autoencoder", "baseline"


@dataclass(frozen=True, eq=False)
class Weights:
    """One published weight set and everything needed to use it.

    Attributes:
        name: canonical registry name (e.g. ``"all"``).
        aliases: other accepted names (e.g. ``"densenet121-res224-all"``).
        kind: ``"classifier"``, ``"autoencoder"`` or ``"baseline"``.
        architecture: network family the file fits (``"densenet121"``, ``"resnet50"``, ...).
        url: where the file is published (None when it must be supplied by the user).
        filename: the file's release name; also its name in the cache.
        file_format: ``"pickled-module"``, ``"state-dict"``, ``"torchscript"``, ...
        sha256: the published digest the file is pinned to, or None when none is
            published (the file is then checked by content; see ``xrv weights info``).
        size: the file's size in bytes when known.
        labels: output names in output order; ``""`` marks a slot these weights were
            never trained on.
        op_threshs: calibration operating points per output, NaN where unavailable
            (empty tuple when the record has none).
        ppv80_thres: thresholds reaching 80 % precision on the calibration split
            (informational; NaN where unavailable).
        input_resolution: side in pixels of the square images the network was trained on.
        image_range: expected pixel range of the input.
        description: the publisher's one-line description.
        training_data: short names of the datasets the weights were trained on.
        licence: licence of the weights as far as it is known.
        paper: citation URL.
        extra: any further fields of the record (reported sizes, config URLs, ...).
    """

    name: str
    aliases: tuple[str, ...]
    kind: str
    architecture: str
    url: str | None
    filename: str
    file_format: str
    sha256: str | None
    size: int | None
    labels: tuple[str, ...]
    op_threshs: tuple[float, ...]
    ppv80_thres: tuple[float, ...]
    input_resolution: int
    image_range: tuple[float, float]
    description: str | None
    training_data: tuple[str, ...]
    licence: str
    paper: str
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def trained_mask(self) -> tuple[bool, ...]:
        """True for every output slot these weights were trained on (label not ``""``)."""
        return tuple(bool(label) for label in self.labels)

    @property
    def pathologies(self) -> list[str]:
        """A fresh copy of :attr:`labels` as a list (the reference's attribute name)."""
        return list(self.labels)

    @property
    def is_baseline(self) -> bool:
        return self.kind == BASELINE

    @property
    def licence_notice(self) -> str | None:
        """What users must be told before using these weights (a non-commercial licence),
        or None when nothing restricts their use beyond the licence field."""
        if self.extra.get("commercial_use") is False:
            return (
                f"the {self.name!r} weights are licensed {self.licence}: not for commercial use "
                f"(source: {self.paper})"
            )
        return None

    def transforms(self) -> Callable[[Any], Any]:
        """The preprocessing that turns an image into this network's exact input.

        Returns:
            A callable mapping a file path, bytes, PIL image, NumPy array or tensor to a
            float32 tensor ``[1, 1, R, R]`` (R = :attr:`input_resolution`) in
            [-1024, 1024]: decode, center-crop to a square, resize.
        """
        from ._preprocess import WeightsTransform

        return WeightsTransform(self.input_resolution)

    def resource(self) -> Any:
        """This file as an :class:`xrayvision.hub.Resource` record (for :func:`hub.fetch`).

        A file users must obtain themselves (no ``url``) points at its download page.
        """
        from ..hub import Resource

        return Resource(
            filename=self.filename,
            url=self.url or self.extra.get("download_page", ""),
            sha256=self.sha256,
            size=self.size,
            licence=self.licence,
            description=self.description or f"{self.name} weights ({self.architecture})",
            download_command=f"xrv weights download {self.name}" if self.url else "",
            import_command=f"xrv weights import FILE --name {self.name}",
        )

    def __repr__(self) -> str:
        return f"Weights({self.name!r}, architecture={self.architecture!r}, input_resolution={self.input_resolution})"


def _floats(values: list[float | None] | None) -> tuple[float, ...]:
    # JSON has no NaN: the registry writes null for "no threshold".
    return tuple(math.nan if v is None else float(v) for v in (values or ()))


def _build(record: dict[str, Any]) -> Weights:
    known = {
        "name", "aliases", "kind", "architecture", "url", "filename", "file_format", "sha256", "size",
        "labels", "op_threshs", "ppv80_thres", "input_resolution", "image_range", "description",
        "training_data", "licence", "paper",
    }  # fmt: skip
    return Weights(
        name=record["name"],
        aliases=tuple(record.get("aliases") or ()),
        kind=record["kind"],
        architecture=record["architecture"],
        url=record.get("url"),
        filename=record["filename"],
        file_format=record["file_format"],
        sha256=record.get("sha256"),
        size=record.get("size"),
        labels=tuple(record.get("labels") or ()),
        op_threshs=_floats(record.get("op_threshs")),
        ppv80_thres=_floats(record.get("ppv80_thres")),
        input_resolution=int(record["input_resolution"]),
        image_range=tuple(record.get("image_range") or (-1024, 1024)),
        description=record.get("description"),
        training_data=tuple(record.get("training_data") or ()),
        licence=record.get("licence") or "unknown",
        paper=record.get("paper") or "",
        extra={k: v for k, v in record.items() if k not in known},
    )


@lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, Weights], tuple[Weights, ...]]:
    text = resources.files(__package__).joinpath("weights.json").read_text(encoding="utf-8")
    records = [_build(r) for r in json.loads(text)["weights"]]
    by_name: dict[str, Weights] = {}
    for weights in records:
        for key in (weights.name, *weights.aliases):
            if key in by_name:  # pragma: no cover - guards the data file
                raise ValueError(f"weights.json: duplicate weights name {key!r}")
            by_name[key] = weights
    return by_name, tuple(records)


def all_weights() -> tuple[Weights, ...]:
    """Every record of the registry (canonical entries, each once), baselines included."""
    return _registry()[1]


def _iter_names(kind: str | None) -> Iterator[str]:
    by_name, _ = _registry()
    for key, weights in by_name.items():
        if kind is None or weights.kind == kind:
            yield key


def get_weights(name: str | Weights, cache_dir: str | os.PathLike | None = None) -> Weights:
    """Look up a weight set by name or alias.

    Args:
        name: a registry name or alias (``"all"``, ``"densenet121-res224-all"``,
            ``"resnet50-res512-all"``, ``"101-elastic"``, ...), or a :class:`Weights`.
        cache_dir: accepted for signature compatibility with the reference, which
            returned a downloaded path; use :func:`xrayvision.hub.fetch` (or
            :func:`weights_path`) to get the file.

    Returns:
        The :class:`Weights` record; aliases return the same object.

    Raises:
        UnknownNameError: the name is not in the registry (the message lists the
            closest valid names).
    """
    if isinstance(name, Weights):
        return name
    by_name, _ = _registry()
    try:
        return by_name[name]
    except (KeyError, TypeError):
        raise UnknownNameError("weights", name, by_name) from None


def list_weights(kind: str | None = None, *, include_aliases: bool = True) -> list[str]:
    """Names of the registered weight sets.

    Args:
        kind: keep only ``"classifier"``, ``"autoencoder"`` or ``"baseline"`` records.
        include_aliases: also list the long aliases (``densenet121-res224-*``).

    Returns:
        Names in registry order.
    """
    if include_aliases:
        return list(_iter_names(kind))
    return [w.name for w in all_weights() if kind is None or w.kind == kind]
