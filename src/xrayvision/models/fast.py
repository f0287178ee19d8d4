"""A faster CPU/GPU inference path for the classifiers (same outputs within float error).

``optimize_for_inference(model)`` returns an inference-only copy that

* folds every BatchNorm that directly follows a convolution into that convolution
  (DenseNet ``norm0`` → ``conv0``, ``norm2`` → ``conv1``; every ResNet BN),
* fuses the ReLU that follows those convolutions into them (oneDNN post-op, when
  this torch build has it; plain ``relu_`` otherwise),
* turns each dense layer's ``norm1`` + ReLU into one clamp whose affine part folds
  into ``conv1`` (see ``_clamp_form``), and runs each dense block as one flat loop
  over per-input-size lists of pre-packed weights (fewer ops and less Python per
  layer: what dominates at batch 1),
* pools before the 1x1 convolution in DenseNet transitions (both are linear, so
  they commute; the convolution then runs on 4x fewer pixels),
* writes each dense block's new channels into one preallocated buffer instead of
  re-concatenating the growing feature map at every layer,
* runs each ResNet residual sum and its ReLU inside the convolution before them
  (oneDNN post-ops, written into the residual tensor in place),
* on CPU, reuses per-thread scratch tensors from call to call (see
  ``_PerThreadScratch``),
* runs in channels-last layout under ``torch.inference_mode``.

``backend="onnxruntime"`` instead exports the convolutional trunk to ONNX and runs it
with ONNX Runtime (optional dependency, CPU only; see ``_onnx.py``).

The copy keeps the wrapper's input checks, resizing and output modes (calibration,
NaN for unavailable outputs): only the network in the middle changes.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of ``bn(conv(x))`` as a single convolution (eval statistics)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return weight.detach().contiguous(memory_format=torch.channels_last), bias.detach().contiguous()


def _bn_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale.detach(), (bn.bias - bn.running_mean * scale).detach()


def _onednn_weight(weight: torch.Tensor, padding: list[int], stride: list[int], input_size: list[int]) -> torch.Tensor:
    """``weight`` reordered once into oneDNN's blocked layout for inputs of ``input_size``."""
    return torch.ops.mkldnn._reorder_convolution_weight(weight, padding, stride, [1, 1], 1, input_size)


def _has_fused_conv() -> bool:
    """Whether this torch build has oneDNN's fused convolutions, plain and residual-adding."""
    try:
        x = torch.ones(1, 1, 2, 2).contiguous(memory_format=torch.channels_last)
        w = torch.ops.mkldnn._reorder_convolution_weight(torch.ones(1, 1, 1, 1), [0, 0], [1, 1], [1, 1], 1, [1, 1, 2, 2])
        out = torch.ops.mkldnn._convolution_pointwise(x, w, torch.zeros(1), [0, 0], [1, 1], [1, 1], 1, "relu", [], "")
        torch.ops.mkldnn._convolution_pointwise_.binary(out, x, w, None, [0, 0], [1, 1], [1, 1], 1, "add", 1.0, None, [], None)
        return bool(torch.equal(out, torch.full((1, 1, 2, 2), 2.0)))
    except Exception:  # noqa: BLE001 - any failure means "not available in this build"
        return False


class _PerThreadScratch:
    """Scratch tensors reused from call to call, for the last keys each thread used.

    On CPU a fresh tensor of a few MB is paid for in page faults: glibc gives freed
    blocks of that size back to the OS, so every forward touches new pages. At batch
    1 that cost DenseNet-121 ~2,000 faults per forward and ~8% of its time; reused
    buffers cost none. Two entries per thread (a batch's full chunks and its
    remainder) bound the memory held; threads never share an entry. Copies and
    pickles start empty.
    """

    _ENTRIES = 2

    def __init__(self) -> None:
        self._local = threading.local()

    def __reduce__(self) -> tuple[type, tuple]:
        return type(self), ()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = {}
        value = entries.pop(key, None)
        if value is None:
            if len(entries) >= self._ENTRIES:
                del entries[next(iter(entries))]  # the least recently used
            value = build()
        entries[key] = value  # most recent last
        return value


def _uses_onednn(x: torch.Tensor) -> bool:
    """Whether ``x`` takes the fused oneDNN path: CPU float32 inference on a build that has it."""
    return _FUSED_CONV and x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()


def _scratch_key(x: torch.Tensor) -> tuple[Any, ...] | None:
    """Key of the reusable scratch for ``x``, or None where none is kept.

    Only CPU inference reuses scratch: CUDA's caching allocator already recycles
    memory, and autograd cannot record writes into preallocated tensors (``out=``).
    Inference-mode tensors cannot be written outside inference mode, hence the flag.
    """
    if x.device.type != "cpu" or torch.is_grad_enabled():
        return None
    return tuple(x.shape), x.dtype, torch.is_inference_mode_enabled()


class _ConvAct(nn.Module):
    """Convolution with folded bias and an optional fused ReLU."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int, relu: bool):
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.stride, self.padding, self.relu = stride, padding, relu
        # oneDNN weights reordered once for the blocked layout its kernels use (per input
        # size; they serve every batch size): saves the reorder that each call would
        # otherwise redo, up to half the time of the small 3x3 convolutions at batch 1.
        self._packed: dict[tuple[int, ...], torch.Tensor] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Packed oneDNN tensors cannot be pickled or copied; they are rebuilt on first use.
        return {**self.__dict__, "_packed": {}}

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        key = tuple(x.shape[1:])
        packed = self._packed.get(key)
        if packed is None:
            packed = _onednn_weight(self.weight, [self.padding] * 2, [self.stride] * 2, list(x.shape))
            self._packed[key] = packed
        return packed

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """The convolution, plus ``residual`` (before the ReLU) when given.

        With oneDNN the sum is written into ``residual`` itself: no new tensor, and no
        separate passes for the addition and the ReLU.
        """
        if _uses_onednn(x):
            padding, stride = [self.padding] * 2, [self.stride] * 2
            if residual is not None:
                return _ADD_CONV(
                    residual, x, self._packed_weight(x), self.bias, padding, stride, _UNIT, 1, "add", 1.0,
                    "relu" if self.relu else None, _NO_SCALARS, None,
                )
            return _POINTWISE_CONV(
                x, self._packed_weight(x), self.bias, padding, stride, _UNIT, 1, "relu" if self.relu else "none", _NO_SCALARS, "",
            )
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        if residual is not None:
            out = out + residual
        return out.relu_() if self.relu else out


_FUSED_CONV = _has_fused_conv()
_POINTWISE_CONV = torch.ops.mkldnn._convolution_pointwise.default if _FUSED_CONV else None
#: ``other += conv(x)`` (then an optional ReLU), written into ``other`` in place.
_ADD_CONV = torch.ops.mkldnn._convolution_pointwise_.binary if _FUSED_CONV else None
_PADDING_0, _PADDING_1, _UNIT, _NO_SCALARS = [0, 0], [1, 1], [1, 1], []


def _clamp_form(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``relu(bn(x))`` rewritten as ``scale * clamp(x, low, high) + shift`` (eval statistics).

    Per channel, ``relu(s*x + t) = s*max(x, -t/s) + t`` when ``s > 0`` and
    ``s*min(x, -t/s) + t`` when ``s < 0``. The outer affine map then folds into the
    1x1 convolution that follows, so BatchNorm+ReLU cost one elementwise pass (a
    clamp) instead of two. Returns ``(low, high, scale, shift)``, or None where a
    channel has ``s == 0`` or a bound that is not finite (then the exact affine path
    is used).
    """
    scale, shift = _bn_affine(bn)
    bound = -shift / scale
    if not bool(torch.isfinite(bound).all()) or bool((bound.abs() > 1e30).any()):
        return None
    infinity = torch.full_like(bound, float("inf"))
    low = torch.where(scale > 0, bound, -infinity)
    high = torch.where(scale < 0, bound, infinity)
    return low, high, scale, shift


def _fold_norm_relu(
    bn: nn.BatchNorm2d, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``conv(relu(bn(x)))``, ``conv`` 1x1, as ``conv'(pre(x))`` with ``pre`` one pass.

    Returns ``(mode, pre0, pre1, weight', bias')`` for :func:`_norm_relu`: mode "max"
    or "clamp" with the clamp bounds, the BatchNorm's affine map folded into the
    convolution (see :func:`_clamp_form`); or, where that rewrite does not apply,
    "affine" with the BatchNorm's scale and shift and the convolution unchanged. Also
    exact with an average pool between ``pre`` and ``conv``: a per-channel affine map
    commutes with averaging.
    """
    bias = weight.new_zeros(weight.shape[0]) if bias is None else bias
    form = _clamp_form(bn)
    if form is None:
        scale, shift = _bn_affine(bn)
        mode, pre0, pre1 = "affine", scale, shift
    else:
        low, high, scale, shift = form
        mode, pre0, pre1 = ("max" if bool(torch.isinf(high).all()) else "clamp"), low, high
        bias = bias + weight.flatten(1) @ shift  # a 1x1 convolution: no padding, exact
        weight = weight * scale.reshape(1, -1, 1, 1)
    per_channel = (1, -1, 1, 1)
    return (
        mode, pre0.reshape(per_channel).contiguous(), pre1.reshape(per_channel).contiguous(),
        weight.contiguous(memory_format=torch.channels_last), bias.contiguous(),
    )


def _norm_relu(
    mode: str, x: torch.Tensor, pre0: torch.Tensor, pre1: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """The ``pre`` pass of :func:`_fold_norm_relu`, into ``out`` when given."""
    if mode == "max":
        return torch.maximum(x, pre0, out=out)
    if mode == "clamp":
        return torch.clamp(x, pre0, pre1, out=out)
    return torch.addcmul(pre1, x, pre0, out=out).relu_()


class _DenseLayerWeights(nn.Module):
    """A dense layer's folded tensors; run by :class:`_FastDenseBlock`, never called.

    ``norm1 -> relu -> conv1 -> norm2 -> relu -> conv2`` becomes
    ``pre -> conv1' (+ReLU) -> conv2`` (see :func:`_fold_norm_relu`).
    """

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.mode, pre0, pre1, weight, bias = _fold_norm_relu(layer.norm1, *_fold(layer.conv1, layer.norm2))
        self.register_buffer("pre0", pre0)
        self.register_buffer("pre1", pre1)
        self.register_buffer("weight1", weight)
        self.register_buffer("bias1", bias)
        self.register_buffer("weight2", layer.conv2.weight.detach().contiguous(memory_format=torch.channels_last))
        self.in_channels = layer.conv1.in_channels
        self.growth = layer.conv2.out_channels


class _FastDenseBlock(nn.Module):
    """A dense block run as one flat loop over per-input-size plans.

    At batch 1 most convolutions take tens of microseconds, so per-op costs (module
    calls, argument building, weight-cache lookups, slicing syntax, the separate ReLU
    pass) add up: this loop over a cached list of tensors and views (4 ops per layer,
    was 5 plus 3 module calls) is what makes batch 1 fast.
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        self.layers = nn.ModuleList(_DenseLayerWeights(layer) for layer in block.children())
        self.out_channels = self.layers[-1].in_channels + self.layers[-1].growth
        self._plans: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        self._scratch = _PerThreadScratch()

    def __getstate__(self) -> dict[str, Any]:
        # Packed oneDNN tensors cannot be pickled or copied; plans are rebuilt on first use.
        return {**self.__dict__, "_plans": {}}

    def _apply(self, *args: Any, **kwargs: Any) -> Any:
        # Plans and scratch hold the tensors of before a .to()/.double().
        self._plans, self._scratch = {}, _PerThreadScratch()
        return super()._apply(*args, **kwargs)

    def _plan(self, x: torch.Tensor, onednn: bool) -> list[tuple[Any, ...]]:
        key = (x.device, x.dtype, tuple(x.shape[1:]) if onednn else None)
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            size = list(x.shape)
            for layer in self.layers:
                w1, w2 = layer.weight1, layer.weight2
                if onednn:  # weights reordered once for oneDNN's blocked layout (see _ConvAct)
                    size[1] = layer.in_channels
                    w1 = _onednn_weight(w1, _PADDING_0, _UNIT, size)
                    size[1] = w2.shape[1]
                    w2 = _onednn_weight(w2, _PADDING_1, _UNIT, size)
                plan.append((layer.in_channels, layer.growth, layer.mode, layer.pre0, layer.pre1, w1, layer.bias1, w2))
            self._plans[key] = plan
        return plan

    def _workspace(self, x: torch.Tensor, onednn: bool, reuse: bool) -> tuple[torch.Tensor, list[tuple[Any, ...]]]:
        """The output buffer and, per layer: its input and output views of the buffer,
        a scratch view for its ``pre`` pass (``reuse`` only) and its plan."""
        batch, _, height, breadth = x.shape
        buffer = torch.empty(
            (batch, self.out_channels, height, breadth), dtype=x.dtype, device=x.device, memory_format=torch.channels_last
        )
        pixels = batch * height * breadth
        scratch = torch.empty(pixels * self.layers[-1].in_channels, dtype=x.dtype, device=x.device) if reuse else None
        steps = []
        for width, growth, mode, pre0, pre1, w1, b1, w2 in self._plan(x, onednn):
            pre = None
            if scratch is not None:  # channels-last (batch, width, height, breadth)
                pre = scratch[: pixels * width].view(batch, height, breadth, width).permute(0, 3, 1, 2)
            steps.append((buffer.narrow(1, 0, width), pre, buffer.narrow(1, width, growth), mode, pre0, pre1, w1, b1, w2))
        return buffer, steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output. On CPU without gradients this is the block's scratch
        buffer, overwritten by the next call in the same thread: use it at once."""
        onednn = _uses_onednn(x)
        key = _scratch_key(x)
        if key is None:
            buffer, steps = self._workspace(x, onednn, reuse=False)
        else:
            buffer, steps = self._scratch.get(key, lambda: self._workspace(x, onednn, reuse=True))
        width = x.shape[1]
        buffer.narrow(1, 0, width).copy_(x)
        if onednn:
            for part, pre, new, mode, pre0, pre1, w1, b1, w2 in steps:
                y = _norm_relu(mode, part, pre0, pre1, pre)
                y = _POINTWISE_CONV(y, w1, b1, _PADDING_0, _UNIT, _UNIT, 1, "relu", _NO_SCALARS, "")
                # (oneDNN's in-place residual form would copy too: ``new`` is not contiguous)
                new.copy_(_POINTWISE_CONV(y, w2, None, _PADDING_1, _UNIT, _UNIT, 1, "none", _NO_SCALARS, ""))
        else:
            for part, pre, new, mode, pre0, pre1, w1, b1, w2 in steps:
                y = F.conv2d(_norm_relu(mode, part, pre0, pre1, pre), w1, b1).relu_()
                new.copy_(F.conv2d(y, w2, None, 1, 1))
        return buffer


class _FastTransition(nn.Module):
    """``norm -> relu -> conv (1x1) -> avg_pool`` as ``pre -> avg_pool -> conv'``.

    The 1x1 convolution and the 2x2 average pool are both linear, so they commute:
    pooling first leaves 4x fewer pixels to convolve. BatchNorm+ReLU become one pass
    as in the dense layers (:func:`_fold_norm_relu`).
    """

    def __init__(self, transition: nn.Module):
        super().__init__()
        self.mode, pre0, pre1, weight, bias = _fold_norm_relu(transition.norm, transition.conv.weight.detach(), None)
        self.register_buffer("pre0", pre0)
        self.register_buffer("pre1", pre1)
        self.conv = _ConvAct(weight, bias, 1, 0, relu=False)
        self._scratch = _PerThreadScratch()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = _scratch_key(x)
        out = None if key is None else self._scratch.get(key, lambda: torch.empty_like(x, memory_format=torch.channels_last))
        return self.conv(F.avg_pool2d(_norm_relu(self.mode, x, self.pre0, self.pre1, out), 2))


#: Largest first-stage activation (bytes) a CPU batch chunk may have. Beyond the L2/L3
#: cache, the memory-bound steps (BN+ReLU, buffer writes) slow down: measured +10-20%
#: images/s for DenseNet-121 at batch 16 in chunks of 4 on a 2-core machine.
_CPU_CHUNK_BYTES = 16 * 2**20


def _in_chunks(forward, x: torch.Tensor, bytes_per_image: int) -> torch.Tensor:
    """``forward(x)``, run on CPU in batch chunks whose activations stay cache-sized."""
    size = max(1, _CPU_CHUNK_BYTES // max(1, bytes_per_image))
    if x.device.type != "cpu" or x.shape[0] <= size:
        return forward(x)
    return torch.cat([forward(part) for part in x.split(size)])


class FastDenseNetFeatures(nn.Module):
    """Inference-only equivalent of ``DenseNet.features`` (output before the final ReLU)."""

    def __init__(self, features: nn.Sequential):
        super().__init__()
        w, b = _fold(features.conv0, features.norm0)
        self.stem = _ConvAct(w, b, 2, 3, relu=True)
        self.pool = copy.deepcopy(features.pool0)
        self.stages = nn.ModuleList()
        for name, child in features.named_children():
            if name.startswith("denseblock"):
                self.stages.append(_FastDenseBlock(child))
            elif name.startswith("transition"):
                self.stages.append(_FastTransition(child))
        self.norm5 = copy.deepcopy(features.norm5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first_block = self.stages[0].out_channels * (x.shape[-2] // 4) * (x.shape[-1] // 4) * x.element_size()
        return _in_chunks(self._forward, x, first_block)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # A one-channel input is ambiguous about its layout: make the stem output channels-last.
        x = self.pool(self.stem(x).contiguous(memory_format=torch.channels_last))
        for stage in self.stages:
            x = stage(x)
        return self.norm5(x)  # DenseNet applies the final ReLU itself, as with `features`


class _FastBottleneck(nn.Module):
    def __init__(self, block: nn.Module):
        super().__init__()
        self.conv1 = _ConvAct(*_fold(block.conv1, block.bn1), 1, 0, relu=True)
        self.conv2 = _ConvAct(*_fold(block.conv2, block.bn2), block.conv2.stride[0], 1, relu=True)
        self.conv3 = _ConvAct(*_fold(block.conv3, block.bn3), 1, 0, relu=True)  # ReLU after the residual sum
        self.downsample = None
        if block.downsample is not None:
            conv, bn = block.downsample[0], block.downsample[1]
            self.downsample = _ConvAct(*_fold(conv, bn), conv.stride[0], 0, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        # On CPU the sum is written into ``identity``: the block input is not needed after
        # this (only this trunk's own tensors reach a block).
        return self.conv3(self.conv2(self.conv1(x)), residual=identity)


class FastResNetTrunk(nn.Module):
    """Inference-only equivalent of ``ResNetBackbone.trunk``."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.stem = _ConvAct(*_fold(backbone.conv1, backbone.bn1), 2, 3, relu=True)
        self.pool = copy.deepcopy(backbone.maxpool)
        self.blocks = nn.Sequential(
            *[_FastBottleneck(b) for stage in (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4) for b in stage]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first_stage = self.blocks[0].conv3.weight.shape[0] * (x.shape[-2] // 4) * (x.shape[-1] // 4) * x.element_size()
        return _in_chunks(self._forward, x, first_stage)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.pool(self.stem(x).contiguous(memory_format=torch.channels_last)))


class _InferenceOnly:
    """Mixin: the optimized copies refuse training and run under inference mode."""

    def train(self, mode: bool = True) -> Any:
        if mode:
            raise RuntimeError(
                "an optimize_for_inference() copy cannot be trained (its BatchNorms are folded); "
                "train the original model"
            )
        return super().train(False)  # type: ignore[misc]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with torch.inference_mode():
            return super().__call__(*args, **kwargs)  # type: ignore[misc]


def _shallow_clone(module: nn.Module, cls: type) -> Any:
    """A new ``cls`` instance sharing ``module``'s tensors but with its own module table."""
    clone = cls.__new__(cls)
    clone.__dict__ = dict(module.__dict__)
    for table in ("_modules", "_buffers", "_parameters"):
        clone.__dict__[table] = dict(module.__dict__[table])
    return clone


class _FastBackbone(nn.Module):
    """Stands in for ``ResNet.model``: fast trunk, original pooling and head."""

    def __init__(self, backbone: nn.Module, trunk: nn.Module):
        super().__init__()
        self.fast_trunk = trunk
        self.avgpool = backbone.avgpool
        self.fc = backbone.fc

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.fast_trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.trunk(x)), 1))


class _Trunk(nn.Module):
    """``backbone.trunk`` as a module's forward (what the ONNX exporter traces)."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.trunk(x)


_BACKENDS = ("torch", "onnxruntime")


def optimize_for_inference(model: nn.Module, backend: str = "torch") -> nn.Module:
    """Return a faster inference-only copy of a :class:`DenseNet` or :class:`ResNet`.

    The original model is not modified and shares no mutable state with the copy
    except the classifier head. Outputs agree with ``model.eval()`` within float32
    rounding. The copy runs under ``torch.inference_mode`` (no gradients) and refuses
    ``.train()``.

    Args:
        model: a DenseNet-family or ResNet classifier of this library.
        backend: ``"torch"`` (default: folded, fused, channels-last PyTorch; CPU or
            GPU) or ``"onnxruntime"`` (CPU only; the convolutional trunk is exported
            to ONNX and run by ONNX Runtime: faster than eager, but DenseNet-121 ran at
            86-97% of the ``"torch"`` backend's speed on 2 cores, measured with
            ``benchmarks/inference.py``; needs ``pip install "xrayvision[onnx]"``). ONNX Runtime uses
            ``torch.get_num_threads()`` threads, read when this is called.

    Returns:
        The optimized model: same attributes, ``forward``, ``features``/``features2``.

    Raises:
        TypeError: another kind of model.
        ValueError: unknown ``backend``.
        ImportError: ``backend="onnxruntime"`` without ``onnx``/``onnxruntime`` installed.
    """
    from .densenet import DenseNet
    from .resnet import ResNet

    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {_BACKENDS}")
    if not isinstance(model, (DenseNet, ResNet)):
        raise TypeError(f"optimize_for_inference supports DenseNet and ResNet models, not {type(model).__name__}")
    if backend == "onnxruntime":
        from ._onnx import OnnxRuntimeNetwork

        size = model.input_resolution or 224
        example = torch.zeros(1, getattr(model, "in_channels", 1), size, size)
    if isinstance(model, DenseNet):
        fast = _shallow_clone(model, FastDenseNet)
        if backend == "onnxruntime":  # exported from an eval-mode copy: the original keeps its mode
            fast._modules["features"] = OnnxRuntimeNetwork(copy.deepcopy(model.features).eval(), example)
        else:
            fast._modules["features"] = FastDenseNetFeatures(model.features)
        return fast.eval()
    fast = _shallow_clone(model, FastResNet)
    backbone = model.model
    if backend == "onnxruntime":
        trunk = OnnxRuntimeNetwork(_Trunk(copy.deepcopy(backbone)), example)
    else:
        trunk = FastResNetTrunk(backbone)
    fast._modules["model"] = _FastBackbone(backbone, trunk)
    return fast.eval()


def _fast_classes() -> tuple[type, type]:
    from .densenet import DenseNet
    from .resnet import ResNet

    dense = type("FastDenseNet", (_InferenceOnly, DenseNet), {"__module__": __name__})
    res = type("FastResNet", (_InferenceOnly, ResNet), {"__module__": __name__})
    return dense, res


FastDenseNet, FastResNet = _fast_classes()
