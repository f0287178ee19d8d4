"""A centre-cropped, resized copy of a dataset's images ("images-224"), made once, read as usual.

:func:`resize_dataset` runs every image a dataset lists through the paper's pre-processing
(:class:`~xrayvision.transforms.XRayCenterCrop` then
:class:`~xrayvision.transforms.XRayResizer`) and stores the result as a grayscale PNG under
``out``, at the same relative path (see :func:`copy_name`). Reading the copy with the same
dataset class and metadata, ``NIH_Dataset(imgpath=out, ...)``, then gives what crop + resize
of the original gives, within half a quantisation step (16-bit: 1024 / 65535 = 0.016 on the
[-1024, 1024] scale; 8-bit: 4.02).

* **Lossless for any source**: PNG, JPEG and DICOM all become PNGs holding the pipeline's
  values; files whose extension changes are found by the dataset through the manifest
  ``xrv-resized.json`` that marks the folder as a copy (:func:`copy_file`).
* **Parallel** (``workers`` processes), **resumable** (finished files are skipped; each file
  is written to a temporary name in ``out/.xrv-resize-tmp`` and renamed, so a killed run
  never leaves a half-written image under a final name), one run per folder at a time (a
  lock file).
* **Nothing dropped silently**: images the metadata lists that are missing or unreadable are
  reported, listed in ``out/xrv-resize-problems.csv`` and retried by the next run.
* **Fast JPEG** (``fast_jpeg=True``): JPEGs are decoded at 1/2, 1/4 or 1/8 scale (libjpeg's
  DCT scaling) keeping at least twice the output size, then resampled onto exactly the
  exact pipeline's grid (:mod:`xrayvision.transforms._reduced`). Measured on CheXpert
  radiographs: mean absolute difference 0.6-3 (under half an 8-bit grey level) and up to
  about 150 on burned-in text edges; see ``benchmarks/resize.py``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import DatasetError, ImageReadError, MissingImageError, XRVError
from ._files import PathLike

#: The file that marks a folder as a resized copy (and holds its settings).
MANIFEST = "xrv-resized.json"
#: Problems of the last run (missing and unreadable images), one per line.
PROBLEMS = "xrv-resize-problems.csv"
#: Temporary files are written here (inside ``out``, so the final rename is atomic).
TMP_DIR = ".xrv-resize-tmp"
LOCK = ".xrv-resize.lock"
FORMAT = "xrayvision-resized-copy"
#: Source extensions replaced by ``.png`` in the copy (any other name gets ``.png`` appended).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".dic", ".tif", ".tiff", ".bmp", ".gif")
#: Fast JPEG decoding keeps at least this many times the output size on the crop's side.
FAST_JPEG_OVERSAMPLING = 2
#: Most items handed to a worker at a time.
CHUNK = 32


def copy_name(relative: str | PurePosixPath) -> str:
    """Where ``relative`` (a path below ``imgpath``) goes in a copy: a known image extension
    becomes ``.png`` (``a/b.jpg`` -> ``a/b.png``), any other name gets ``.png`` appended
    (so names such as DICOM UIDs ``1.2.840.1`` never collide)."""
    path = PurePosixPath(relative)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return path.with_suffix(".png").as_posix()
    return f"{path.as_posix()}.png"


@functools.lru_cache(maxsize=32)
def _manifest_stamp(folder: str, mtime_ns: int) -> bool:
    """Whether ``folder``'s manifest (of that modification time) describes a resized copy."""
    try:
        return json.loads((Path(folder) / MANIFEST).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def copy_file(imgpath: PathLike, relative: str) -> Path | None:
    """The file a resized copy in ``imgpath`` holds for the original ``relative``, if any.

    This is the datasets' one hook for resized copies: called when ``imgpath / relative``
    does not exist, it looks for the manifest and the renamed file.
    """
    manifest = Path(imgpath) / MANIFEST
    try:
        mtime = manifest.stat().st_mtime_ns
    except OSError:
        return None
    if not _manifest_stamp(str(imgpath), mtime):
        return None
    candidate = Path(imgpath) / copy_name(relative)
    return candidate if candidate.is_file() else None


# ---------------------------------------------------------------------------- the run


@dataclass
class ResizeReport:
    """What :func:`resize_dataset` did."""

    out: Path
    images: int  # distinct files the dataset lists
    written: int = 0
    already_done: int = 0  # present from an earlier run (resumed)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Every listed image is in the copy."""
        return self.written + self.already_done == self.images

    def summary(self, listed: int = 20) -> str:
        """A few lines for people: counts, speed, the first ``listed`` problems of each kind."""
        rate = self.written / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.images} image(s) into {self.out}: {self.written} written ({rate:.1f} images/s), "
            f"{self.already_done} already there, {len(self.missing)} missing, {len(self.unreadable)} unreadable"
        ]
        lines += [f"  missing: {path}" for path, _ in self.missing[:listed]]  # the CSV says why
        if len(self.missing) > listed:
            lines.append(f"  ... and {len(self.missing) - listed} more missing")
        lines += [f"  unreadable: {path}: {reason}" for path, reason in self.unreadable[:listed]]
        if len(self.unreadable) > listed:
            lines.append(f"  ... and {len(self.unreadable) - listed} more unreadable")
        if not self.complete:
            lines.append(f"  every problem is listed in {self.out / PROBLEMS}; run again to retry them")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Settings:
    size: int
    bits: int
    fast_jpeg: bool

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "bits": self.bits, "fast_jpeg": self.fast_jpeg}


def resize_dataset(
    dataset: Any,
    out: PathLike,
    *,
    size: int = 224,
    bits: int = 16,
    workers: int = 1,
    fast_jpeg: bool = False,
    progress: bool = False,
) -> ResizeReport:
    """Write the centre-cropped, resized copy of every image ``dataset`` lists into ``out``.

    Args:
        dataset: a dataset whose images are files under its ``imgpath`` (it defines
            ``_image_path``); build it with every view and every image per patient to copy
            them all.
        out: the copy's folder (created; must differ from ``imgpath``). Rerunning with the
            same settings resumes.
        size: output side in pixels.
        bits: PNG depth, 16 (default; values within 0.016) or 8 (within 4.02, smaller files).
        workers: processes (1: in this process).
        fast_jpeg: decode JPEGs at reduced scale (several times faster; see the module
            docstring for the error).
        progress: show a progress bar on stderr.

    Returns:
        The report: counts, missing and unreadable images (also written to
        ``out/xrv-resize-problems.csv``).

    Raises:
        DatasetError: the dataset's images are not files under ``imgpath``, ``out`` is
            ``imgpath``, holds a copy with other settings, is being written by another run,
            or two images would get the same name.
        OSError: writing failed (a full disk, ...): the run stops; rerun to resume.
    """
    from ..io.write import BITS

    name = type(dataset).__name__
    if getattr(dataset, "_image_path", None) is None or not hasattr(dataset, "imgpath"):
        raise DatasetError(
            f"{name} does not keep its images as files under imgpath (zip members or a searched "
            "tree), so it cannot be copied image by image"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DatasetError(f"size must be a positive int, got {size!r}")
    if bits not in BITS:
        raise DatasetError(f"bits must be one of {BITS}, got {bits!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DatasetError(f"workers must be a positive int, got {workers!r}")
    imgpath, out = Path(dataset.imgpath), Path(out)
    if out.exists() and not out.is_dir():
        raise DatasetError(f"out={str(out)!r} is a file, not a folder")
    if out.resolve() == imgpath.resolve():
        raise DatasetError(f"out must differ from imgpath ({str(imgpath)!r}): the copy never overwrites originals")
    settings = _Settings(int(size), int(bits), bool(fast_jpeg))
    tasks, unnamed = _tasks(dataset, imgpath)
    out.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock, Timeout

    lock = FileLock(str(out / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise DatasetError(f"another resize is writing to {out} (lock {out / LOCK}); wait for it to finish") from None
    try:
        return _run(dataset, name, imgpath, out, settings, tasks, unnamed, workers, progress)
    finally:
        lock.release()
        # leave a clean copy; at worst a run starting right now also runs, and every file is
        # still written atomically
        (out / LOCK).unlink(missing_ok=True)


def _tasks(dataset: Any, imgpath: Path) -> tuple[list[tuple[int, str, str]], list[tuple[str, str]]]:
    """``(index, source relative path, copy relative path)`` of each distinct listed file,
    and the items whose metadata names no file (``(item, why)``)."""
    tasks: list[tuple[int, str, str]] = []
    unnamed: list[tuple[str, str]] = []
    seen: set[str] = set()
    owners: dict[str, str] = {}
    for index in range(len(dataset)):
        try:
            path = Path(dataset._image_path(index))
        except MissingImageError as err:
            unnamed.append((f"item {index}", str(err)))
            continue
        try:
            relative = path.relative_to(imgpath).as_posix()
        except ValueError:
            raise DatasetError(f"{type(dataset).__name__} item {index} is {path}, outside imgpath {imgpath}") from None
        if relative in seen:
            continue
        seen.add(relative)
        target = copy_name(relative)
        if target in owners:
            raise DatasetError(f"{owners[target]!r} and {relative!r} would both be copied to {target!r}")
        owners[target] = relative
        tasks.append((index, relative, target))
    return tasks, unnamed


def _run(dataset: Any, name: str, imgpath: Path, out: Path, settings: _Settings, tasks: list[tuple[int, str, str]],
         unnamed: list[tuple[str, str]], workers: int, progress: bool) -> ResizeReport:  # fmt: skip
    start = time.perf_counter()
    _start_manifest(out, name, imgpath, settings)
    tmp = out / TMP_DIR
    shutil.rmtree(tmp, ignore_errors=True)  # leftovers of a killed run
    tmp.mkdir()
    report = ResizeReport(out=out, images=len(tasks) + len(unnamed), missing=list(unnamed))
    todo = [t for t in tasks if not (out / t[2]).is_file()]
    report.already_done = len(tasks) - len(todo)
    step = max(1, min(CHUNK, -(-len(todo) // (4 * workers))))  # small jobs still reach every worker
    chunks = [todo[i : i + step] for i in range(0, len(todo), step)]
    bar = _progress_bar(len(tasks), report.already_done, progress)
    try:
        for results in _results(dataset, chunks, out, settings, workers):
            for relative, status, reason in results:
                if status == "written":
                    report.written += 1
                else:
                    (report.missing if status == "missing" else report.unreadable).append((relative, reason))
            bar.update(len(results))
    finally:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
    report.seconds = time.perf_counter() - start
    _finish(out, report)
    return report


def _progress_bar(total: int, done: int, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="resizing", unit="img", file=sys.stderr, disable=not show)


def _results(dataset: Any, chunks: list[list[tuple[int, str, str]]], out: Path, settings: _Settings,
             workers: int) -> Iterator[list[tuple[str, str, str]]]:  # fmt: skip
    """Results of each chunk, in this process or in ``workers`` processes (few in flight)."""
    if workers == 1 or len(chunks) <= 1:
        _init_worker(dataset, out, settings)
        try:
            for chunk in chunks:
                yield _resize_chunk(chunk)
        finally:
            _init_worker(None, out, settings)
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(dataset, out, settings)) as pool:
        pending: set[Future] = set()
        queue = iter(chunks)
        try:
            for chunk in queue:
                pending.add(pool.submit(_resize_chunk, chunk))
                if len(pending) >= 2 * workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


# ---------------------------------------------------------------------------- one image

_WORKER: dict[str, Any] = {}


def _init_worker(dataset: Any, out: Path, settings: _Settings) -> None:
    _WORKER.clear()
    if dataset is not None:
        _WORKER.update(dataset=dataset, out=out, settings=settings)


def _resize_chunk(chunk: list[tuple[int, str, str]]) -> list[tuple[str, str, str]]:
    return [_resize_one(index, relative, target) for index, relative, target in chunk]


def _resize_one(index: int, relative: str, target: str) -> tuple[str, str, str]:
    """Read, crop, resize and write one image: ``(relative, status, reason)``."""
    from .._atomic import write_atomic
    from ..io.write import encode_png

    dataset, out, settings = _WORKER["dataset"], _WORKER["out"], _WORKER["settings"]
    try:
        payload = encode_png(_pipeline(dataset, index, settings), settings.bits)
    except MissingImageError as err:
        return relative, "missing", str(err)
    except ImageReadError as err:
        return relative, "unreadable", err.reason
    except (XRVError, OSError) as err:  # a damaged file can fail later in the pipeline too
        return relative, "unreadable", f"{type(err).__name__}: {err}"
    # write errors (a full disk) are not the image's fault: they stop the run
    write_atomic(out / target, payload, tmp_dir=out / TMP_DIR)
    return relative, "written", ""


def _pipeline(dataset: Any, index: int, settings: _Settings) -> np.ndarray:
    """The image of item ``index`` after the paper's centre crop and resize."""
    from ..transforms import XRayCenterCrop, XRayResizer

    if settings.fast_jpeg and _reads_plain_files(dataset):
        from ..io.reduced import read_image_reduced
        from ..transforms._reduced import crop_resize_reduced
        from ._files import image_file

        path = Path(dataset._image_path(index))
        relative = path.relative_to(dataset.imgpath).as_posix()
        source = image_file(dataset.imgpath, relative, type(dataset).__name__, dataset.image_hint)
        reduced = read_image_reduced(source, FAST_JPEG_OVERSAMPLING * settings.size)
        if reduced.factor > 1:
            return crop_resize_reduced(reduced, settings.size)
        image = reduced.image
    else:
        image = dataset._read_image(index)
    return XRayResizer(settings.size)(XRayCenterCrop()(image))


def _reads_plain_files(dataset: Any) -> bool:
    """Whether the dataset decodes each file as it is (the base reader), so that a reduced
    decode of the same file is the same pipeline."""
    from ._base import Dataset

    return type(dataset)._read_image is Dataset._read_image


# ---------------------------------------------------------------------------- bookkeeping


def _start_manifest(out: Path, name: str, imgpath: Path, settings: _Settings) -> None:
    """Check an existing copy's settings, then mark the folder as a copy (incomplete)."""
    from ..io.write import quantization_error, write_atomic

    path = out / MANIFEST
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except ValueError as err:
            raise DatasetError(f"{path} is not a resize manifest ({err}); remove it or choose another out") from None
        if previous.get("format") != FORMAT:
            raise DatasetError(f"{path} is not a resize manifest; choose another out")
        # the source folder, not the class, must match: NIH and NIH_Google share their images
        wanted = {**settings.as_dict(), "source": str(imgpath.resolve())}
        old = {k: previous.get(k) for k in wanted}
        if old != wanted:
            raise DatasetError(
                f"{out} holds a copy made with {old}; this run asks for {wanted}. "
                "Choose another out, or delete the copy to redo it"
            )
    manifest = {
        "format": FORMAT, "version": 1, "dataset": name, "source": str(imgpath.resolve()),
        **settings.as_dict(), "pipeline": f"XRayCenterCrop, XRayResizer({settings.size})",
        "encoding": f"{settings.bits}-bit grayscale PNG, [-1024, 1024] linear over 0..{2**settings.bits - 1}",
        "max_error": quantization_error(settings.bits), "complete": False,
    }  # fmt: skip
    write_atomic(path, json.dumps(manifest, indent=2).encode())


def _finish(out: Path, report: ResizeReport) -> None:
    """Record the outcome in the manifest and list the problems (or remove an old list)."""
    from ..io.write import write_atomic

    manifest = json.loads((out / MANIFEST).read_text())
    manifest.update(complete=report.complete, images=report.images, missing=len(report.missing),
                    unreadable=len(report.unreadable))  # fmt: skip
    write_atomic(out / MANIFEST, json.dumps(manifest, indent=2).encode())
    problems = out / PROBLEMS
    if report.complete:
        problems.unlink(missing_ok=True)
        return
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["path", "problem", "reason"])
    for kind, rows in (("missing", report.missing), ("unreadable", report.unreadable)):
        writer.writerows((path, kind, reason) for path, reason in rows)
    write_atomic(problems, table.getvalue().encode())


__all__ = ["MANIFEST", "ResizeReport", "copy_file", "copy_name", "resize_dataset"]
