"""Format-faithful image writers and a synthetic chest radiograph, for tests and demos.

Every writer creates the file atomically (temporary file in the same folder, then rename),
so a failed write never leaves a half-written image behind.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._atomic import write_atomic as _atomic_write

__all__ = ["chest_xray_like", "encode_jpeg", "encode_png", "write_dicom", "write_jpeg", "write_png"]

#: transfer_syntax names accepted by write_dicom. "jpeg_lossless" cannot be written:
#: no installed encoder supports JPEG lossless (process 14); pylibjpeg only decodes it.
DICOM_TRANSFER_SYNTAXES = ("explicit", "implicit", "rle", "jpeg2000", "jpeg_baseline")


def _pil_image(array: np.ndarray, palette: np.ndarray | None):
    from PIL import Image

    array = np.asarray(array)
    if palette is not None:
        pal = np.asarray(palette, dtype=np.uint8)
        if array.dtype != np.uint8 or array.ndim != 2 or pal.ndim != 2 or pal.shape[1] != 3:
            raise ValueError("a palette image needs uint8 [H, W] indices and an [N, 3] uint8 palette")
        if array.size and int(array.max()) >= len(pal):
            raise ValueError(f"palette index {int(array.max())} >= palette length {len(pal)}")
        image = Image.frombytes("P", (array.shape[1], array.shape[0]), array.tobytes())
        image.putpalette(pal.reshape(-1).tobytes(), rawmode="RGB")
        return image
    if array.dtype == np.uint8 and array.ndim == 2:
        return Image.fromarray(array)
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.frombytes("I;16", (array.shape[1], array.shape[0]), array.astype("<u2").tobytes())
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] in (2, 3, 4):
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
        return Image.frombytes(mode, (array.shape[1], array.shape[0]), np.ascontiguousarray(array).tobytes())
    raise ValueError(
        f"cannot write an array of dtype {array.dtype} and shape {array.shape}: expected uint8 "
        "[H, W] (L), uint16 [H, W] (I;16), or uint8 [H, W, 2|3|4] (LA/RGB/RGBA)"
    )


def write_png(
    path: str | os.PathLike, array: np.ndarray, *, palette: np.ndarray | None = None
) -> Path:
    """Write a PNG: uint8 ``[H,W]`` -> 8-bit L, uint16 ``[H,W]`` -> 16-bit gray (I;16),
    uint8 ``[H,W,2|3|4]`` -> LA/RGB/RGBA; with ``palette`` (``[N,3]`` uint8) the uint8
    ``[H,W]`` array holds palette indices (mode P). Returns the path written."""
    return _atomic_write(path, encode_png(array, palette=palette))


def encode_png(array: np.ndarray, *, palette: np.ndarray | None = None) -> bytes:
    """The bytes :func:`write_png` writes (for archive members and in-memory files)."""
    buffer = io.BytesIO()
    _pil_image(array, palette).save(buffer, format="PNG")
    return buffer.getvalue()


def write_jpeg(path: str | os.PathLike, array: np.ndarray, *, quality: int = 95) -> Path:
    """Write a baseline JPEG from uint8 ``[H,W]`` (gray) or ``[H,W,3]`` (RGB)."""
    return _atomic_write(path, encode_jpeg(array, quality=quality))


def encode_jpeg(array: np.ndarray, *, quality: int = 95) -> bytes:
    """The bytes :func:`write_jpeg` writes (for archive members and in-memory files)."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"JPEG needs uint8 [H, W] or [H, W, 3], got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    _pil_image(array, None).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_dicom(
    path: str | os.PathLike,
    array: np.ndarray,
    *,
    bits_stored: int | None = None,
    photometric: str = "MONOCHROME2",
    rescale_slope: float | None = None,
    rescale_intercept: float | None = None,
    signed: bool = False,
    window: tuple[float, float] | None = None,
    voi_lut_table: np.ndarray | None = None,
    voi_lut_bits: int = 16,
    view_position: str | None = "PA",
    patient_id: str = "FAKE-0001",
    transfer_syntax: str = "explicit",
    preamble: bool = True,
    quality: int = 95,
) -> Path:
    """Write a DICOM radiograph (CR) that real readers accept.

    Args:
        path: output file.
        array: ``[H, W]`` grayscale, ``[F, H, W]`` multi-frame grayscale, or ``[H, W, 3]``
            uint8 with ``photometric="RGB"``. Integer values must fit ``bits_stored``.
        bits_stored: default 8 for uint8 input, else 16. BitsAllocated is 8 or 16.
        photometric: "MONOCHROME1", "MONOCHROME2" or "RGB".
        rescale_slope, rescale_intercept: written when given (both default to absent).
        signed: PixelRepresentation 1 (two's complement).
        window: (WindowCenter, WindowWidth) to write.
        voi_lut_table: a VOI LUT Sequence item (first mapped value 0) with this table,
            ``voi_lut_bits`` bits per entry.
        view_position, patient_id: header fields datasets read.
        transfer_syntax: one of ``DICOM_TRANSFER_SYNTAXES``: "explicit"/"implicit" VR
            little endian (uncompressed), "rle" (RLE lossless), "jpeg2000" (lossless, via
            pylibjpeg-openjpeg), "jpeg_baseline" (8-bit lossy, encoded with Pillow).
        preamble: False writes a file without the 128-byte preamble and ``DICM`` marker.
        quality: JPEG quality for "jpeg_baseline".

    Returns:
        The path written.
    """
    import pydicom
    from pydicom import uid as uids
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as DicomSequence

    array = np.asarray(array)
    colour = photometric == "RGB"
    if colour and (array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8):
        raise ValueError("an RGB DICOM needs a uint8 [H, W, 3] array")
    if not colour and array.ndim not in (2, 3):
        raise ValueError(f"expected [H, W] or [F, H, W], got shape {array.shape}")
    if bits_stored is None:
        bits_stored = 8 if array.dtype == np.uint8 else 16
    allocated = 8 if bits_stored <= 8 else 16
    low = -(2 ** (bits_stored - 1)) if signed else 0
    high = 2 ** (bits_stored - 1) - 1 if signed else 2**bits_stored - 1
    if array.size and (array.min() < low or array.max() > high):
        raise ValueError(f"values {array.min()}..{array.max()} do not fit BitsStored={bits_stored}")
    if transfer_syntax not in DICOM_TRANSFER_SYNTAXES:
        raise ValueError(f"transfer_syntax must be one of {DICOM_TRANSFER_SYNTAXES}, got {transfer_syntax!r}")
    storage = np.dtype(f"{'i' if signed else 'u'}{allocated // 8}")
    pixels = np.ascontiguousarray(array.astype(storage))

    instance = uids.generate_uid(entropy_srcs=[patient_id, str(array.shape), photometric])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = uids.ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = instance
    meta.TransferSyntaxUID = uids.ImplicitVRLittleEndian if transfer_syntax == "implicit" else uids.ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = instance
    ds.Modality = "CR"
    ds.PatientID = patient_id
    if view_position is not None:
        ds.ViewPosition = view_position
    frames = 1
    if colour:
        rows, columns = array.shape[:2]
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
    else:
        rows, columns = array.shape[-2:]
        ds.SamplesPerPixel = 1
        if array.ndim == 3:
            frames = array.shape[0]
            ds.NumberOfFrames = frames
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if rescale_slope is not None or rescale_intercept is not None:
        ds.RescaleSlope = 1.0 if rescale_slope is None else rescale_slope
        ds.RescaleIntercept = 0.0 if rescale_intercept is None else rescale_intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if voi_lut_table is not None:
        item = Dataset()
        table = np.asarray(voi_lut_table, dtype=np.uint16)
        item.LUTDescriptor = [len(table) % 65536, 0, voi_lut_bits]
        item.LUTData = [int(v) for v in table]
        item["LUTData"].VR = "US"
        ds.VOILUTSequence = DicomSequence([item])

    if transfer_syntax == "jpeg_baseline":
        _encapsulate_jpeg(ds, pixels, quality)
    else:
        ds.PixelData = pixels.tobytes()
        ds["PixelData"].VR = "OB" if allocated == 8 else "OW"
        if transfer_syntax == "rle":
            ds.compress(uids.RLELossless, pixels)
        elif transfer_syntax == "jpeg2000":
            ds.compress(uids.JPEG2000Lossless, pixels, encoding_plugin="pylibjpeg")

    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    payload = buffer.getvalue()
    if not preamble:
        payload = payload[132:]  # drop the 128-byte preamble and the "DICM" marker
    return _atomic_write(path, payload)


def _encapsulate_jpeg(ds, pixels: np.ndarray, quality: int) -> None:
    from PIL import Image
    from pydicom import uid as uids
    from pydicom.encaps import encapsulate

    if pixels.dtype != np.uint8:
        raise ValueError("jpeg_baseline needs 8-bit data (BitsStored <= 8, unsigned)")
    frames = pixels if pixels.ndim == 3 and ds.SamplesPerPixel == 1 else pixels[None]
    encoded = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        encoded.append(buffer.getvalue())
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = uids.JPEGBaseline8Bit
    if ds.SamplesPerPixel == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"


def _smooth_noise(rng: np.random.Generator, shape: Sequence[int], cells: int) -> np.ndarray:
    """Random field on a coarse grid, bilinearly upsampled (separable, NumPy only)."""
    height, width = shape
    coarse = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    ys = np.linspace(0, cells, height, dtype=np.float32)
    xs = np.linspace(0, cells, width, dtype=np.float32)
    grid = np.arange(cells + 1, dtype=np.float32)
    rows = np.stack([np.interp(xs, grid, line) for line in coarse])  # [cells+1, W]
    return np.stack([np.interp(ys, grid, rows[:, j]) for j in range(width)], axis=1)


def chest_xray_like(
    shape: tuple[int, int] = (512, 512), seed: int = 0, dtype: type = np.uint8
) -> np.ndarray:
    """A synthetic, plausible-looking frontal chest radiograph (deterministic per seed).

    Soft-edged body, two darker lung fields with rib arcs, a bright mediastinum and
    spine, and low-frequency mottling. Not anatomy: a realistic intensity layout for demos
    and tests.

    Args:
        shape: ``(H, W)``.
        seed: seeds a private ``numpy.random.Generator``; global RNGs are untouched.
        dtype: ``np.uint8`` (0..255), ``np.uint16`` (0..65535) or a float type (0..1).

    Returns:
        ``[H, W]`` array of ``dtype``; bright = dense (MONOCHROME2 convention).
    """
    rng = np.random.default_rng(seed)
    height, width = int(shape[0]), int(shape[1])
    y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    jitter = rng.uniform(-0.04, 0.04, size=6).astype(np.float32)

    def soft(d: np.ndarray, edge: float) -> np.ndarray:  # 1 inside (d < 1), 0 outside
        return 1.0 / (1.0 + np.exp(np.minimum((d - 1.0) / edge, 60.0)))

    body = soft((x / (0.92 + jitter[0])) ** 2 + ((y - 0.1) / 1.05) ** 2, 0.06)
    lungs = np.zeros((height, width), dtype=np.float32)
    for side in (-1.0, 1.0):
        cx = side * (0.42 + jitter[1])
        lung = soft(((x - cx) / 0.3) ** 2 + ((y + 0.05 + jitter[2]) / 0.62) ** 2, 0.08)
        lungs = np.maximum(lungs, lung)
    mediastinum = soft((x / (0.16 + jitter[3])) ** 2 + ((y - 0.25) / 0.7) ** 2, 0.1)
    spine = soft((x / 0.07) ** 2, 0.3)
    diaphragm = 1.0 / (1.0 + np.exp(-(y - (0.55 + jitter[4])) / 0.04))
    # Ribs: bands that curve downward away from the midline, visible inside the lungs.
    ribs = 0.5 + 0.5 * np.cos((y + 0.35 * x**2) * (26.0 + 8 * jitter[5]) * np.pi / 2)
    ribs = ribs**4

    density = 0.08 + 0.55 * body
    density = density - 0.38 * lungs * (1 - diaphragm) + 0.1 * ribs * lungs
    density = np.maximum(density, 0.45 * mediastinum * body + 0.25 * spine * body)
    density += 0.2 * diaphragm * body
    density += 0.035 * _smooth_noise(rng, (height, width), 12) * body
    density += rng.normal(0.0, 0.01, size=(height, width)).astype(np.float32)
    density = np.clip(density, 0.0, 1.0).astype(np.float32)

    if np.issubdtype(np.dtype(dtype), np.integer):
        top = np.iinfo(dtype).max
        return np.rint(density * top).astype(dtype)
    return density.astype(dtype)
