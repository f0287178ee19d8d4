"""Attribution maps on captum: one function, :func:`attribute`, for every method.

The methods are captum's (``Saliency``, ``InputXGradient``, ``IntegratedGradients``,
``GuidedBackprop``, ``LayerGradCam``, ``Occlusion``), except SmoothGrad (:func:`smoothgrad`:
its noise must not depend on the rest of the batch); this module picks the output to
explain (:mod:`._targets`), the method's settings, the Grad-CAM layer, and applies the
shared post-processing. Latent Shift (:mod:`.latent_shift`) is reachable
through the same function with ``method="latentshift"``.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ExplainError, UnknownNameError
from ._inputs import image_batch
from ._targets import ClassifierOutput, require_eval, resolve_target, warn_outside_range
from .postprocessing import postprocess

#: Canonical method names, in the order the documentation lists them.
METHODS = (
    "gradient",
    "input_x_gradient",
    "integrated_gradients",
    "guided_backprop",
    "gradcam",
    "occlusion",
    "smoothgrad",
    "latentshift",
)

#: Short names accepted for each method (the published code's and the command line's).
ALIASES = {
    "grad": "gradient",
    "saliency": "gradient",
    "ixg": "input_x_gradient",
    "inputxgradient": "input_x_gradient",
    "ig": "integrated_gradients",
    "integrated": "integrated_gradients",
    "guided": "guided_backprop",
    "gbp": "guided_backprop",
    "grad_cam": "gradcam",
    "latent_shift": "latentshift",
}

#: Grad-CAM layers of the library's classifiers, by class name (the last feature map).
GRADCAM_LAYERS = {"DenseNet": "features", "ResNet": "model.layer4"}

#: SmoothGrad noise, as a fraction of the [-1024, 1024] pixel span (the SmoothGrad paper's 15 %).
SMOOTHGRAD_NOISE = 0.15


def canonical_method(method: str) -> str:
    """The canonical name of ``method`` (aliases accepted, case-insensitive).

    Raises:
        UnknownNameError: not a method name (lists the valid ones).
    """
    name = str(method).strip().lower().replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in METHODS:
        raise UnknownNameError("attribution method", method, [*METHODS, *ALIASES])
    return name


def spatial_layers(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the modules whose output is a 4-D feature map of more than one pixel, in
    the order a forward pass of ``x`` (its first image) produces them."""
    seen: list[str] = []

    def record(name: str):
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-1] * output.shape[-2] > 1:
                seen.append(name)

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    return list(dict.fromkeys(seen))


def default_gradcam_layer(model: nn.Module, x: torch.Tensor | None = None) -> str:
    """The module whose output Grad-CAM weighs: the last spatial feature map.

    In order: the model's own ``gradcam_layer`` attribute (a module name), the
    library's table (:data:`GRADCAM_LAYERS`: ``features`` for DenseNet, ``model.layer4``
    for ResNet), else the module whose 4-D output with more than one pixel is produced
    last in a forward pass of ``x`` (one image).

    Raises:
        ExplainError: no module produces a spatial feature map.
    """
    modules = dict(model.named_modules())
    declared = getattr(model, "gradcam_layer", None)
    if isinstance(declared, str) and declared in modules:
        return declared
    known = GRADCAM_LAYERS.get(type(model).__name__)
    if known in modules:
        return known
    if x is None:
        raise ExplainError("cannot find a Grad-CAM layer without an example input; pass layer='module.name'")
    seen = spatial_layers(model, x)
    if not seen:
        raise ExplainError(f"no module of {type(model).__name__} outputs a spatial feature map; pass layer='module.name'")
    return seen[-1]


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        candidates = [n for n, m in modules.items() if n and len(list(m.children())) > 0][:40]
        raise UnknownNameError("module of this model", name, candidates)
    return modules[name]


def _occlusion_size(what: str, value: int | None, default: int, x: torch.Tensor) -> int:
    """The occlusion ``window`` or ``stride`` in pixels: ``default`` for None, else a whole
    number from 1 to the image's shorter side."""
    if value is None:
        return default
    limit = min(x.shape[-2:])
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ExplainError(
            f"occlusion {what} must be a whole number of pixels from 1 to {limit} (the image is "
            f"{x.shape[-2]}x{x.shape[-1]}), got {value!r}; leave it out for the default (15 px per 224)"
        )
    return value


def smoothgrad(
    forward: nn.Module,
    x: torch.Tensor,
    index: int,
    *,
    n_samples: int,
    stdevs: float,
    seed: int,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Mean gradient of output ``index`` over ``n_samples`` noisy copies of each image.

    The noise is drawn once per call, ``n_samples`` draws shaped like one image, from a
    private generator seeded by ``seed`` (the global random state is neither used nor
    changed), and the same draws are added to every image of the batch: an image's map
    depends only on the image and the seed, not on its place in the batch or on its
    neighbours (captum's ``NoiseTunnel`` draws from the global generator, per batch).

    Args:
        forward: the explained output, ``[B, T]``.
        x: images ``[B, C, H, W]``.
        index: the output explained.
        n_samples, stdevs, seed: number of noisy copies, noise standard deviation (pixels), seed.
        batch_size: most model evaluations per forward pass (None: all at once).

    Raises:
        ExplainError: ``n_samples`` below 1 or a negative ``stdevs``.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ExplainError(f"n_samples must be a whole number of at least 1, got {n_samples!r}")
    if not stdevs >= 0:
        raise ExplainError(f"stdevs must be >= 0 (pixels), got {stdevs!r}")
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn((n_samples, *x.shape[1:]), generator=generator).to(device=x.device, dtype=x.dtype) * stdevs
    per_pass = n_samples if batch_size is None else max(1, batch_size // x.shape[0])
    images = x.detach()
    total = torch.zeros_like(images)
    with torch.enable_grad():
        for start in range(0, n_samples, per_pass):
            draws = noise[start : start + per_pass]
            noisy = (images.unsqueeze(0) + draws.unsqueeze(1)).reshape(-1, *images.shape[1:]).requires_grad_(True)
            (grads,) = torch.autograd.grad(forward(noisy)[:, index].sum(), noisy)
            for grad in grads.view(len(draws), *images.shape):  # one sample at a time: the same sums in any batching
                total += grad
    return total / n_samples


def _captum_attribute(
    method: str,
    forward: ClassifierOutput,
    x: torch.Tensor,
    index: int,
    *,
    layer: str | None,
    baseline: float,
    n_steps: int,
    internal_batch_size: int | None,
    window: int | None,
    stride: int | None,
    n_samples: int,
    stdevs: float | None,
    seed: int,
) -> torch.Tensor:
    from captum import attr

    if method == "gradient":
        return attr.Saliency(forward).attribute(x, target=index, abs=False)
    if method == "input_x_gradient":
        return attr.InputXGradient(forward).attribute(x, target=index)
    if method == "integrated_gradients":
        if n_steps < 1:
            raise ExplainError(f"n_steps must be at least 1, got {n_steps}")
        return attr.IntegratedGradients(forward).attribute(
            x, baselines=baseline, target=index, n_steps=n_steps, internal_batch_size=internal_batch_size
        )
    if method == "guided_backprop":
        return attr.GuidedBackprop(forward).attribute(x, target=index)
    if method == "gradcam":
        name = layer or default_gradcam_layer(forward.model, x)
        cam = attr.LayerGradCam(forward, _module(forward.model, name)).attribute(x, target=index, relu_attributions=True)
        if not isinstance(cam, torch.Tensor) or cam.dim() != x.dim():
            spatial = spatial_layers(forward.model, x)
            raise ExplainError(
                f"Grad-CAM layer {name!r} does not output a spatial feature map [B, C, H, W], so there is no map "
                f"to upsample; choose a convolutional layer, e.g. "
                f"{', '.join(repr(n) for n in spatial[-5:][::-1]) or 'none found'} (the last ones first)"
            )
        return attr.LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    if method == "occlusion":
        side = _occlusion_size("window", window, max(1, round(15 * x.shape[-1] / 224)), x)
        step = _occlusion_size("stride", stride, side, x)
        return attr.Occlusion(forward).attribute(
            x,
            sliding_window_shapes=(x.shape[1], side, side),
            strides=(x.shape[1], step, step),
            baselines=baseline,
            target=index,
            perturbations_per_eval=internal_batch_size or 1,
        )
    if method == "smoothgrad":
        noise = SMOOTHGRAD_NOISE * 2048 if stdevs is None else stdevs
        return smoothgrad(forward, x, index, n_samples=n_samples, stdevs=noise, seed=seed, batch_size=internal_batch_size)
    raise AssertionError(method)


def latent_shift_options() -> list[str]:
    """The keywords ``attribute(method="latentshift")`` passes on to :class:`LatentShift`
    and :meth:`LatentShiftResult.heatmap`."""
    from .latent_shift import HEATMAP_OPTIONS, LatentShift

    own = {"classifier", "autoencoder", "output", "labels", "head"}  # attribute()'s own arguments
    constructor = [n for n in inspect.signature(LatentShift.__init__).parameters if n not in own and n != "self"]
    return sorted([*constructor, *HEATMAP_OPTIONS])


def _check_options(method: str, options: dict[str, Any]) -> None:
    """Refuse keywords the method does not take (a typo would otherwise be ignored or
    reach a constructor as a bare TypeError)."""
    valid = latent_shift_options() if method == "latentshift" else []
    unexpected = sorted(set(options) - set(valid))
    if unexpected:
        hint = f"; method {method!r} takes {', '.join(valid)}" if valid else ""
        raise ExplainError(f"unexpected options for method {method!r}: {', '.join(unexpected)}{hint}")


@contextlib.contextmanager
def _range_check_off(model: nn.Module) -> Iterator[None]:
    """The library models' own pixel-range check, off while captum evaluates them.

    Integrated gradients, occlusion and SmoothGrad feed the model scaled, masked or noisy
    copies of the image that are not meant to look like radiographs; the input itself was
    checked above (:func:`warn_outside_range`).
    """
    if not hasattr(model, "check_input_range"):
        yield
        return
    before = model.check_input_range
    model.check_input_range = False
    try:
        yield
    finally:
        model.check_input_range = before


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    target: int | str,
    method: str = "gradient",
    *,
    output: str = "model",
    labels: Sequence[str] | None = None,
    head: str | None = None,
    layer: str | None = None,
    baseline: float = 0.0,
    n_steps: int = 100,
    internal_batch_size: int | None = 16,
    window: int | None = None,
    stride: int | None = None,
    n_samples: int = 25,
    stdevs: float | None = None,
    seed: int = 0,
    autoencoder: nn.Module | None = None,
    abs: bool = False,
    sigma: float = 0.0,
    percentile: float | None = None,
    **latent_shift: Any,
) -> torch.Tensor:
    """Attribution map of one classifier output for a batch of images.

    Usage::

        model = xrv.models.DenseNet(weights="densenet121-res224-all")
        maps = xrv.explain.attribute(model, img, "Effusion", method="integrated_gradients",
                                     abs=True, sigma=2)

    Methods (aliases in brackets): ``gradient`` (``grad``): d output / d x;
    ``input_x_gradient`` (``ixg``): x times the gradient; ``integrated_gradients``
    (``ig``): path integral from ``baseline`` (0 is mid-grey), ``n_steps`` Gauss-Legendre
    points; ``guided_backprop`` (``guided``): gradients with negative signals stopped at
    every ReLU module; ``gradcam``: gradient-weighted feature map of ``layer``, upsampled
    bilinearly to the image; ``occlusion``: output drop when a ``window``-pixel square
    (default 15 px per 224) is set to ``baseline``, moved by ``stride``; ``smoothgrad``:
    mean gradient over ``n_samples`` noisy copies (noise ``stdevs``, default 15 % of the
    pixel span, drawn from a private generator seeded by ``seed``); ``latentshift``: the
    Latent Shift heatmap (needs ``autoencoder``; options of :class:`LatentShift` and
    :meth:`LatentShiftResult.heatmap` as keywords).

    Args:
        model: a classifier returning ``[B, T]`` with named outputs (``targets`` /
            ``pathologies``, or ``labels=``), in eval mode.
        x: images ``[B, C, H, W]`` (or ``[C, H, W]``) in [-1024, 1024]; not modified.
        target: pathology name or output index. Untrained slots are refused.
        method: a name of :data:`METHODS` or :data:`ALIASES`.
        output: which output is explained: ``"model"`` (what ``model(x)`` returns),
            ``"logit"``, ``"probability"`` or ``"calibrated"`` (see :mod:`._targets`).
        labels: output names when the model has none.
        head: module producing the logits, for ``output`` other than ``"model"``.
        layer: Grad-CAM module name (default: :func:`default_gradcam_layer`).
        baseline: reference pixel value for integrated gradients and occlusion.
        n_steps: integrated-gradient steps (100 in the published comparisons).
        internal_batch_size: most model evaluations per batch for integrated gradients,
            occlusion and SmoothGrad (bounds memory; None: all at once).
        window, stride: occlusion square side and step in pixels.
        n_samples, stdevs, seed: SmoothGrad samples, noise standard deviation and seed.
        autoencoder: for ``latentshift``.
        abs, sigma, percentile: post-processing (:func:`postprocess`); off by default,
            so the raw signed attributions come back.
        **latent_shift: options of :class:`LatentShift` / :meth:`LatentShiftResult.heatmap`.

    Returns:
        Float tensor ``[B, C, H, W]`` (``[B, 1, H, W]`` for Grad-CAM and Latent Shift), on
        ``x``'s device, detached.

    Raises:
        UnknownNameError: unknown method, target name or layer name.
        ExplainError: untrained target, model in training mode, missing autoencoder,
            or options that do not fit.
    """
    name = canonical_method(method)
    _check_options(name, latent_shift)
    x = image_batch(x, model)
    if name == "latentshift":
        if autoencoder is None:
            raise ExplainError("method='latentshift' needs an autoencoder: attribute(..., autoencoder=ae)")
        from .latent_shift import HEATMAP_OPTIONS, LatentShift

        heatmap_options = {HEATMAP_OPTIONS[k]: latent_shift.pop(k) for k in list(latent_shift) if k in HEATMAP_OPTIONS}
        explainer = LatentShift(model, autoencoder, output=output, labels=labels, head=head, **latent_shift)
        results = explainer.attribute(x, target)
        maps = torch.stack([torch.from_numpy(r.heatmap(**heatmap_options))[None] for r in results]).to(x.device)
    else:
        require_eval(model, "classifier")
        warn_outside_range(x)
        forward = ClassifierOutput(model, output, labels, head)
        index = resolve_target(target, forward.labels)
        forward.check_target(index)
        inputs = x.detach().clone().requires_grad_(True)
        with _range_check_off(model), warnings.catch_warnings():
            # captum announces its ReLU hooks on every call; nothing for the user to act on.
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU", category=UserWarning)
            maps = _captum_attribute(
                name, forward, inputs, index, layer=layer, baseline=baseline, n_steps=n_steps,
                internal_batch_size=internal_batch_size, window=window, stride=stride, n_samples=n_samples,
                stdevs=stdevs, seed=seed,
            )  # fmt: skip
        maps = maps.detach()
    return postprocess(maps, abs=abs, sigma=sigma, percentile=percentile)
