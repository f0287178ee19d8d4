"""CPU inference speed: xrayvision's fast paths against the plain eager float32 forward.

    python benchmarks/inference.py [--threads 2] [--repeats 7] [--skip-large] [--skip-core]
        [--baselines jfhealthcare,chestx_det,...|none] [--baseline-batches 1,16] [--chexpert-models 30]

Baselines: each is timed eager (it has no other path) at its native resolution, batch 1
and 16, in its own process (best of ``repeats // 3``), with its peak RSS. The CheXpert
ensemble is built from a generated zip in the official layout (``--chexpert-models`` per
group, 30 = the full 90) and its peak memory measured holding all members and
streaming them from the zip, each in a fresh process.

Random weights (no downloads). For each model the baseline is the same network run
the way the reference runs it (eager, NCHW, ``torch.no_grad``). Candidates:

* ``torch``: ``model.optimize_for_inference()`` (BN folded into convs, fused
  conv+ReLU and conv+residual+ReLU, each dense layer's BN+ReLU as one clamp folded
  into its 1x1 conv, pool-before-conv transitions, dense-block buffers that the 3x3
  convs write into, flat loops over pre-packed weights, scratch tensors reused from
  call to call, channels-last, ``inference_mode``);
* ``onnxrt``: ``model.optimize_for_inference(backend="onnxruntime")``, only when the
  optional ``onnx`` and ``onnxruntime`` packages are installed;
* ``chlast`` (autoencoder only): the same module in channels-last memory;
* ``openvino`` (DenseNet only, a reference point, not a library backend): the eager
  model with its ``features`` compiled by OpenVINO in float32 (precision hint ``f32``:
  on CPUs with bf16 units OpenVINO otherwise computes in bf16, ~5e-3 off), only when the
  optional ``openvino`` package is installed. It shows what an inference engine that
  compiles the whole graph reaches on the same cores.

Each candidate runs in its own worker process, as it would in a user's program: on
CPU, tensors of a few MB are paid for in page faults whenever glibc has given the
freed memory back to the OS, and in one shared process each candidate's allocations
would change the others' (the eager batch-1 time moved between 60 and 103 ms with
what else had run). The workers are driven in interleaved rounds (each round, one at
a time, every candidate runs two forwards back to back and times the second, so machine
load hits all alike), best-of-N.
Outputs (logits) must agree with the baseline within 1e-4 relative. Each row also
prints the minor page faults per forward of each candidate and the load average.

A tiny run that proves the script works: ``--skip-core --baselines mira --baseline-batches 1
--repeats 1 --chexpert-models 1``.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
HAVE_ORT = all(importlib.util.find_spec(name) for name in ("onnx", "onnxruntime"))
HAVE_OPENVINO = importlib.util.find_spec("openvino") is not None


def _model(kind: str):
    import xrayvision as xrv

    sys.path.insert(0, str(ROOT))
    from tests._official_format import random_bn_stats  # the tests' own BN randomizer

    torch.manual_seed(0)  # every worker builds the same weights
    if kind == "densenet":
        model = random_bn_stats(xrv.models.DenseNet())
        model.input_resolution = 224  # logits: calibration off, so differences are not squashed
    elif kind == "resnet":
        model = random_bn_stats(xrv.models.ResNet(weights=None))
    else:
        model = random_bn_stats(xrv.autoencoders.ResNetAE())
    return model.eval()


def _autoencoder_candidate(model, name: str):
    if name == "chlast":
        channels_last = model.to(memory_format=torch.channels_last)

        def run_channels_last(x):
            with torch.inference_mode():
                return channels_last(x.contiguous(memory_format=torch.channels_last))

        return run_channels_last
    from xrayvision.models._onnx import OnnxRuntimeNetwork  # benchmark only: no library ONNX path here

    class Reconstruction(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.autoencoder = model  # a submodule, so its weights export as initializers

        def forward(self, x):
            return self.autoencoder(x)["out"]

    return OnnxRuntimeNetwork(Reconstruction(), torch.zeros(1, 1, 224, 224))


class _OpenVinoNetwork(torch.nn.Module):
    """``network`` compiled by OpenVINO for the CPU in float32 (benchmark reference only)."""

    def __init__(self, network: torch.nn.Module, example: torch.Tensor):
        super().__init__()
        import openvino

        config = {
            "INFERENCE_NUM_THREADS": torch.get_num_threads(),
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        converted = openvino.convert_model(network.eval(), example_input=example)
        self._request = openvino.Core().compile_model(converted, "CPU", config).create_infer_request()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._request.infer({0: x.contiguous().numpy()})[0].copy())


def _candidate(kind: str, name: str):
    model = _model(kind)
    if name == "openvino":  # the eager model around an OpenVINO-compiled feature extractor
        model.features = _OpenVinoNetwork(model.features, torch.zeros(1, 1, 224, 224))

        def run_openvino(x):
            with torch.no_grad():
                return model(x)

        return run_openvino
    if name == "eager":
        def run_eager(x):
            with torch.no_grad():
                return model(x)

        return run_eager
    if kind == "autoencoder":
        return _autoencoder_candidate(model, name)
    return model.optimize_for_inference(backend="onnxruntime" if name == "onnxrt" else "torch")


def _input(kind: str, batch: int) -> torch.Tensor:
    size = 512 if kind == "resnet" else 224
    return torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(batch)) * 2048 - 1024


def _logits(output) -> torch.Tensor:
    return output["out"] if isinstance(output, dict) else output


def _worker(connection, kind: str, name: str, threads: int) -> None:
    """Serve ``("time", batch)``: (seconds, page faults) of the second of two forwards
    run back to back, and ``("output", batch)``: the logits."""
    torch.set_num_threads(threads)
    run = _candidate(kind, name)
    inputs: dict[int, torch.Tensor] = {}
    connection.send("ready")
    while (request := connection.recv()) is not None:
        what, batch = request
        x = inputs.setdefault(batch, _input(kind, batch))
        if what == "output":
            connection.send(_logits(run(x)).detach().clone())
            continue
        run(x)  # back-to-back forwards, as in a loop over images: warm caches and threads
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        run(x)
        elapsed = time.perf_counter() - start
        connection.send((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults))


class Workers:
    """One process per candidate of one model; ``ask(name, request)`` waits for its answer."""

    def __init__(self, kind: str, names: list[str], threads: int):
        context = mp.get_context("spawn")
        self.connections, self.processes = {}, []
        for name in names:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, kind, name, threads), daemon=True)
            process.start()
            self.connections[name] = parent
            self.processes.append(process)
        for connection in self.connections.values():
            assert connection.recv() == "ready"

    def ask(self, name: str, request):
        self.connections[name].send(request)
        return self.connections[name].recv()

    def close(self) -> None:
        for connection in self.connections.values():
            connection.send(None)
        for process in self.processes:
            process.join(timeout=30)


def compare(label: str, workers: Workers, batch: int, repeats: int) -> None:
    names = list(workers.connections)
    expected = workers.ask("eager", ("output", batch))
    errors = {}
    for name in names[1:]:
        error = float((workers.ask(name, ("output", batch)) - expected).abs().max() / expected.abs().max())
        assert error < 1e-4, f"{label} [{name}]: outputs differ (relative {error:.2e})"
        errors[name] = error
    times = dict.fromkeys(names, float("inf"))
    faults = dict.fromkeys(names, 0)
    for _ in range(repeats):
        for name in names:
            elapsed, count = workers.ask(name, ("time", batch))
            times[name] = min(times[name], elapsed)
            faults[name] += count
    cells = [f"eager {batch / times['eager']:6.2f} img/s"]
    cells += [f"{name} {batch / times[name]:6.2f} img/s ({times['eager'] / times[name]:4.2f}x)" for name in names[1:]]
    page_faults = "/".join(f"{faults[name] // repeats}" for name in names)
    print(
        f"{label:<18} b{batch:<3} " + "  ".join(cells)
        + f"  diff {max(errors.values()):.0e}  faults/fwd {page_faults}  load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


# --- baselines ---------------------------------------------------------------------------

#: Baselines timed with random weights at their native resolution (riken ships only as
#: TorchScript and the VQ-GAN's size comes from its YAML: neither exists offline).
BASELINES = {
    "jfhealthcare": "jfhealthcare.DenseNet",
    "chestx_det": "chestx_det.PSPNet",
    "chestx_anatomy": "chestx_anatomy.UNetResNet50",
    "emory_hiti": "emory_hiti.RaceModel",
    "mira": "mira.SexModel",
    "xinario": "xinario.ViewModel",
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _memory_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last :func:`_reset_peak`) in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")  # resets VmHWM to the current RSS


def _baseline_worker(connection, name: str, batches: list[int], repeats: int, threads: int) -> None:
    """Time one baseline's eager forward (best of ``repeats``) at each batch size."""
    import xrayvision as xrv

    sys.path.insert(0, str(ROOT))
    from tests._official_format import random_bn_stats

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    group, cls = BASELINES[name].split(".")
    model = random_bn_stats(getattr(getattr(xrv.baseline_models, group), cls)(weights=False)).eval()
    side = model.input_resolution
    results = []
    for batch in batches:
        x = torch.rand(batch, 1, side, side) * 2048 - 1024
        best = float("inf")
        with torch.no_grad():
            model(x)  # warm-up
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                best = min(best, time.perf_counter() - start)
        results.append((batch, batch / best))
    connection.send((side, results, _peak_rss_mb()))


def time_baselines(names: list[str], batches: list[int], repeats: int, threads: int) -> None:
    context = mp.get_context("spawn")
    for name in names:
        parent, child = context.Pipe()
        process = context.Process(target=_baseline_worker, args=(child, name, batches, repeats, threads), daemon=True)
        process.start()
        side, results, peak = parent.recv()
        process.join(timeout=60)
        cells = "  ".join(f"b{batch} {rate:7.2f} img/s" for batch, rate in results)
        print(f"{name:<15} @{side:<4} {cells}  peak RSS {peak:6.0f} MB  load {os.getloadavg()[0]:.1f}", flush=True)


def _chexpert_worker(connection, zip_path: str, members: int, stream: bool, threads: int) -> None:
    """Peak memory and time of the CheXpert ensemble, members held or streamed from the zip."""
    import xrayvision as xrv

    torch.set_num_threads(threads)
    _reset_peak()
    before = _memory_mb("VmRSS")
    start = time.perf_counter()
    model = xrv.baseline_models.chexpert.DenseNet(weights_zip=zip_path, num_models=members, stream=stream)
    built = time.perf_counter() - start
    x = torch.rand(1, 1, 320, 320) * 2048 - 1024
    with torch.no_grad():
        start = time.perf_counter()
        model(x)
        forward = time.perf_counter() - start
    connection.send((built, forward, _memory_mb("VmHWM") - before))


def chexpert_memory(members: int, threads: int) -> None:
    import tempfile

    sys.path.insert(0, str(ROOT))
    from tests.baseline_models._chexpert_zip import write_zip  # the tests' official-layout writer

    with tempfile.TemporaryDirectory() as folder:
        zip_path = str(Path(folder) / "chexpert_weights.zip")
        write_zip(Path(zip_path), num_models=members)
        size = os.path.getsize(zip_path) / 2**20
        context = mp.get_context("spawn")
        for stream in (False, True):
            parent, child = context.Pipe()
            process = context.Process(target=_chexpert_worker, args=(child, zip_path, members, stream, threads), daemon=True)
            process.start()
            built, forward, peak = parent.recv()
            process.join(timeout=60)
            mode = "streaming" if stream else "holding all"
            print(
                f"CheXpert {3 * members:>2} members ({size:.0f} MB zip), {mode:<11}: peak RSS +{peak:6.0f} MB, "
                f"build {built:6.1f} s, one image {forward:6.1f} s",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true", help="only DenseNet-121 among the core models")
    parser.add_argument("--skip-core", action="store_true", help="no core-model comparison")
    parser.add_argument(
        "--baselines", default=",".join(BASELINES), help="baselines to time (comma-separated; 'none' for none)"
    )
    parser.add_argument("--baseline-batches", default="1,16", help="batch sizes for the baselines")
    parser.add_argument(
        "--chexpert-models", type=int, default=30, help="CheXpert ensemble members per group (0: skip; 30: all)"
    )
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {args.threads} threads per worker, onnxruntime: {HAVE_ORT}, openvino: {HAVE_OPENVINO}")
    extra = ["onnxrt"] if HAVE_ORT else []
    reference = ["openvino"] if HAVE_OPENVINO else []
    plan = [] if args.skip_core else [
        ("DenseNet-121 @224", "densenet", ["eager", "torch", *extra, *reference], (1, 16), args.repeats)
    ]
    if not args.skip_large and not args.skip_core:
        plan += [
            ("ResNet-50 @512", "resnet", ["eager", "torch", *extra], (1, 4), max(2, args.repeats // 2)),
            ("ResNetAE-101 @224", "autoencoder", ["eager", "chlast", *extra], (1,), args.repeats),
        ]
    for label, kind, names, batches, repeats in plan:
        workers = Workers(kind, names, args.threads)
        try:
            for batch in batches:
                compare(label, workers, batch, repeats)
        finally:
            workers.close()
    names = [] if args.baselines == "none" else [n for n in args.baselines.split(",") if n]
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        parser.error(f"unknown baselines {unknown}; choose from {sorted(BASELINES)}")
    if names:
        print("baselines (eager, random weights, native resolution):")
        time_baselines(names, [int(b) for b in args.baseline_batches.split(",")], max(1, args.repeats // 3), args.threads)
    if args.chexpert_models:
        chexpert_memory(args.chexpert_models, args.threads)


if __name__ == "__main__":
    main()
