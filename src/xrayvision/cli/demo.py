"""``xrv demo``: the whole library end to end, offline, on generated data.

1-4. The dataset API on a small dataset written in the real NIH ChestX-ray14 layout:
     loading per view, relabelling, merging, label totals.
5-9. The chest phantom (rendered radiographs whose findings have exact masks): a
     captioned preview grid; a small classifier trained with ``xrv.train``; its
     validation AUC; an attribution map over the image with the drawn finding outlined,
     and how well two methods' maps agree with the drawn finding over 40 images; a
     Latent Shift counterfactual GIF (with an autoencoder fitted briefly on the
     phantom); a self-contained HTML report of all of it.
10.  A published model, when its weights are already cached (the demo never downloads).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._common import output_folder

#: Side of the phantom images the demo trains on.
PHANTOM_SIZE = 64
#: Findings the demo's classifier learns.
FINDINGS = ["Cardiomegaly", "Effusion"]
#: Positive images whose maps are scored against the drawn finding.
AGREEMENT_IMAGES = 40


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the library end to end on generated data (offline)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=output_folder, default=Path("xrv-demo"), help="output folder (default: ./xrv-demo)")
    parser.add_argument("--patients", type=int, default=12, help="patients of the NIH-layout dataset (default: 12)")
    parser.add_argument("--images", type=int, default=800, help="phantom images to train on (default: 800)")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs on the phantom (default: 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data and the training")
    parser.add_argument("--weights", default="densenet121-res224-all", help="published weights for the last step")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    dataset_tour(out, args.patients, args.seed)
    result = train_on_phantom(out, args.images, args.epochs, args.seed)
    explain_phantom(out, result, args.seed)
    model_step(args.weights)
    print(f"\nDone in {time.perf_counter() - start:.1f} s. Everything is in {out}/ (open {out / 'report.html'})")
    return 0


# ----------------------------------------------------------------------------- 1-4


def dataset_tour(out: Path, patients: int, seed: int) -> None:
    """Write an NIH-layout dataset and go through the dataset API on it."""
    from .. import datasets as xd
    from ..fakedata.nih import write_nih
    from ..transforms import Compose, XRayCenterCrop, XRayResizer

    step("1. Writing a small dataset in the NIH ChestX-ray14 layout")
    paths = write_nih(out / "NIH", n_patients=patients, seed=seed)
    print(f"   images:   {paths['imgpath']}\n   metadata: {paths['csvpath']}")

    step("2. Loading it through the dataset API (one dataset per view): crop, resize 224, [-1024, 1024]")
    transform = Compose([XRayCenterCrop(), XRayResizer(224)])
    common = dict(csvpath=paths["csvpath"], bbox_list_path=paths["bbox_list_path"], transform=transform)
    pa = xd.NIH_Dataset(paths["imgpath"], views=["PA"], unique_patients=False, pathology_masks=True, **common)
    ap = xd.NIH_Dataset(paths["imgpath"], views=["AP"], unique_patients=False, **common)
    sample = pa[0]
    print(f"   {pa}\n   {ap}\n   a sample: img {tuple(sample['img'].shape)} in "
          f"[{sample['img'].min():.0f}, {sample['img'].max():.0f}], lab of {len(sample['lab'])} pathologies")  # fmt: skip

    step("3. Relabelling both to the 18 default pathologies and merging them")
    for dataset in (pa, ap):
        xd.relabel_dataset(xd.default_pathologies, dataset, silent=True)
    merged = xd.MergeDataset([pa, ap])
    print(indent(str(merged)))

    step("4. Label totals of the merged dataset (1 = present, 0 = absent; NaN not counted)")
    for name, counts in merged.totals().items():
        if counts:
            print(f"   {name:<27} " + ", ".join(f"{value:g}: {count}" for value, count in sorted(counts.items())))


# ----------------------------------------------------------------------------- 5-6


def train_on_phantom(out: Path, images: int, epochs: int, seed: int) -> Any:
    """Preview the phantom, then train a small DenseNet on it with ``xrv.train``."""
    from ..datasets import SyntheticChest_Dataset
    from ..train import Trainer, config_from_dict

    step("5. The chest phantom: rendered radiographs whose findings have exact masks")
    phantom = SyntheticChest_Dataset(n=16, size=128, seed=seed, prevalence=0.4)
    captions = [", ".join(p for p, v in zip(phantom.pathologies, phantom.labels[i]) if v == 1) or "no finding"
                for i in range(len(phantom))]  # fmt: skip
    preview = save_grid([phantom[i]["img"][0] for i in range(len(phantom))], out / "preview.png", captions)
    print(f"   {phantom}\n   captioned preview grid: {preview}")

    step(f"6. Training a small DenseNet on {images} phantom images ({PHANTOM_SIZE} px) with xrv.train")
    config = config_from_dict({
        "run": {"out": str(out / "run"), "seed": seed, "workers": 0, "progress": False},
        "data": {"datasets": [{"name": "phantom", "options": {"n": images, "size": PHANTOM_SIZE, "seed": seed,
                                                              "prevalence": 0.35}}],
                 # no augmentation: a few short epochs are enough for the phantom
                 "pathologies": FINDINGS, "resolution": PHANTOM_SIZE, "augment": False},
        "model": {"architecture": "densenet121",
                  "options": {"growth_rate": 8, "block_config": [2, 2, 2], "num_init_features": 16}},
        "optim": {"epochs": epochs, "batch_size": 32, "lr": 3e-3},
    })  # fmt: skip
    shutil.rmtree(out / "run", ignore_errors=True)  # the demo's own run of an earlier call
    result = Trainer(config).fit()
    valid = [r for r in result.history if r["kind"] == "valid"]
    for record in valid:
        shown = "  ".join(f"{name} {auc:.3f}" if auc is not None else f"{name} -" for name, auc in record["auc"].items())
        print(f"   epoch {record['epoch'] + 1}: validation AUC  {shown}")
    print(f"   weight set: {result.best_weights} (loads with xrv.models.get_model; curves: {result.out / 'curves.png'})")
    return result


# ----------------------------------------------------------------------------- 7-9


def explain_phantom(out: Path, result: Any, seed: int) -> None:
    """An attribution overlay, a Latent Shift GIF and the HTML report for one validation image."""
    import torch

    from .. import explain
    from ..autoencoders import ConvAutoencoder, fit_autoencoder
    from ..datasets import SubsetDataset, SyntheticChest_Dataset
    from ..models import get_model

    model = get_model(result.best_weights)
    model.apply_sigmoid = True
    final = [r for r in result.history if r["kind"] == "valid"][-1]["auc"]
    target = max(FINDINGS, key=lambda name: final.get(name) or 0.0)  # the finding it learned best
    images = SyntheticChest_Dataset(n=160, size=PHANTOM_SIZE, seed=seed + 1, prevalence=0.5, pathology_masks=True)
    column = images.pathologies.index(target)
    positives = [i for i in range(len(images)) if images.labels[i, column] == 1]
    with torch.no_grad():
        scores = model(torch.from_numpy(np.stack([images[i]["img"] for i in positives])))[:, model.targets.index(target)]
    index = positives[int(torch.argmax(scores))]
    sample = images[index]
    x = torch.from_numpy(sample["img"])[None]
    mask = sample["pathology_masks"][column][0]

    step(f"7. Explaining the {target} prediction (Grad-CAM, and integrated gradients from a black image)")
    # IG's published baseline is 0, mid-grey on this scale: from it, this model's maps agree
    # with the drawn finding barely above a random map (IoU 0.03 against 0.02); from a black
    # image, the absence of signal, 0.18.
    options = {"integrated_gradients": {"baseline": -1024.0, "n_steps": 32}}
    maps = {}
    for method in ("gradcam", "integrated_gradients"):
        heat = explain.attribute(model, x, target, method=method, output="logit", abs=True, **options.get(method, {}))
        maps[method] = explain.postprocess(heat[0, 0].detach().numpy(), percentile=90)  # the top 10 % for display
    scored = SubsetDataset(images, positives[:AGREEMENT_IMAGES])
    summary = explain.score_methods(model, scored, targets=[target], methods=list(maps), limit=AGREEMENT_IMAGES,
                                    output="logit", options=options).summary()  # fmt: skip
    share = float(np.mean([scored[i]["pathology_masks"][column].mean() for i in range(len(scored))]))
    print(f"   agreement with the drawn {target.lower()} over {len(scored)} positive images, IoU at the "
          f"area-matched threshold (95 % CI; a random map scores {share / (2 - share):.3f}):")  # fmt: skip
    for row in summary.itertuples():
        print(f"   {row.method:<22} IoU {row.iou:.3f} [{row.iou_low:.3f}, {row.iou_high:.3f}]")
    overlay = explain.save_overlay(out / "overlay.png", x[0], maps["gradcam"], mask=mask,
                                   title=f"Grad-CAM: {target}")  # fmt: skip
    print(f"   overlay: {overlay}")

    step("8. A Latent Shift counterfactual: the image changed to lower the prediction")
    print("   fitting a small autoencoder to the phantom (the published one is trained on real 224 px radiographs)")
    train_images = SyntheticChest_Dataset(n=600, size=PHANTOM_SIZE, seed=seed, prevalence=0.35)
    autoencoder = fit_autoencoder(train_images, model=ConvAutoencoder(width=32, depth=2), epochs=20, seed=seed)
    (shift,) = explain.LatentShift(model, autoencoder, search="package", output="probability").attribute(x, target)
    gif = shift.save_gif(out / "counterfactual.gif", show_pred=True, side_by_side=True, scale=4)
    print(f"   {target} probability {float(outputs_of(model, x)[model.targets.index(target)]):.2f} on the image, "
          f"{shift.initial_pred:.2f} on its reconstruction, {shift.preds[0]:.2f} at λ = {shift.lambdas[0]:.0f}; "
          f"GIF: {gif}")  # fmt: skip
    maps["latent shift (int)"] = shift.heatmap("int")

    step("9. The HTML report (self-contained: open it in any browser)")
    outputs = outputs_of(model, x)
    entry = explain.ReportEntry(
        name=f"phantom image {index} (seed {seed + 1})", image=x[0], target=target,
        predictions={name: float(v) for name, v in zip(model.targets, outputs)}, maps=maps, counterfactual=shift,
        notes=[f"classifier: {result.best_weights}", "maps explain the logit; the GIF shows the probability"],
    )  # fmt: skip
    print(f"   {explain.write_report(out / 'report.html', [entry], title='xrayvision demo')}")


def outputs_of(model: Any, x: Any) -> Any:
    """The model's outputs for one image, without gradients."""
    import torch

    with torch.no_grad():
        return model(x)[0]


# ----------------------------------------------------------------------------- 10


def model_step(weights_name: str) -> None:
    """Predict with a published model if its weights are at hand; else say how to get them.

    The demo never downloads: it uses the cache, a reference cache
    (``~/.torchxrayvision``) or a mirror the user configured (``XRV_WEIGHTS_MIRROR``).
    """
    import os

    import torch

    from ..datasets import SyntheticChest_Dataset
    from ..errors import XRVError
    from ..hub import advice, legacy_cache_dir, verify_cached
    from ..models import get_model, get_weights
    from ..models._validate import content_check

    step(f"10. Predicting with the published model {weights_name!r}")
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
    resolution = model.input_resolution
    phantom = SyntheticChest_Dataset(n=4, size=resolution, seed=0, prevalence=0.5)
    with torch.inference_mode():
        probabilities = model(torch.from_numpy(np.stack([phantom[i]["img"] for i in range(len(phantom))])))
    trained = [j for j, name in enumerate(model.pathologies) if name]
    first = probabilities[0]
    top = sorted(trained, key=lambda j: -float(first[j]))[:3]
    print(f"   {len(phantom)} phantom images ({resolution} px) predicted; first image, top findings:")
    for j in top:
        print(f"   {model.pathologies[j]:<27} {float(first[j]):.3f}")
    print(f"   ({len(trained)} trained outputs; the untrained slots of these weights are NaN)")


def save_grid(images: list[np.ndarray], path: Path, captions: list[str] | None = None, columns: int = 4) -> Path:
    """Tile ``[H, W]`` images in [-1024, 1024] into one 8-bit PNG (no contrast stretch),
    each with its caption in a band below it."""
    from PIL import Image, ImageDraw

    band = 14 if captions else 0
    rows = -(-len(images) // columns)
    h, w = images[0].shape
    grid = Image.new("L", (columns * w, rows * (h + band)), 0)
    draw = ImageDraw.Draw(grid)
    for k, img in enumerate(images):
        r, c = divmod(k, columns)
        tile = Image.fromarray(np.round((np.asarray(img) + 1024) * (255 / 2048)).astype(np.uint8))
        grid.paste(tile, (c * w, r * (h + band)))
        if captions:
            draw.text((c * w + 3, r * (h + band) + h + 1), captions[k], fill=255)
    grid.save(path)
    return path


def step(text: str) -> None:
    print(f"\n{text}")


def indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
