"""Memory of DataLoader workers over a 223k-row dataset: does a worker grow over an epoch?

Forked DataLoader workers share the parent's memory page by page until a page is
written. Python objects are written on every access (their reference counts), so a
dataset holding per-row Python objects (a list of paths, an ``object`` column) slowly
copies itself into every worker as the epoch visits its rows: a known PyTorch trap
(pytorch/pytorch#13246). xrayvision keeps per-row data in NumPy and Arrow arrays, so a
worker should stay flat.

Run from the repository root::

    python benchmarks/worker_memory.py [--samples 20000] [--workers 2] [--trap]

The dataset is ``CheX_Dataset`` on the CheXpert metadata (223,414 rows: the shipped
``chexpert_train.csv.gz`` from ``../shared/realdata/xrv-metadata``, else a generated
``train.csv`` of that size in the real format), every view, every image. Each item goes
through the real path up to the file (``_image_path`` reads the row's ``Path``); the
file itself is one small JPEG for every row, so the run measures the dataset, not 223k
files. Each worker reports its RSS, and its USS and PSS (``/proc/<pid>/smaps_rollup``,
Linux), after 1,000, ``--samples/2`` and ``--samples`` items of its own. ``--trap`` turns
the csv's text columns into Python ``object`` columns first, to show what the benchmark
catches. A worker's first full garbage collection walks every object it inherited
(torch's, pandas', ...) and so copies their pages once, whatever the dataset holds;
``--freeze-gc`` calls ``gc.freeze()`` in the parent first (PyTorch's advice for large
runs), which leaves only the dataset's own behaviour.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch.utils.data

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("XRV_REALDATA", ROOT.parent / "shared" / "realdata"))
SHIPPED = REALDATA / "xrv-metadata" / "chexpert_train.csv.gz"
ROWS = 223_414
FINDINGS = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
            "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
            "Fracture", "Support Devices")  # fmt: skip


def generated_csv(folder: Path, rows: int = ROWS) -> Path:
    """A CheXpert-format ``train.csv`` of ``rows`` rows (ids, views, ages, labeller cells)."""
    rng = np.random.default_rng(0)
    patient = np.sort(rng.integers(1, rows // 3, rows))
    study = rng.integers(1, 5, rows)
    lateral = rng.random(rows) < 0.15
    side = np.where(lateral, "lateral", "frontal")
    table = pd.DataFrame({
        "Path": [f"CheXpert-v1.0-small/train/patient{p:05d}/study{s}/view{i % 2 + 1}_{v}.jpg"
                 for i, (p, s, v) in enumerate(zip(patient, study, side))],
        "Sex": rng.choice(["Male", "Female"], rows),
        "Age": rng.integers(18, 90, rows),
        "Frontal/Lateral": np.where(lateral, "Lateral", "Frontal"),
        "AP/PA": np.where(lateral, None, rng.choice(["AP", "PA"], rows)),
    })  # fmt: skip
    for name in FINDINGS:
        table[name] = rng.choice([1.0, 0.0, -1.0, np.nan], rows, p=[0.1, 0.1, 0.05, 0.75])
    path = folder / "train.csv"
    table.to_csv(path, index=False)
    return path


def memory() -> dict[str, float]:
    """This process's RSS, and USS/PSS where /proc/self/smaps_rollup exists, in MiB."""
    try:
        fields = {}
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0]) / 1024
        return {"rss": fields["Rss"], "pss": fields["Pss"], "uss": fields["Private_Clean"] + fields["Private_Dirty"]}
    except (OSError, KeyError, ValueError):
        import resource

        return {"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


class Probe(torch.utils.data.Dataset):
    """Items of ``dataset``, a memory report queued when this worker reaches a checkpoint."""

    def __init__(self, dataset, checkpoints: tuple[int, ...], reports) -> None:
        self.dataset, self.checkpoints, self.reports, self.served = dataset, checkpoints, reports, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        self.served += 1  # per worker: each has its own copy of this object
        if self.served in self.checkpoints:
            self.reports.put((os.getpid(), self.served, memory()))
        return {"lab": sample["lab"], "img": sample["img"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000, help="items per worker at the last report")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trap", action="store_true", help="turn the csv's text columns into Python objects")
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() in the parent before the workers start")
    args = parser.parse_args()
    if "fork" not in multiprocessing.get_all_start_methods():
        print("this benchmark needs the fork start method (Linux)", file=sys.stderr)
        return 1

    from xrayvision.datasets import CheX_Dataset
    from xrayvision.fakedata import chest_xray_like, write_jpeg
    from xrayvision.io import read_image

    scratch = Path(tempfile.mkdtemp(prefix="xrv-worker-memory-"))
    os.environ.setdefault("XRV_CACHE_DIR", str(scratch / "cache"))
    csvpath = SHIPPED if SHIPPED.is_file() else generated_csv(scratch)
    image = write_jpeg(scratch / "one.jpg", chest_xray_like((64, 64), seed=0))

    class OneFileCheX(CheX_Dataset):
        def _read_image(self, index: int) -> np.ndarray:
            self._image_path(index)  # the real per-row lookup; every row then reads one file
            return read_image(image)

    dataset = OneFileCheX(imgpath=scratch, csvpath=csvpath, views="*", unique_patients=False)
    if args.trap:
        for column in dataset.csv.columns[dataset.csv.dtypes == "str"]:
            dataset.csv[column] = dataset.csv[column].astype(object)
    if args.freeze_gc:
        gc.freeze()
    context = multiprocessing.get_context("fork")
    reports = context.SimpleQueue()
    checkpoints = tuple(sorted({1_000, args.samples // 2, args.samples}))
    probe = Probe(dataset, checkpoints, reports)
    loader = torch.utils.data.DataLoader(probe, batch_size=64, shuffle=True, num_workers=args.workers,
                                         multiprocessing_context=context,
                                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    wanted = args.samples * args.workers
    trap = " (text as Python objects)" if args.trap else ""
    print(f"{type(dataset).__name__} on {csvpath.name}: {len(dataset)} rows; {args.workers} workers, "
          f"{args.samples} items each{trap}; parent {memory()['rss']:.0f} MiB RSS")
    start, seen = time.perf_counter(), 0
    for batch in loader:
        seen += len(batch["lab"])
        if seen >= wanted + args.workers * 64 * 2:  # every worker past its last checkpoint
            break
    elapsed = time.perf_counter() - start
    rows = []
    while not reports.empty():
        rows.append(reports.get())
    print(f"{'worker':>8}{'items':>8}{'RSS MiB':>10}{'USS MiB':>10}{'PSS MiB':>10}")
    for pid, served, mem in sorted(rows, key=lambda r: (r[0], r[1])):
        uss, pss = mem.get("uss", float("nan")), mem.get("pss", float("nan"))
        print(f"{pid:>8}{served:>8}{mem['rss']:>10.1f}{uss:>10.1f}{pss:>10.1f}")
    growth = {}
    for pid, served, mem in rows:
        growth.setdefault(pid, {})[served] = mem.get("uss", mem["rss"])
    kind = "USS" if rows and "uss" in rows[0][2] else "RSS"
    for pid, marks in sorted(growth.items()):
        steps = [f"{marks[b] - marks[a]:+.1f} MiB from item {a:,} to {b:,}" for a, b in zip(checkpoints, checkpoints[1:])
                 if a in marks and b in marks]  # fmt: skip
        print(f"worker {pid}: {kind} " + ", ".join(steps))
    print(f"{seen} items in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
