"""``xrv segment IMAGE|FOLDER|GLOB... --out DIR``: anatomy masks as PNG files, at each image's size."""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path
from typing import Any

from ._common import add_progress_flag, output_folder

_DEFAULT_WEIGHTS = "chestx_det"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment anatomical structures in chest X-ray images",
        description="Segment PNG/JPEG/DICOM chest X-rays with a segmentation model. For each image "
        "IMAGE, writes DIR/<image name>/overlay.png (the image with every structure tinted) and one "
        "mask per structure, DIR/<image name>/<NN>_<structure>.png (white = structure), at the "
        "image's own size. Non-square images are padded to a square, not cropped. Unreadable files "
        "are reported on stderr and skipped (exit status 1 at the end).",
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE|FOLDER|GLOB")
    parser.add_argument("--out", required=True, type=output_folder, metavar="DIR", help="folder to write into (created if needed)")
    parser.add_argument(
        "--weights",
        default=_DEFAULT_WEIGHTS,
        help="chestx_det (14 structures, default) or chestx_anatomy (159, non-commercial licence), or a local file",
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="probability threshold of the masks (default 0.5)")
    parser.add_argument("--cache-dir", default=None, help="weights cache folder")
    add_progress_flag(parser)
    parser.set_defaults(func=run)


def _load_model(weights: str, cache_dir: str | None) -> Any:
    from ..errors import UnknownNameError, WeightsFormatError
    from ..models._builders import list_models, resolve_entry

    entry, record = resolve_entry(weights)
    names = list_models("segmentation")
    if entry.task == "segmentation":
        candidates = [entry]
    elif record is None and Path(weights).expanduser().is_file():
        # A checkpoint under a name of its own says nothing of its network: the one it fits.
        candidates = [resolve_entry(name)[0] for name in names]
    else:
        raise UnknownNameError("segmentation model", weights, names)
    if record is not None and record.licence_notice:
        print(f"xrv segment: note: {record.licence_notice}", file=sys.stderr)
    refusals = []
    for candidate in candidates:
        try:
            model = candidate.builder(weights=weights, cache_dir=cache_dir)
            break
        except WeightsFormatError as error:
            if len(candidates) == 1:
                raise
            refusals.append(f"as {candidate.architecture}: {error}")
    else:
        raise WeightsFormatError(f"{weights} fits none of the segmentation models ({'; '.join(refusals)})")
    model.warn_on_resize = False  # every image is resized to the model's resolution, by design
    return model


def slug(name: str) -> str:
    """A file-name-safe spelling of a structure name (``"Left Hilus Pulmonis"`` → ``left_hilus_pulmonis``)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "structure"


def _save_png(array: Any, path: Path) -> None:
    """Write through the atomic writer, so a final name only ever holds a whole file."""
    from PIL import Image

    from .._atomic import write_atomic

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())


def run(args: argparse.Namespace) -> int:
    from ..errors import XRVError
    from ..io import read_image
    from ..models.predict import expand_inputs
    from ..models.segmentation import overlay, segment

    if not 0 < args.threshold < 1:
        print("xrv segment: error: --threshold must be strictly between 0 and 1", file=sys.stderr)
        return 2
    try:
        files = expand_inputs(args.inputs)
    except FileNotFoundError as error:
        print(f"xrv segment: error: {error}", file=sys.stderr)
        return 1
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            print(
                f"xrv segment: error: {stems[path.stem]} and {path} would both write to {args.out}/{path.stem}; "
                "segment them in separate runs (or rename one)",
                file=sys.stderr,
            )
            return 2
        stems[path.stem] = path
    model = _load_model(args.weights, args.cache_dir)
    names = [f"{index:0{len(str(len(model.targets)))}d}_{slug(name)}.png" for index, name in enumerate(model.targets)]
    bar = None
    if not args.no_progress and len(files) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), unit="image", leave=False)
    failures = 0
    try:
        for path in files:
            try:
                image = read_image(path)
            except (XRVError, OSError) as error:
                failures += 1
                print(f"xrv segment: skipping {path}: {error}", file=sys.stderr)
            else:
                masks = segment(model, image, args.threshold)
                folder = Path(args.out) / path.stem
                folder.mkdir(parents=True, exist_ok=True)
                for mask, name in zip(masks, names):
                    _save_png(mask.astype("uint8") * 255, folder / name)
                _save_png(overlay(image, masks), folder / "overlay.png")
                print(f"{path}\t{folder}")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if failures:
        print(f"xrv segment: {failures} of {len(files)} files could not be read", file=sys.stderr)
        return 1
    return 0
