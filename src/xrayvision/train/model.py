"""From the ``[model]`` section to a network that outputs one logit per pathology."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, XRVError
from .config import ModelConfig


def _head(model: nn.Module) -> tuple[nn.Module, str] | None:
    """The final linear layer of a library classifier and its attribute path."""
    if isinstance(getattr(model, "classifier", None), nn.Linear):
        return model, "classifier"
    inner = getattr(model, "model", None)
    if inner is not None and isinstance(getattr(inner, "fc", None), nn.Linear):
        return inner, "fc"
    return None


def replace_head(model: nn.Module, num_outputs: int) -> nn.Linear:
    """Give a library classifier a fresh linear head with ``num_outputs`` outputs.

    Raises:
        ConfigError: the model has no recognisable head (``classifier`` or ``model.fc``).
    """
    found = _head(model)
    if found is None:
        raise ConfigError(f"{type(model).__name__} has no 'classifier' or 'model.fc' linear head to replace")
    owner, name = found
    old: nn.Linear = getattr(owner, name)
    new = nn.Linear(old.in_features, num_outputs)
    setattr(owner, name, new)
    return new


def _from_factory(spec: str, options: dict[str, Any]) -> nn.Module:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"model.factory must look like 'package.module:function', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"model.factory {spec!r} cannot be imported: {err}") from None
    try:
        model = factory(**options)
    except TypeError as err:
        raise ConfigError(f"model.factory {spec!r} does not take the keywords of model.options {options}: {err}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.factory {spec!r} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _library_model(config: ModelConfig, num_outputs: int) -> nn.Module:
    from ..models import DenseNet, ResNet
    from ..models.densenet import get_densenet_params

    arch = config.architecture
    if arch.startswith("densenet"):
        try:
            params = get_densenet_params(arch)
        except ValueError as err:
            raise ConfigError(f"model.architecture: {err}") from None
        return DenseNet(**{**params, **config.options, "num_classes": num_outputs})
    if arch in ("resnet50", "resnet101"):
        model = ResNet(arch=arch, **config.options)
        replace_head(model, num_outputs)
        return model
    raise ConfigError(
        f"model.architecture {arch!r} is not one the library builds (densenet121/161/169/201, resnet50, resnet101); "
        "use model.factory for another network"
    )


def build_model(config: ModelConfig, pathologies: list[str], resolution: int, seed: int) -> nn.Module:
    """Build the network of a run, with deterministic initial weights.

    The global torch generator is used inside a forked state: building never changes the
    caller's random state.

    Args:
        config: the ``[model]`` section.
        pathologies: the run's label columns (one output each).
        resolution: the training resolution (recorded on the model).
        seed: the run's seed (initial weights).

    Raises:
        ConfigError: unknown architecture, bad factory, or weights that cannot be loaded.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.factory:
            model = _from_factory(config.factory, config.options)
            recipe = {"factory": config.factory, "options": dict(config.options)}
        elif config.weights:
            from ..models import get_model

            try:
                model = get_model(config.weights)
            except (XRVError, OSError) as err:
                raise ConfigError(f"model.weights {config.weights!r}: {err}") from err
            model.op_threshs = None  # train logits; calibration comes later (xrv calibrate)
            model.apply_sigmoid = False
            if list(getattr(model, "targets", [])) != list(pathologies):
                replace_head(model, len(pathologies))
            recipe = {"architecture": getattr(model, "architecture", config.architecture),
                      "options": dict(getattr(model, "build_options", {}) or {}), "initial_weights": config.weights}  # fmt: skip
        else:
            model = _library_model(config, len(pathologies))
            recipe = {"architecture": config.architecture, "options": dict(config.options)}
    if hasattr(model, "targets"):
        model.targets = list(pathologies)
    if hasattr(model, "op_threshs"):
        model.op_threshs = None
    if hasattr(model, "input_resolution"):
        model.input_resolution = resolution
    model.xrv_recipe = recipe
    if config.freeze_features:
        found = _head(model)
        if found is None:
            raise ConfigError("model.freeze_features needs a model with a 'classifier' or 'model.fc' head")
        head = getattr(*found)
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        for parameter in head.parameters():
            parameter.requires_grad_(True)
    return model


def _failure(model: nn.Module, size: int, device: torch.device) -> RuntimeError | None:
    """The error of a forward pass of one blank ``size`` x ``size`` image, or None."""
    native = getattr(model, "input_resolution", None)
    if native is not None:  # a library model resizes its input to this size: make it the one probed
        model.input_resolution = size
    try:
        with warnings.catch_warnings():  # a blank probe image is not an X-ray: no warning about its range
            warnings.simplefilter("ignore")
            model(torch.zeros((1, 1, size, size), device=device))
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as err:
        return err
    finally:
        if native is not None:
            model.input_resolution = native
    return None


def check_resolution(model: nn.Module, resolution: int, device: torch.device) -> None:
    """Run one blank image of ``data.resolution`` through ``model`` (eval mode, no gradients),
    so an image too small for the network is refused before training starts, not as a
    pooling error in the middle of the first step.

    Raises:
        ConfigError: the forward pass fails at this size (the message names the smallest
            size that works, up to 1024 px).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            error = _failure(model, resolution, device)
            if error is None:
                return
            low, high = resolution, resolution * 2  # low fails; find a size that works, then the smallest
            while high <= 1024 and _failure(model, high, device) is not None:
                low, high = high, high * 2
            if high > 1024:
                raise ConfigError(
                    f"the model ({type(model).__name__}) fails on a blank {resolution}x{resolution} image "
                    f"(data.resolution) and on every size up to 1024 px: {error}"
                )
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if _failure(model, middle, device) is None else (middle, high)
    finally:
        model.train(was_training)
    raise ConfigError(
        f"data.resolution = {resolution} is too small for the model ({type(model).__name__}): its layers shrink "
        f"the image to nothing. Use data.resolution = {high} or more"
    )
