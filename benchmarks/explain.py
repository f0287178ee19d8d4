"""Explanation speed and memory: Latent Shift batched and cached against the published
one-frame-at-a-time procedure, and integrated gradients with and without ``internal_batch_size``.

    python benchmarks/explain.py [--threads 2] [--device cpu] [--search paper] [--repeats 1]
    python benchmarks/explain.py --quick        # a minimal run that checks everything works

Latent Shift: one 224 px image, ResNetAE-101 and DenseNet-121 with random (seeded) weights;
the target's head row is set so that the prediction starts at 0.9 and falls along the
latent direction, so the search stops inside its limits as in the published logs.
The baseline is the published procedure transcribed in ``tests/explain/published.py``
(every λ decoded and classified alone, autograd recording, a dict cache); the candidate is
``xrv.explain.LatentShift`` (``--batch-size`` λ per decoder call, no autograd, cache shared
by search and frames, the search evaluated a few λ ahead). Both must visit the same λ,
find the same bounds and produce frames equal within 1e-5 relative (to the frames' range).

Integrated gradients: DenseNet-121 at 224 px, ``--ig-steps`` steps, each configuration in
its own process; the figure is the process's peak resident memory (``ru_maxrss``) minus
its resident memory just before the attribution (model built, nothing run yet). Without
``internal_batch_size`` the 100 steps are one batch: about 13 GiB (1.4 GiB measured for 10
steps); make sure the machine has it, or pass ``--ig-steps 10``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import xrayvision as xrv  # noqa: E402
from tests.explain.published import published_latent_shift  # noqa: E402

TARGET = "Effusion"


def build(device: str, depth: int = 101, start: float = 0.9, drop_at: float = -50.0):
    """Random models whose search behaves like the published logs (bounds such as (-50, 1)).

    The target's head row is rescaled (and its bias set) so that the prediction of the
    reconstruction is ``start`` and, to first order along the Latent Shift direction,
    falls by 0.55 at λ = ``drop_at``.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        classifier = xrv.models.DenseNet(apply_sigmoid=True).eval().to(device)
        autoencoder = (xrv.autoencoders.ResNetAE101() if depth == 101 else xrv.autoencoders.ResNetAE50()).eval().to(device)
        image = ((torch.rand(1, 1, 224, 224) * 2 - 1) * 1024).to(device)
    index = classifier.targets.index(TARGET)
    classifier.apply_sigmoid = False
    with torch.no_grad():
        z = autoencoder.encode(image)
    z.requires_grad_(True)
    logit = classifier(autoencoder.decode(z))[0, index]
    (gradient,) = torch.autograd.grad(logit, z)
    curvature = float(gradient.pow(2).sum())  # d logit / dλ per unit of the head's scale squared
    slope = (np.log(start / (1 - start)) - np.log((start - 0.55) / (1.55 - start))) / -drop_at
    scale = float(np.sqrt(slope / (start * (1 - start) * curvature)))
    with torch.no_grad():
        bias = classifier.classifier.bias[index]
        classifier.classifier.weight[index].mul_(scale)
        bias.copy_(np.log(start / (1 - start)) - scale * (float(logit) - float(bias)))
    classifier.apply_sigmoid = True
    return classifier, autoencoder, image


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def latent_shift(args: argparse.Namespace) -> None:
    classifier, autoencoder, image = build(args.device, args.autoencoder)
    index = classifier.targets.index(TARGET)
    versions = {"paper": (False,), "head": (True,), "package": (True,)}
    (sigmoid,) = versions[args.search]
    explainer = xrv.explain.LatentShift(classifier, autoencoder, search=args.search, sigmoid=sigmoid, batch_size=args.batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        published_times, ours_times = [], []
        for _ in range(args.repeats):
            sync(args.device)
            start = time.perf_counter()
            reference = published_latent_shift(lambda x: classifier(x)[:, index], autoencoder, image, args.search, sigmoid)
            sync(args.device)
            published_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            (ours,) = explainer.attribute(image, TARGET)
            sync(args.device)
            ours_times.append(time.perf_counter() - start)
    same_walk = (ours.search.lbound, ours.search.rbound) == (reference["lbound"], reference["rbound"]) and [
        lam for lam, _ in ours.search.left.visited
    ] == reference["left"]
    span = float(np.ptp(reference["frames"])) or 1.0
    worst = float(np.abs(ours.frames - reference["frames"]).max()) / span
    visited = len(reference["left"]) + len(reference["right"])
    print(f"Latent Shift ({args.search}), ResNetAE-{args.autoencoder} + DenseNet-121, 224 px, device {args.device}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"  bounds ({reference['lbound']:g}, {reference['rbound']:g}); {visited} λ visited; {len(ours.lambdas)} frames; "
          f"initial prediction {reference['initial']:.3f}")  # fmt: skip
    print(f"  published, one λ at a time: {min(published_times):8.2f} s")
    print(f"  xrayvision, batch {args.batch_size or 'auto':<4}:     {min(ours_times):8.2f} s   "
          f"speed-up {min(published_times) / min(ours_times):.2f}x")  # fmt: skip
    print(f"  same visited λ and bounds: {same_walk}; same frame λ: {np.array_equal(ours.lambdas, reference['lambdas'])}; "
          f"largest frame difference {worst:.2e} of the frames' range (limit 1e-5)")  # fmt: skip


def _ig_worker(steps: int, internal_batch_size: int | None, threads: int, queue) -> None:
    torch.set_num_threads(threads)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = xrv.models.DenseNet(apply_sigmoid=True).eval()
        image = (torch.rand(1, 1, 224, 224) * 2 - 1) * 1024
    with open("/proc/self/statm") as statm:  # resident pages now (Linux)
        before = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    start = time.perf_counter()
    xrv.explain.attribute(model, image, TARGET, "integrated_gradients", n_steps=steps, internal_batch_size=internal_batch_size)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    queue.put((peak - before, elapsed))


def integrated_gradients(args: argparse.Namespace) -> None:
    context = mp.get_context("spawn")
    print(f"Integrated gradients, DenseNet-121, 224 px, {args.ig_steps} steps (peak memory growth, own process each)")
    for batch in (None, args.ig_batch):
        queue = context.Queue()
        worker = context.Process(target=_ig_worker, args=(args.ig_steps, batch, args.threads, queue))
        worker.start()
        peak, elapsed = queue.get()
        worker.join()
        label = "all steps at once" if batch is None else f"internal_batch_size={batch}"
        print(f"  {label:<26} peak +{peak:8.0f} MiB   {elapsed:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--search", default="paper", choices=("paper", "head", "package"))
    parser.add_argument("--batch-size", type=int, default=None, help="λ per decoder call (default: the library's)")
    parser.add_argument("--autoencoder", type=int, default=101, choices=(101, 50), help="ResNetAE depth")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ig-steps", type=int, default=100)
    parser.add_argument("--ig-batch", type=int, default=10)
    parser.add_argument("--skip-ig", action="store_true")
    parser.add_argument("--quick", action="store_true", help="minimal settings: ResNetAE-50, package search, 10 IG steps")
    args = parser.parse_args()
    if args.quick:
        args.search, args.autoencoder, args.ig_steps, args.ig_batch = "package", 50, 10, 2
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}; torch {torch.__version__}")
    latent_shift(args)
    if not args.skip_ig:
        integrated_gradients(args)


if __name__ == "__main__":
    main()
