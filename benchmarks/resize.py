"""Throughput of ``xrv datasets resize`` (xrayvision.datasets.resize.resize_dataset).

Rows, all in one run on generated radiographs:

* large JPEGs (CheXpert/MIMIC-sized, default 2320 x 2828, quality 95): exact pipeline and
  ``fast_jpeg`` (reduced-scale DCT decoding), each with 1 process and with ``--workers``,
  plus the fast path's max and mean absolute difference to the exact copy on the
  [-1024, 1024] scale;
* NIH-sized 8-bit PNGs (1024 x 1024): exact, 1 process and ``--workers``.

With ``--real FOLDER`` the JPEGs under FOLDER (e.g. a CheXpert ``valid`` folder) are used
instead of generated ones.

Run: python benchmarks/resize.py [--images 16] [--workers 2] [--size 224] [--real DIR]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xrayvision.datasets import Dataset
from xrayvision.datasets.resize import resize_dataset
from xrayvision.fakedata import chest_xray_like, write_jpeg, write_png
from xrayvision.io import read_image


class Files(Dataset):
    """Every file of a list, below one folder (one image per item, no labels)."""

    def __init__(self, imgpath, relative):
        super().__init__()
        self.imgpath = Path(imgpath)
        self.csv = pd.DataFrame({"file": list(relative)})
        self._finish_csv()
        self._set_labels(np.zeros((len(self.csv), 1)), ["none"])

    def _image_path(self, index):
        return self.imgpath / self.csv["file"].iat[index]


def timed(dataset, out, **options):
    start = time.perf_counter()
    report = resize_dataset(dataset, out, **options)
    assert report.complete, report.summary()
    return report.written / (time.perf_counter() - start)


def errors(exact_dir, fast_dir):
    worst, means = 0.0, []
    for path in Path(exact_dir).rglob("*.png"):
        diff = np.abs(read_image(path) - read_image(Path(fast_dir) / path.relative_to(exact_dir)))
        worst, means = max(worst, float(diff.max())), means + [float(diff.mean())]
    return worst, float(np.mean(means))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="generated images per kind")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--shape", type=int, nargs=2, default=[2320, 2828], help="height width of the JPEGs")
    parser.add_argument("--real", type=Path, help="use the JPEGs below this folder instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.real:
            jpegs = Files(args.real, sorted(p.relative_to(args.real).as_posix() for p in args.real.rglob("*.jpg")))
        else:
            for k in range(args.images):
                write_jpeg(tmp / "jpeg" / f"{k}.jpg", chest_xray_like(tuple(args.shape), seed=k), quality=95)
            jpegs = Files(tmp / "jpeg", [f"{k}.jpg" for k in range(args.images)])
        for k in range(args.images):
            write_png(tmp / "png" / f"{k}.png", chest_xray_like((1024, 1024), seed=k))
        pngs = Files(tmp / "png", [f"{k}.png" for k in range(args.images)])

        print(f"{len(jpegs)} JPEG(s), {len(pngs)} PNG(s) -> {args.size} px, 16-bit PNG copies")
        print(f"{'source':<22} {'mode':<6} {'1 process':>10} {f'{args.workers} processes':>12}  (images/s)")
        for label, dataset, fast in (("JPEG", jpegs, False), ("JPEG", jpegs, True), ("PNG 1024^2", pngs, False)):
            mode = "fast" if fast else "exact"
            one = timed(dataset, tmp / f"{label}-{mode}-1", size=args.size, fast_jpeg=fast, workers=1)
            many = timed(dataset, tmp / f"{label}-{mode}-n", size=args.size, fast_jpeg=fast, workers=args.workers)
            print(f"{label:<22} {mode:<6} {one:>10.1f} {many:>12.1f}")
        worst, mean = errors(tmp / "JPEG-exact-1", tmp / "JPEG-fast-1")
        print(f"fast JPEG vs exact: max |difference| {worst:.1f}, mean {mean:.2f} (on [-1024, 1024]; an 8-bit step is 8.03)")


if __name__ == "__main__":
    main()
