"""Training throughput on this machine: does the model ever wait for data?

Rows, all measured in one run on a generated NIH release (1024 px PNGs) and its resized
copy (``xrv datasets resize``, 224 px):

* loader: images/s that ONE DataLoader worker delivers (read + crop/resize + the paper's
  random affine + collate), from the original files and from the resized copy;
* model ceiling: images/s of a DenseNet-121 training step (forward, backward, Adam) at
  224 px on batches already in memory;
* training: images/s of ``xrv.train.Trainer`` reading the resized copy with ``--workers``
  loader processes, and the share of time the step waited for data, from its metrics log:
  steps 11-20 of one epoch (the steady state; the loader's start at each epoch is counted in
  the first ten).

Targets (issue 12): the model waits for data less than 5 % of the time; one worker delivers
at least 200 images/s from the resized copy.

Run: python benchmarks/train_throughput.py [--batch 16] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import xrayvision as xrv
from xrayvision.datasets.resize import resize_dataset
from xrayvision.fakedata.nih import write_nih
from xrayvision.train.data import SeededSamples, collate, pixel_transform
from xrayvision.transforms import paper_augmentation


def nih(paths: dict[str, Path], imgpath: Path, resolution: int = 224) -> xrv.datasets.NIH_Dataset:
    return xrv.datasets.NIH_Dataset(imgpath, csvpath=paths["csvpath"], bbox_list_path=paths["bbox_list_path"],
                                    views=None, unique_patients=False, transform=pixel_transform(resolution))  # fmt: skip


def loader_rate(dataset, batch: int) -> float:
    """Images/s one worker process delivers, after its first batch (start-up excluded)."""
    samples = SeededSamples(dataset, paper_augmentation())
    keys = [(i % len(dataset), i) for i in range(max(4 * batch, len(dataset)))]
    batches = [keys[i : i + batch] for i in range(0, len(keys) - batch + 1, batch)]
    loader = torch.utils.data.DataLoader(samples, batch_sampler=batches, num_workers=1, collate_fn=collate,
                                         prefetch_factor=4)  # fmt: skip
    iterator = iter(loader)
    next(iterator)
    start, count = time.perf_counter(), 0
    for item in iterator:
        count += len(item["img"])
    return count / (time.perf_counter() - start)


def model_ceiling(batch: int, steps: int) -> float:
    """Images/s of DenseNet-121 training steps at 224 px on one batch held in memory."""
    torch.manual_seed(0)
    model = xrv.models.DenseNet(num_classes=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5, amsgrad=True)
    images = torch.rand(batch, 1, 224, 224) * 2048 - 1024
    labels = torch.randint(0, 2, (batch, 3)).float()
    model.train()

    def step() -> None:
        optimizer.zero_grad()
        xrv.train.masked_bce(model(images), labels).backward()
        optimizer.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


def training_rate(paths: dict[str, Path], copy: Path, out: Path, batch: int, workers: int) -> tuple[float, float]:
    """(images/s, share of time waiting for data) of steps 11-20 of the trainer on the resized copy."""
    config = xrv.train.config_from_dict({
        "run": {"out": str(out), "workers": workers, "progress": False},
        "data": {"datasets": [{"name": "nih", "imgpath": str(copy), "csvpath": str(paths["csvpath"]), "views": ["PA", "AP"],
                               "options": {"bbox_list_path": str(paths["bbox_list_path"])}}],
                 "pathologies": ["Cardiomegaly", "Effusion", "Infiltration"], "split": [1.0, 0.0, 0.0]},
        "model": {"architecture": "densenet121"},
        "optim": {"epochs": 1, "max_steps": 20, "batch_size": batch},
    })  # fmt: skip
    xrv.train.Trainer(config).fit()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steady = next(r for r in records if r["kind"] == "train" and r["step"] == 20)
    return steady["images_per_s"], steady["data_wait"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="loader workers of the training row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # write_nih gives patient p 1 + p % 3 images: enough for 20 steps in one epoch
        paths = write_nih(root / "NIH", n_patients=10 * args.batch + 4, size=1024)
        original = nih(paths, paths["imgpath"])
        copy = root / "NIH-224"
        report = resize_dataset(original, copy, size=224, workers=2)
        print(f"{len(original)} images at 1024 px; resized copy: {report.written} written")
        from_original = loader_rate(original, args.batch)
        from_copy = loader_rate(nih(paths, copy), args.batch)
        ceiling = model_ceiling(args.batch, 4)
        rate, wait = training_rate(paths, copy, root / "run", args.batch, args.workers)
    print(f"{'row':<62}{'images/s':>10}")
    print(f"{'loader, 1 worker, original 1024 px PNGs':<62}{from_original:>10.1f}")
    print(f"{'loader, 1 worker, resized 224 px copy (target >= 200)':<62}{from_copy:>10.1f}")
    print(f"{'model ceiling: DenseNet-121 step at 224 px, batch in memory':<62}{ceiling:>10.1f}")
    print(f"{f'training from the copy, {args.workers} worker(s), steps 11-20':<62}{rate:>10.1f}")
    print(f"data wait share while training: {100 * wait:.1f} % (target < 5 %); training / ceiling: {rate / ceiling:.2f}")


if __name__ == "__main__":
    main()
