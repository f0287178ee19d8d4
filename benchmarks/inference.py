"""CPU inference speed: xrayvision's fast paths against the plain eager float32 forward.

    python benchmarks/inference.py [--threads 2] [--repeats 7] [--skip-large]

Random weights (no downloads). For each model the baseline is the same network run
the way the reference runs it (eager, NCHW, ``torch.no_grad``). Candidates:

* ``torch``: ``model.optimize_for_inference()`` (BN folded into convs, fused
  conv+ReLU, each dense layer's BN+ReLU as one clamp folded into its 1x1 conv,
  pool-before-conv transitions, preallocated dense-block buffers run as flat loops
  over pre-packed weights, channels-last, ``inference_mode``);
* ``onnxrt``: ``model.optimize_for_inference(backend="onnxruntime")``, only when the
  optional ``onnx`` and ``onnxruntime`` packages are installed.

Everything runs in one process, interleaved (each round times every candidate once,
so machine load hits all alike), best-of-N; outputs (logits) must agree with the
baseline within 1e-4 relative. The machine's load average is printed with each row.

The eager baseline allocates a new tensor at every layer, so its speed depends on the
state of glibc's allocator (page faults when freed blocks go back to the OS): on the
2-core test machine its batch-1 time ranged from 60 to 103 ms between runs, slowest when
onnxruntime had been imported. Run the script a few times and compare like with like;
``MALLOC_TRIM_THRESHOLD_=1073741824`` shows the baseline at its best.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import torch

import xrayvision as xrv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests._official_format import random_bn_stats  # noqa: E402 - the tests' own BN randomizer

HAVE_ORT = all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime"))


def _once(fn, x) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def _logits(output):
    return output["out"] if isinstance(output, dict) else output


def compare(name: str, baseline, candidates: dict, x: torch.Tensor, repeats: int) -> None:
    with torch.no_grad():
        expected = _logits(baseline(x))
        errors = {key: float((_logits(fn(x)) - expected).abs().max() / expected.abs().max()) for key, fn in candidates.items()}
    for key, error in errors.items():
        assert error < 1e-4, f"{name} [{key}]: outputs differ (relative {error:.2e})"
    times = dict.fromkeys(["eager", *candidates], float("inf"))
    for _ in range(repeats):
        with torch.no_grad():
            times["eager"] = min(times["eager"], _once(baseline, x))
        for key, fn in candidates.items():
            times[key] = min(times[key], _once(fn, x))
    batch = x.shape[0]
    cells = [f"eager {batch / times['eager']:6.2f} img/s"]
    cells += [f"{key} {batch / times[key]:6.2f} img/s ({times['eager'] / times[key]:4.2f}x)" for key in candidates]
    worst = max(errors.values())
    print(f"{name:<18} b{batch:<3} " + "  ".join(cells) + f"  diff {worst:.0e}  load {os.getloadavg()[0]:.1f}", flush=True)


def _candidates(model) -> dict:
    out = {"torch": model.optimize_for_inference()}
    if HAVE_ORT:
        out["onnxrt"] = model.optimize_for_inference(backend="onnxruntime")
    return out


def _autoencoder_candidates(model) -> dict:
    channels_last = type(model)()
    channels_last.load_state_dict(model.state_dict())
    channels_last = channels_last.eval().to(memory_format=torch.channels_last)

    def run_channels_last(x):
        with torch.inference_mode():
            return channels_last(x.contiguous(memory_format=torch.channels_last))

    out = {"chlast": run_channels_last}
    if HAVE_ORT:  # benchmark only: the library has no ONNX path for the autoencoder
        from xrayvision.models._onnx import OnnxRuntimeNetwork

        class Reconstruction(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.autoencoder = model  # a submodule, so its weights export as initializers

            def forward(self, x):
                return self.autoencoder(x)["out"]

        out["onnxrt"] = OnnxRuntimeNetwork(Reconstruction(), torch.zeros(1, 1, 224, 224))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true", help="only DenseNet-121")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, onnxruntime: {HAVE_ORT}")

    dense = random_bn_stats(xrv.models.DenseNet()).eval()
    dense.input_resolution = 224  # logits: calibration off, so differences are not squashed
    candidates = _candidates(dense)
    for batch in (1, 16):
        x = torch.rand(batch, 1, 224, 224, generator=torch.Generator().manual_seed(batch)) * 2048 - 1024
        compare("DenseNet-121 @224", dense, candidates, x, args.repeats)
    if args.skip_large:
        return
    resnet = random_bn_stats(xrv.models.ResNet(weights=None)).eval()
    candidates = _candidates(resnet)
    for batch in (1, 4):
        x = torch.rand(batch, 1, 512, 512, generator=torch.Generator().manual_seed(batch)) * 2048 - 1024
        compare("ResNet-50 @512", resnet, candidates, x, max(2, args.repeats // 2))
    autoencoder = random_bn_stats(xrv.autoencoders.ResNetAE()).eval()
    x = torch.rand(1, 1, 224, 224, generator=torch.Generator().manual_seed(1)) * 2048 - 1024
    compare("ResNetAE-101 @224", autoencoder, _autoencoder_candidates(autoencoder), x, args.repeats)


if __name__ == "__main__":
    main()
