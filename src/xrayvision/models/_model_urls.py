"""The reference's ``model_urls`` dictionaries, as read-only views of the registry.

User code written for TorchXRayVision reads ``xrv.models.model_urls[name]["labels"]``,
``["weights_url"]``, ``["op_threshs"]``; the same keys (in the reference's order, each
short name followed by its long alias, both giving the same record) and the same fields
are here, built from ``weights.json``. They cannot be changed: a mirror is set with
``XRV_WEIGHTS_MIRROR``, a local file is passed as ``weights=PATH``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._registry import AUTOENCODER, CLASSIFIER, Weights, all_weights


class ReadOnlyMapping(Mapping[str, Any]):
    """A mapping that refuses changes with a message saying what to do instead."""

    def __init__(self, items: dict[str, Any], what: str):
        self._items = items
        self._what = what

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            f"{self._what} is read-only (it is built from xrayvision's weight registry). To download "
            "from a mirror set XRV_WEIGHTS_MIRROR; to use a local file pass weights=PATH"
        )

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]


def _classifier_record(weights: Weights) -> ReadOnlyMapping:
    fields: dict[str, Any] = {}
    if weights.description:
        fields["description"] = weights.description
    fields["weights_url"] = weights.url
    fields["labels"] = weights.labels
    fields["op_threshs"] = weights.op_threshs
    if weights.ppv80_thres:
        fields["ppv80_thres"] = weights.ppv80_thres
    fields["input_resolution"] = weights.input_resolution
    return ReadOnlyMapping(fields, f"xrv.models.model_urls[{weights.name!r}]")


def _autoencoder_record(weights: Weights) -> ReadOnlyMapping:
    fields = {
        "description": weights.description,
        "weights_url": weights.url,
        "image_range": tuple(weights.image_range),
        "resolution": weights.input_resolution,
        "class": "ResNetAE" + weights.architecture.removeprefix("resnetae"),
    }
    return ReadOnlyMapping(fields, f"xrv.autoencoders.model_urls[{weights.name!r}]")


def _view(kind: str, build: Any, what: str) -> ReadOnlyMapping:
    items: dict[str, Any] = {}
    for weights in all_weights():
        if weights.kind == kind:
            record = build(weights)
            for name in (weights.name, *weights.aliases):
                items[name] = record  # an alias gives the same record, as in the reference
    return ReadOnlyMapping(items, what)


#: ``xrv.models.model_urls``: the classifier weights, by name and alias.
model_urls = _view(CLASSIFIER, _classifier_record, "xrv.models.model_urls")
#: ``xrv.autoencoders.model_urls``: the autoencoder weights.
autoencoder_model_urls = _view(AUTOENCODER, _autoencoder_record, "xrv.autoencoders.model_urls")
