"""Which output of a classifier an explanation explains: the target slot and the output type.

Every explanation method explains one scalar per image: output ``target`` of a
classifier, taken as one of four *output types*:

- ``"model"``: exactly what ``model(x)`` returns (for the library's pre-trained
  classifiers, the calibrated score: sigmoid then the piecewise-linear ``op_norm``);
- ``"logit"``: the classifier head's raw output, before any sigmoid;
- ``"probability"``: ``sigmoid(logit)``, uncalibrated (the softmax over the outputs for
  the single-label baselines, whatever their ``"probabilities"`` mode computes);
- ``"calibrated"``: ``op_norm(sigmoid(logit), model.op_threshs)``.

The logit is read with a forward hook on the head module (``classifier`` for
:class:`~xrayvision.models.DenseNet`, ``model.fc`` for :class:`~xrayvision.models.ResNet`,
else the last ``nn.Linear`` with one output per label), so the user's model is never
modified. A baseline model that declares ``output_modes`` computes ``"logit"`` and
``"probability"`` itself, in its ``"logits"`` / ``"probabilities"`` mode (switched for
the call and switched back): only the model knows whether its probabilities are a
sigmoid per output or a softmax over them.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ExplainError, UnknownNameError
from ..models._input import InputRangeWarning

#: Output types an explanation can explain (see the module docstring).
OUTPUTS = ("model", "logit", "probability", "calibrated")

#: Head modules (producing logits) of the library's classifiers, by class name.
_HEADS = {"DenseNet": "classifier", "ResNet": "model.fc"}

#: Output types -> the baseline models' ``output`` modes that compute them.
_BASELINE_MODES = {"logit": "logits", "probability": "probabilities"}


def default_output(model: nn.Module) -> str:
    """The output a user reads as "the score" (the command line's ``--output auto``).

    ``"calibrated"`` when the model has calibration thresholds (``op_threshs``);
    else ``"probability"`` when it can give one (the library's classifiers, and the
    baselines with a ``"probabilities"`` mode); else ``"model"`` (a regression model's
    one output).
    """
    if getattr(model, "op_threshs", None) is not None:
        return "calibrated"
    modes = getattr(model, "output_modes", None)
    if modes is not None and "probabilities" not in modes:
        return "model"
    return "probability"


def raw_model_output(model: nn.Module) -> str | None:
    """What ``model(x)`` returns when it is known not to be in probability units:
    ``"logits"`` or ``"log-probabilities"``; None when it is a probability, a calibrated
    score, or unknown (a model without the library's switches)."""
    mode = getattr(model, "output", None) if getattr(model, "output_modes", None) is not None else None
    if mode is not None:
        return {"logits": "logits", "log_probabilities": "log-probabilities"}.get(mode)
    if getattr(model, "op_threshs", None) is None and getattr(model, "apply_sigmoid", None) is False:
        return "logits"
    return None


def model_labels(model: nn.Module, labels: Sequence[str] | None = None) -> list[str] | None:
    """The output names of ``model``: ``labels`` if given, else ``model.targets`` or
    ``model.pathologies``; None when the model names none."""
    if labels is not None:
        return list(labels)
    for attribute in ("targets", "pathologies"):
        value = getattr(model, attribute, None)
        if value is not None:
            return list(value)
    return None


def resolve_target(target: int | str, labels: Sequence[str] | None) -> int:
    """The output index of ``target`` (a pathology name or an index).

    Raises:
        UnknownNameError: ``target`` is a name the model does not output (lists the
            model's pathologies).
        ExplainError: the slot is untrained (``""`` in the model's labels), the index is
            out of range, or a name is given for a model without names.
    """
    if isinstance(target, str):
        if labels is None:
            raise ExplainError(
                f"target {target!r} is a name, but the model has no 'targets' or 'pathologies' attribute; "
                "pass labels=[...] (one name per output) or an output index"
            )
        trained = [name for name in labels if name]
        if not target or target not in labels:
            raise UnknownNameError("pathology of this model", target, trained)
        index = labels.index(target)
    else:
        # operator.index accepts ints (Python, NumPy, 0-d integer tensors) and refuses
        # 1.7 (int() would truncate it); True is an int to Python, never an output index.
        try:
            if isinstance(target, (bool, np.bool_)):
                raise TypeError
            index = operator.index(target)
        except TypeError:
            raise ExplainError(
                f"target must be a pathology name or an integer output index, got {target!r} "
                f"({type(target).__name__})"
            ) from None
        if labels is not None and not 0 <= index < len(labels):
            raise ExplainError(f"target index {index} is out of range: the model has {len(labels)} outputs")
    if labels is not None and not labels[index]:
        trained = ", ".join(name for name in labels if name)
        raise ExplainError(
            f"output {index} of this model is an untrained slot (its label is ''): its value is meaningless "
            f"and has nothing to explain; choose one of the trained pathologies: {trained}"
        )
    return index


def require_eval(module: nn.Module, role: str) -> None:
    """Refuse a module whose batch-norm or dropout layers are in training mode.

    Explanations evaluate many inputs in one batch (integrated-gradient paths, Latent
    Shift frames); in training mode those layers make each result depend on the rest of
    the batch.

    Raises:
        ExplainError: a batch-norm or dropout layer of ``module`` is in training mode.
    """
    stateful = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
    if any(m.training for m in module.modules() if isinstance(m, stateful)):
        raise ExplainError(
            f"the {role} is in training mode (batch-norm/dropout layers), so its outputs depend on the batch; "
            f"call .eval() on it before explaining"
        )


def warn_outside_range(x: torch.Tensor) -> None:
    """Warn when ``x`` has values outside [-1024, 1024] (the library's pixel scale)."""
    if x.numel() == 0:
        return
    low, high = (float(v) for v in torch.aminmax(x.detach()))
    if low < -1024.001 or high > 1024.001:
        warnings.warn(
            f"image values span [{low:.4g}, {high:.4g}], outside [-1024, 1024]: the models and autoencoders "
            "expect images scaled with xrv.utils.normalize / weights.transforms(); explanations of "
            "out-of-range inputs are unreliable",
            InputRangeWarning,
            stacklevel=3,
        )


def _find_head(model: nn.Module, n_outputs: int | None, head: str | None) -> nn.Module:
    modules = dict(model.named_modules())
    name = head or _HEADS.get(type(model).__name__)
    if name is not None:
        if name not in modules:
            raise ExplainError(f"the model has no module named {name!r} to read logits from; pass head='...'")
        return modules[name]
    linear = [m for m in modules.values() if isinstance(m, nn.Linear) and (n_outputs is None or m.out_features == n_outputs)]
    if not linear:
        raise ExplainError(
            f"cannot find the module that produces this model's logits (no nn.Linear with {n_outputs} outputs); "
            "pass head='name.of.module' or use output='model'"
        )
    return linear[-1]


class ClassifierOutput(nn.Module):
    """A view of a classifier that returns the chosen output type, ``[B, T]``.

    Args:
        model: the classifier (left unchanged; logits are read with a forward hook).
        output: one of :data:`OUTPUTS`.
        labels: output names (default: the model's).
        head: name of the module whose output is the logits (default: per class, else
            the last ``nn.Linear`` with one output per label).

    Raises:
        ExplainError: unknown output type, no head found, or ``"calibrated"`` asked of a
            model without ``op_threshs``.
    """

    def __init__(self, model: nn.Module, output: str = "model", labels: Sequence[str] | None = None, head: str | None = None):
        super().__init__()
        if output not in OUTPUTS:
            raise ExplainError(f"unknown output type {output!r}; choose one of {', '.join(OUTPUTS)}")
        self.model = model
        self.output = output
        self.labels = model_labels(model, labels)
        modes = getattr(model, "output_modes", None) or ()
        self._mode = _BASELINE_MODES.get(output) if head is None else None
        if self._mode not in modes:
            self._mode = None
        needs_head = output != "model" and self._mode is None
        self._head = _find_head(model, len(self.labels) if self.labels else None, head) if needs_head else None
        if output == "calibrated" and getattr(model, "op_threshs", None) is None:
            raise ExplainError(
                "output='calibrated' needs model.op_threshs (calibration thresholds); this model has none: "
                "use output='probability' or output='logit'"
            )

    def check_target(self, index: int) -> None:
        """Refuse a target without a calibration threshold where the output needs one."""
        thresholds = getattr(self.model, "op_threshs", None)
        calibrating = self.output == "calibrated" or (self.output == "model" and thresholds is not None)
        if calibrating and thresholds is not None and index < len(thresholds) and math.isnan(float(thresholds[index])):
            raise ExplainError(
                f"output {index} has no calibration threshold (NaN in op_threshs), so its calibrated score is "
                "undefined; explain output='probability' or output='logit' instead"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._mode is not None:
            return self._in_mode(x)
        if self._head is None:
            return self.model(x)
        captured: list[torch.Tensor] = []
        handle = self._head.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            self.model(x)
        finally:
            handle.remove()
        if not captured:
            raise ExplainError("the head module did not run during the forward pass; pass head='...'")
        logits = captured[-1]
        if self.output == "logit":
            return logits
        probability = torch.sigmoid(logits)
        if self.output == "probability":
            return probability
        from ..models.calibration import op_norm

        return op_norm(probability, self.model.op_threshs)

    def _in_mode(self, x: torch.Tensor) -> torch.Tensor:
        """The baseline's own output in :attr:`_mode`, its previous mode restored after."""
        before = self.model.output
        self.model.output = self._mode
        try:
            return self.model(x)
        finally:
            self.model.output = before
