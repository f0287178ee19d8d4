"""``xrv demo``: the whole library end to end, offline, on generated data.

It writes a small dataset in the real NIH ChestX-ray14 layout with the library's own
fake-data writers, loads it through the dataset API, relabels and merges it, prints the
summary tree and label totals, runs the paper's pre-processing, saves a preview grid,
and (when the official weights are in the cache) predicts with a published model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

PREVIEW_TILE = 224


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the library end to end on generated data (offline)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("xrv-demo"), help="output folder (default: ./xrv-demo)")
    parser.add_argument("--patients", type=int, default=12, help="number of fake patients (default: 12)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--weights", default="densenet121-res224-all", help="weights for the model step")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import datasets as xd
    from ..fakedata.nih import write_nih
    from ..transforms import Compose, XRayCenterCrop, XRayResizer

    start = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    step("1. Writing a small dataset in the NIH ChestX-ray14 layout")
    paths = write_nih(out / "NIH", n_patients=args.patients, seed=args.seed)
    print(f"   images:   {paths['imgpath']}")
    print(f"   metadata: {paths['csvpath']}")

    step("2. Loading it through the dataset API (one dataset per view)")
    transform = Compose([XRayCenterCrop(), XRayResizer(PREVIEW_TILE)])
    common = dict(csvpath=paths["csvpath"], bbox_list_path=paths["bbox_list_path"], transform=transform)
    pa = xd.NIH_Dataset(paths["imgpath"], views=["PA"], unique_patients=False, pathology_masks=True, **common)
    ap = xd.NIH_Dataset(paths["imgpath"], views=["AP"], unique_patients=False, **common)
    print(f"   {pa}\n   {ap}")

    step("3. Relabelling both to the 18 default pathologies and merging them")
    for dataset in (pa, ap):
        xd.relabel_dataset(xd.default_pathologies, dataset, silent=True)
    merged = xd.MergeDataset([pa, ap])
    print(indent(str(merged)))

    step("4. Label totals of the merged dataset (1 = present, 0 = absent; NaN not counted)")
    for name, counts in merged.totals().items():
        if counts:
            shown = ", ".join(f"{value:g}: {count}" for value, count in sorted(counts.items()))
            print(f"   {name:<27} {shown}")

    step("5. Pre-processing every image: read -> [-1024, 1024] -> center crop -> resize 224")
    images, titles = [], []
    for i in range(len(merged)):
        sample = merged[i]
        img = np.asarray(sample["img"])
        if img.shape != (1, PREVIEW_TILE, PREVIEW_TILE) or img.min() < -1024 or img.max() > 1024:
            raise RuntimeError(f"pre-processing produced {img.shape} in [{img.min()}, {img.max()}]")
        images.append(img[0])
        titles.append(merged.csv["Image Index"].iloc[i])
    print(f"   {len(images)} images, each float32 [1, 224, 224] within [-1024, 1024]")

    preview = out / "preview.png"
    save_grid(images, preview)
    step(f"6. Preview grid saved to {preview}")

    model_step(args.weights, images)
    print(f"\nDone in {time.perf_counter() - start:.1f} s. Everything is in {out}/")
    return 0


def model_step(weights_name: str, images: list[np.ndarray]) -> None:
    """Predict with a published model if its weights are at hand; else say how to get them.

    The demo never downloads: it uses the cache, a reference cache
    (``~/.torchxrayvision``) or a mirror the user configured (``XRV_WEIGHTS_MIRROR``).
    """
    import os

    import torch

    from ..errors import XRVError
    from ..hub import advice, legacy_cache_dir, verify_cached
    from ..models import get_model, get_weights
    from ..models._validate import content_check

    step(f"7. Predicting with the published model {weights_name!r}")
    weights = get_weights(weights_name)
    status = verify_cached(weights.resource(), check=content_check(weights))
    at_hand = (
        status.usable
        or (legacy_cache_dir() / weights.filename).is_file()
        or bool(os.environ.get("XRV_WEIGHTS_MIRROR"))
    )
    if not at_hand:
        problem = "are not in the cache" if status.state == "missing" else f"failed verification ({status.detail})"
        print(f"   The weights {problem}, and the demo never downloads.")
        print(f"   {advice(weights.resource(), status.path)}")
        return
    try:
        model = get_model(weights.name)
    except XRVError as error:
        print(f"   Skipped: {error}")
        return
    with torch.inference_mode():
        probabilities = model(torch.from_numpy(np.stack(images)[:, None]))
    trained = [j for j, name in enumerate(model.pathologies) if name]
    first = probabilities[0]
    top = sorted(trained, key=lambda j: -float(first[j]))[:3]
    print(f"   {len(images)} images predicted; first image, top findings:")
    for j in top:
        print(f"   {model.pathologies[j]:<27} {float(first[j]):.3f}")
    print(f"   ({len(trained)} trained outputs; the untrained slots of these weights are NaN)")


def save_grid(images: list[np.ndarray], path: Path, columns: int = 6) -> None:
    """Tile ``[H, W]`` images in [-1024, 1024] into one 8-bit PNG (no contrast stretch)."""
    from PIL import Image

    rows = -(-len(images) // columns)
    h, w = images[0].shape
    grid = np.zeros((rows * h, columns * w), dtype=np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = np.round((img + 1024) * (255 / 2048))
    Image.fromarray(grid).save(path)


def step(text: str) -> None:
    print(f"\n{text}")


def indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
