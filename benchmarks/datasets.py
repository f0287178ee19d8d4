"""Cold and warm construction time and peak memory of the datasets with shipped metadata.

Run from the repository root::

    python benchmarks/datasets.py [--repeat 3] [--only NIH CheX ...] [--cpu]

Metadata comes from ``../shared/realdata/xrv-metadata/`` (``XRV_REALDATA`` overrides the
realdata folder); ``imgpath`` is an empty temporary folder. Each "cold" run uses a fresh,
empty cache folder: "cold s" is the time until the constructor returns, the parsed-table
cache entry written (synchronously). "warm" is the next construction with the same cache.
All run in a process where xrayvision and the dataset module are already imported (the
import time is printed once, separately).

Baseline ("read_csv s"): a plain ``pandas.read_csv(path)`` with default arguments of every
metadata file the constructor reads, measured in the same run (NIH: Data_Entry + BBox_List;
RSNA: the labels zip + the DICOM-header table; Openi: its two CSVs plus reading the bytes of
every member of the reports ``.tgz``, which holds XML, not CSV, so "plain read" there means
decompressing the archive). Targets: cold <= 1.5x baseline, warm < 0.2 s. Times are the best of
``--repeat`` runs, each stopped before its result (table or dataset) is freed; peak memory is the tracemalloc peak of one cold construction (Python
allocations only). ``--cpu`` times CPU seconds of the process (all its threads) instead of
wall seconds: steadier on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
META = Path(os.environ.get("XRV_REALDATA", ROOT.parent / "shared" / "realdata")) / "xrv-metadata"

# (label, module, class, keyword arguments (file names under META), files of the baseline)
CASES = (
    ("NIH", "nih", "NIH_Dataset", {"csvpath": "Data_Entry_2017_v2020.csv.gz", "bbox_list_path": "BBox_List_2017.csv.gz"}, ("Data_Entry_2017_v2020.csv.gz", "BBox_List_2017.csv.gz")),
    ("NIH_Google", "nih_google", "NIH_Google_Dataset", {"csvpath": "google2019_nih-chest-xray-labels.csv.gz"}, ("google2019_nih-chest-xray-labels.csv.gz",)),
    ("RSNA", "rsna", "RSNA_Pneumonia_Dataset", {"csvpath": "kaggle_stage_2_train_labels.csv.zip", "dicomcsvpath": "kaggle_stage_2_train_images_dicom_headers.csv.gz"}, ("kaggle_stage_2_train_labels.csv.zip", "kaggle_stage_2_train_images_dicom_headers.csv.gz")),
    ("PC", "padchest", "PC_Dataset", {"csvpath": "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"}, ("PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz",)),
    ("CheX", "chexpert", "CheX_Dataset", {"csvpath": "chexpert_train.csv.gz"}, ("chexpert_train.csv.gz",)),
    ("Openi", "openi", "Openi_Dataset", {"xmlpath": "NLMCXR_reports.tgz", "dicomcsv_path": "nlmcxr_dicom_metadata.csv.gz", "tsnepacsv_path": "nlmcxr_tsne_pa.csv.gz"}, ("NLMCXR_reports.tgz", "nlmcxr_dicom_metadata.csv.gz", "nlmcxr_tsne_pa.csv.gz")),
    ("SIIM", "siim", "SIIM_Pneumothorax_Dataset", {"csvpath": "siim-pneumothorax-train-rle.csv.gz"}, ("siim-pneumothorax-train-rle.csv.gz",)),
    ("VinDr", "vindr", "VinDr_Dataset", {"csvpath": "vinbigdata-train.csv.gz"}, ("vinbigdata-train.csv.gz",)),
)  # fmt: skip


def _plain_read(name: str) -> object:
    """The baseline read of one file: default ``read_csv``; a tar archive's member bytes."""
    if name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(META / name) as archive:
            return [archive.extractfile(member).read() for member in archive if member.isfile()]
    return pd.read_csv(META / name)


def _import_seconds() -> float:
    """Seconds to import every benchmarked dataset module in a fresh interpreter."""
    names = ", ".join(f"xrayvision.datasets.{case[1]}" for case in CASES)
    code = f"import time; t = time.perf_counter(); import {names}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def _best(fn, repeat: int, clock=time.perf_counter) -> float:
    """Best time of ``fn()`` over ``repeat`` runs, by ``clock``.

    The result is freed after the clock stops: freeing a table of a few hundred thousand
    strings costs up to 0.06 s, which belongs to neither the read nor the construction.
    """
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        result = fn()
        best = min(best, clock() - start)
        del result
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", metavar="NAME", help="datasets to time (default: all)")
    parser.add_argument("--cpu", action="store_true", help="CPU seconds instead of wall seconds")
    args = parser.parse_args()
    if not META.is_dir():
        print(f"metadata folder {META} not found", file=sys.stderr)
        return 1
    imgpath = tempfile.mkdtemp(prefix="xrv-bench-img-")
    clock = time.process_time if args.cpu else time.perf_counter
    rows = []
    print(f"import of the {len(CASES)} dataset modules (fresh interpreter): {_import_seconds():.3f} s")
    for label, module, cls_name, files, baseline_files in CASES:
        if args.only and label not in args.only:
            continue
        try:
            cls = getattr(importlib.import_module(f"xrayvision.datasets.{module}"), cls_name)
        except (ImportError, AttributeError) as err:
            print(f"skip {label}: {cls_name} not available ({err})")
            continue
        kwargs = {k: str(META / v) for k, v in files.items()}
        with warnings.catch_warnings():  # PadChest's mixed-type columns warn under the defaults
            warnings.simplefilter("ignore")
            baseline = _best(lambda: [_plain_read(name) for name in baseline_files], args.repeat, clock)

        def cold():
            os.environ["XRV_CACHE_DIR"] = tempfile.mkdtemp(prefix="xrv-bench-cache-")
            return cls(imgpath=imgpath, **kwargs)

        try:
            tracemalloc.start()
            dataset = cold()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            cold_s = _best(cold, args.repeat, clock)
            warm_s = _best(lambda: cls(imgpath=imgpath, **kwargs), args.repeat, clock)
        except Exception as err:  # noqa: BLE001 - report and go on with the other classes
            tracemalloc.stop()
            print(f"skip {label}: construction failed: {type(err).__name__}: {err}")
            continue
        rows.append((label, len(dataset), baseline, cold_s, warm_s, peak / 2**20))
    print(f"\n{'dataset':<11}{'rows':>8}{'read_csv s':>12}{'cold s':>9}{'cold/read':>10}{'warm s':>9}{'peak MiB':>10}")
    for label, n, base, cold_s, warm_s, peak in rows:
        print(f"{label:<11}{n:>8}{base:>12.3f}{cold_s:>9.3f}{cold_s / base:>10.2f}{warm_s:>9.3f}{peak:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
