"""Rendering the chest phantom: a frontal radiograph drawn from a scene, with exact masks.

Coordinates are fractions of the image side (x to the right, y down), so one scene renders
at any resolution. The image is a density map (0 = air, 1 = bright as bone) drawn in layers:

1. anatomy that findings can cover: body, abdomen, lungs with vessel markings;
2. findings, in a fixed order: pneumothorax, effusion, nodules, then the heart (its size is
   the cardiomegaly finding);
3. structures projected over everything: ribs, clavicles, spine, trachea, the heel effect;
4. the shortcut glyph (a laterality marker or a text token), if any;
5. noise, then the exposure: ``1024 * tanh(contrast * (density - 0.5) + brightness)``.

A finding's mask is tracked while drawing: the pixels its step changed, minus those a later
opaque step painted over. Noise does not depend on the findings and the exposure is strictly
increasing (and never saturates), so the mask is exactly the set of pixels where the image
with the finding differs from the same scene rendered without it. Every step changes a
density by at least 0.05, far above float32 rounding, so no changed pixel is lost to it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

#: Finding names, in the library's spelling (``default_pathologies``).
FINDINGS = ("Cardiomegaly", "Effusion", "Nodule", "Pneumothorax")
#: Anatomy and shortcut masks (``semantic_masks``).
ANATOMY = ("Lungs", "Heart", "Shortcut")
#: Shortcut glyphs drawn into the image.
GLYPHS = ("marker", "token")

# Densities (0 = air, 1 = brightest). Constants, so "unchanged" is an exact float equality.
AIR, SOFT, ABDOMEN, LUNG = 0.04, 0.46, 0.56, 0.14
HEART = ABDOMEN  # the heart merges with the abdomen below the diaphragm, as on film
VESSEL, PTX_AIR, PLEURA = 0.12, 0.06, 0.34
FLUID, FLUID_GRADIENT, NODULE = 0.47, 0.06, 0.24  # fluid stays 0.03 below HEART
RIB, CLAVICLE, SPINE, TRACHEA, HEEL = 0.07, 0.12, 0.16, -0.12, 0.04
MARKER, TOKEN = 0.97, 0.92

# Shape constants (fractions of the image side).
_DOME_START = 0.35  # lung coordinate where the hemidiaphragm starts to fall to the angle
_APEX_DROP = 0.12  # how far a collapsed lung's apex drops, per unit of pneumothorax gap
_PLEURA_WIDTH = 0.008
_RIB_CURVE, _RIB_SPACING, _RIB_THICKNESS, _RIBS = 1.4, 0.062, 0.42, 9
_SPINE_HALF_WIDTH, _TRACHEA_HALF_WIDTH = 0.03, 0.014
_CLAVICLE_HALF_WIDTH = 0.017
_VESSEL_DECAY = 0.28


@dataclass(frozen=True)
class Lung:
    """One hemithorax. ``side`` is -1 for the image's left (the patient's right lung), +1
    for the image's right; distances ``inner``/``outer`` are measured from the midline."""

    side: int
    inner: float  # mediastinal edge
    outer: float  # lateral edge, where the lung is widest
    top: float  # y of the apex
    apex: float  # height over which the lung widens to its full width
    dome: float  # y of the top of the hemidiaphragm
    angle: float  # y of the costophrenic angle (lateral, the lowest point)


@dataclass(frozen=True)
class Heart:
    """The cardiac silhouette, an ellipse; ``enlarged_*`` are its radii with cardiomegaly."""

    cx: float
    cy: float
    rx: float
    ry: float
    enlarged_rx: float
    enlarged_ry: float


@dataclass(frozen=True)
class Effusion:
    """Pleural fluid in the lung on ``side``, rising ``height`` above its costophrenic angle."""

    side: int
    height: float


@dataclass(frozen=True)
class Pneumothorax:
    """Air between chest wall and lung on ``side``: the lung edge retracts by ``gap`` (a
    fraction of the lung's width) and no vessel markings lie beyond it."""

    side: int
    gap: float


@dataclass(frozen=True)
class Nodule:
    """A round opacity centred at ``(x, y)``; its radius is at least one pixel when drawn."""

    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class ChestScene:
    """Everything one phantom image is drawn from (see the module docstring).

    ``dataclasses.replace(scene, effusions=())`` gives the same image without its effusion,
    and so on for each finding (``cardiomegaly=False``, ``pneumothorax=None``,
    ``nodules=()``, ``shortcut=None``).
    """

    midline: float
    lungs: tuple[Lung, Lung]
    heart: Heart
    body_half_width: float
    cardiomegaly: bool = False
    effusions: tuple[Effusion, ...] = ()
    pneumothorax: Pneumothorax | None = None
    nodules: tuple[Nodule, ...] = ()
    shortcut: str | None = None
    contrast: float = 2.4
    brightness: float = 0.0
    noise: float = 0.03
    noise_seed: int = 0
    vessels: int = 9
    vessel_phase: float = 0.0

    def lung(self, side: int) -> Lung:
        """The lung on ``side`` (-1 image left, +1 image right)."""
        return self.lungs[0] if side < 0 else self.lungs[1]

    @property
    def thorax_width(self) -> float:
        """Distance between the lungs' lateral edges (the cardiothoracic ratio's denominator)."""
        return self.lungs[0].outer + self.lungs[1].outer

    @property
    def cardiothoracic_ratio(self) -> float:
        """Widest cardiac diameter over the thoracic diameter."""
        rx = self.heart.enlarged_rx if self.cardiomegaly else self.heart.rx
        return 2 * rx / self.thorax_width


@dataclass
class RenderedChest:
    """A rendered phantom: the image and the masks of what was drawn (bool ``[H, W]``)."""

    image: np.ndarray  # float32 [1, H, W] in (-1024, 1024)
    findings: dict[str, np.ndarray] = field(default_factory=dict)  # present findings only
    anatomy: dict[str, np.ndarray] = field(default_factory=dict)  # Lungs, Heart, Shortcut


# ---------------------------------------------------------------------------- geometry
# Every function takes coordinate arrays (a pixel grid, or candidate points) and broadcasts.


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a ``size`` x ``size`` image: ``x`` as a row ``[1, size]``
    and ``y`` as a column ``[size, 1]`` (read-only). Broadcasting makes the grid, and
    whatever depends on one axis only is computed on ``size`` values, not ``size**2``."""
    centres = (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size)
    x, y = centres[None, :].copy(), centres[:, None].copy()
    x.flags.writeable = y.flags.writeable = False
    return x, y


def lung_coordinate(scene: ChestScene, lung: Lung, x: np.ndarray) -> np.ndarray:
    """0 at the lung's mediastinal edge, 1 at its lateral edge (beyond: <0 or >1)."""
    return ((x - scene.midline) * lung.side - lung.inner) / (lung.outer - lung.inner)


def _widest(lung: Lung, y: np.ndarray, drop: float = 0.0) -> np.ndarray:
    """Lateral extent (lung coordinate) at height ``y``: 0 at the apex, then a quarter
    ellipse (the rounded apex) reaching 1, the full width, ``apex`` lower down."""
    f = np.clip((y - lung.top - drop) / lung.apex, 0.0, 1.0)
    return np.sqrt(f * (2.0 - f))


def diaphragm(lung: Lung, t: np.ndarray) -> np.ndarray:
    """Height of the hemidiaphragm at lung coordinate ``t`` (clipped to [0, 1])."""
    fall = np.clip((t - _DOME_START) / (1 - _DOME_START), 0.0, 1.0)
    return lung.dome + (lung.angle - lung.dome) * fall * fall


def lung_region(scene: ChestScene, lung: Lung, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The hemithorax: between mediastinum and chest wall, below the apex, above the diaphragm."""
    t = lung_coordinate(scene, lung, x)
    return (t >= 0) & (t <= _widest(lung, y)) & (y > lung.top) & (y <= diaphragm(lung, t))


def _below_diaphragm(scene: ChestScene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    right, left = scene.lungs
    line = np.where(
        x < scene.midline,
        diaphragm(right, lung_coordinate(scene, right, x)),
        diaphragm(left, lung_coordinate(scene, left, x)),
    )
    return y > line


def body_region(scene: ChestScene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A boxy torso with rounded shoulders (a superellipse) and a neck."""
    u = (x - scene.midline) / scene.body_half_width
    v = (y - 0.62) / 0.64
    u2, v2 = u * u, v * v
    return (u2 * u2 + v2 * v2 <= 1.0) | ((np.abs(x - scene.midline) < 0.08) & (y < 0.25))


def ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """Points inside the axis-aligned ellipse."""
    u, v = (x - cx) / rx, (y - cy) / ry
    return u * u + v * v <= 1.0


def heart_region(scene: ChestScene, x: np.ndarray, y: np.ndarray, enlarged: bool) -> np.ndarray:
    """The cardiac ellipse at its normal or enlarged size."""
    h = scene.heart
    rx, ry = (h.enlarged_rx, h.enlarged_ry) if enlarged else (h.rx, h.ry)
    return ellipse(x, y, h.cx, h.cy, rx, ry)


def fluid_level(lung: Lung, t: np.ndarray, height: float) -> np.ndarray:
    """Top of the fluid: a meniscus rising towards the chest wall (it blunts the angle)."""
    tc = np.clip(t, 0.0, 1.0)
    return lung.angle - height * (0.2 + 0.8 * tc * tc)


def effusion_region(scene: ChestScene, effusion: Effusion, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lung pixels below the meniscus."""
    lung = scene.lung(effusion.side)
    t = lung_coordinate(scene, lung, x)
    return lung_region(scene, lung, x, y) & (y > fluid_level(lung, t, effusion.height))


def collapsed_edge(lung: Lung, y: np.ndarray, gap: float) -> np.ndarray:
    """Lateral edge (lung coordinate) of a lung retracted by ``gap``."""
    return (1.0 - gap) * _widest(lung, y, drop=_APEX_DROP * gap)


def pneumothorax_gap(scene: ChestScene, ptx: Pneumothorax, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The air between the retracted lung edge and the chest wall."""
    lung = scene.lung(ptx.side)
    t = lung_coordinate(scene, lung, x)
    return lung_region(scene, lung, x, y) & (t > collapsed_edge(lung, y, ptx.gap))


# ---------------------------------------------------------------------------- drawing


class _Canvas:
    """A density map plus the masks of the findings drawn on it so far."""

    def __init__(self, scene: ChestScene, size: int) -> None:
        self.scene, self.size = scene, size
        self.x, self.y = pixel_grid(size)
        self.density = np.full((size, size), AIR, dtype=np.float32)
        self.masks: dict[str, np.ndarray] = {}
        self.body = body_region(scene, self.x, self.y)

    def paint(self, region: np.ndarray, values: np.ndarray | float, finding: str | None = None) -> None:
        """Opaque step: ``region`` takes ``values``; findings drawn before lose those pixels."""
        values = np.broadcast_to(np.asarray(values, dtype=np.float32), region.shape)
        if finding is not None:
            changed = region & (self.density != values)
        for mask in self.masks.values():
            mask &= ~region
        self.density[region] = values[region]
        if finding is not None:
            self._record(finding, changed)

    def add(self, region: np.ndarray, amounts: np.ndarray | float, finding: str | None = None) -> None:
        """Translucent step: ``amounts`` (never 0 inside ``region``) add to the density."""
        amounts = np.broadcast_to(np.asarray(amounts, dtype=np.float32), region.shape)
        self.density[region] += amounts[region]
        if finding is not None:
            self._record(finding, region.copy())

    def _record(self, finding: str, changed: np.ndarray) -> None:
        previous = self.masks.get(finding)
        self.masks[finding] = changed if previous is None else previous | changed


def _vessels(scene: ChestScene, lung: Lung, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vessel markings radiating from the hilum, fading towards the periphery."""
    hx = scene.midline + lung.side * (lung.inner + 0.02)
    hy = 0.5 * (lung.top + lung.dome)
    dx, dy = (x - hx) * lung.side, y - hy
    r = np.sqrt(dx * dx + dy * dy)
    wave = np.cos(scene.vessels * np.arctan2(dy, dx) + scene.vessel_phase + 9.0 * r)
    wave = np.maximum(wave, 0.0)
    wave *= wave
    wave *= wave
    return (VESSEL * wave * wave * np.exp(-r / _VESSEL_DECAY)).astype(np.float32)


def _anatomy(canvas: _Canvas) -> list[np.ndarray]:
    """Body, abdomen and lungs (with markings); returns each lung's region."""
    scene, x, y = canvas.scene, canvas.x, canvas.y
    canvas.paint(canvas.body, SOFT)
    canvas.paint(canvas.body & _below_diaphragm(scene, x, y), ABDOMEN)
    regions = []
    for lung in scene.lungs:
        region = lung_region(scene, lung, x, y)
        rows, cols = _bounds(region)
        markings = np.zeros_like(canvas.density)
        markings[rows, cols] = _vessels(scene, lung, x[:, cols], y[rows, :])
        canvas.paint(region, LUNG + markings)
        regions.append(region)
    return regions


def _bounds(region: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of ``region`` (empty slices when it is empty)."""
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if not len(rows):
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _draw_pneumothorax(canvas: _Canvas, ptx: Pneumothorax) -> None:
    scene, x, y = canvas.scene, canvas.x, canvas.y
    lung = scene.lung(ptx.side)
    t = lung_coordinate(scene, lung, x)
    inside = lung_region(scene, lung, x, y)
    edge = collapsed_edge(lung, y, ptx.gap)
    gap = inside & (t > edge)
    # the visceral pleura: a thin bright line at the retracted edge, at least a pixel wide
    width = max(_PLEURA_WIDTH, 1.0 / canvas.size) / (lung.outer - lung.inner)
    line = inside & ~gap & (t > edge - width)
    canvas.paint(gap | line, np.where(gap, np.float32(PTX_AIR), np.float32(PLEURA)), "Pneumothorax")


def _draw_effusion(canvas: _Canvas, effusion: Effusion) -> None:
    scene, x, y = canvas.scene, canvas.x, canvas.y
    lung = scene.lung(effusion.side)
    level = fluid_level(lung, lung_coordinate(scene, lung, x), effusion.height)
    depth = np.clip((y - level) / effusion.height, 0.0, 1.0)
    canvas.paint(effusion_region(scene, effusion, x, y), FLUID + FLUID_GRADIENT * depth, "Effusion")


def nodule_pixel_radius(nodule: Nodule, size: int) -> float:
    """Radius in pixels (at least 1, so that a nodule covers a pixel centre at any size)."""
    return max(nodule.radius * size, 1.0)


def _draw_nodule(canvas: _Canvas, nodule: Nodule) -> None:
    size = canvas.size
    radius = nodule_pixel_radius(nodule, size)
    # only the pixels around the nodule are computed
    cx, cy = nodule.x * size - 0.5, nodule.y * size - 0.5  # in pixel indices
    r0, r1 = max(int(cy - radius) - 1, 0), min(int(cy + radius) + 2, size)
    c0, c1 = max(int(cx - radius) - 1, 0), min(int(cx + radius) + 2, size)
    if r0 >= r1 or c0 >= c1:
        return
    rows = np.arange(r0, r1, dtype=np.float32)[:, None] - np.float32(cy)
    cols = np.arange(c0, c1, dtype=np.float32)[None, :] - np.float32(cx)
    q = (rows * rows + cols * cols) / np.float32(radius * radius)
    region = np.zeros((size, size), dtype=bool)
    amounts = np.zeros((size, size), dtype=np.float32)
    region[r0:r1, c0:c1] = q < 1.0
    # a solid edge (at least 30 % of the peak): every covered pixel changes visibly
    amounts[r0:r1, c0:c1] = NODULE * (0.3 + 0.7 * np.sqrt(np.clip(1.0 - q, 0.0, None)))
    canvas.add(region, amounts, "Nodule")


def _draw_heart(canvas: _Canvas) -> np.ndarray:
    scene, x, y = canvas.scene, canvas.x, canvas.y
    normal = heart_region(scene, x, y, enlarged=False)
    if not scene.cardiomegaly:
        canvas.paint(normal, HEART)
        return normal
    enlarged = heart_region(scene, x, y, enlarged=True)
    changed = enlarged & ~normal & (canvas.density != np.float32(HEART))
    canvas.paint(enlarged, HEART)
    canvas._record("Cardiomegaly", changed)
    return enlarged


def _segment_distance(x: np.ndarray, y: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    ax, ay = a
    bx, by = b
    vx, vy = bx - ax, by - ay
    s = np.clip(((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
    dx, dy = x - (ax + s * vx), y - (ay + s * vy)
    return np.sqrt(dx * dx + dy * dy)


def _bones(canvas: _Canvas) -> None:
    """Ribs, clavicles, spine, trachea and the heel effect, over everything (translucent)."""
    scene, x, y, body = canvas.scene, canvas.x, canvas.y, canvas.body
    across = np.abs(x - scene.midline)
    widest = max(lung.outer for lung in scene.lungs)
    top = min(lung.top for lung in scene.lungs)
    k = (y - _RIB_CURVE * across * across - (top - 0.01)) / _RIB_SPACING
    ribs = (k >= 0) & (k < _RIBS) & (k - np.floor(k) < _RIB_THICKNESS)
    ribs &= (across > _SPINE_HALF_WIDTH) & (across < widest + 0.02) & body
    density = canvas.density
    density[ribs] += np.float32(RIB)
    # clavicles: only the rows they can reach are computed
    band = (y[:, 0] > top - 0.03 - _CLAVICLE_HALF_WIDTH) & (y[:, 0] < top + 0.03 + _CLAVICLE_HALF_WIDTH)
    rows = slice(int(np.argmax(band)), len(band) - int(np.argmax(band[::-1]))) if band.any() else slice(0, 0)
    clavicles = np.zeros_like(ribs)
    for lung in scene.lungs:
        start = (scene.midline + lung.side * 0.04, top + 0.03)
        end = (scene.midline + lung.side * (lung.outer + 0.02), top - 0.03)
        clavicles[rows] |= _segment_distance(x, y[rows], start, end) < _CLAVICLE_HALF_WIDTH
    density[clavicles & body] += np.float32(CLAVICLE)
    spine = (across < _SPINE_HALF_WIDTH) & body
    vertebrae = np.where((y / 0.05) % 1.0 < 0.8, np.float32(SPINE), np.float32(0.75 * SPINE))
    density[spine] += np.broadcast_to(vertebrae, spine.shape)[spine]
    trachea = (across < _TRACHEA_HALF_WIDTH) & (y < top + 0.2) & body
    density[trachea] += np.float32(TRACHEA)
    density += (HEEL * (y - 0.5)).astype(np.float32)


def glyph_region(kind: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The shortcut glyph: an "L" laterality marker top left, or a text token bottom right."""
    if kind == "marker":
        stem = (x >= 0.05) & (x < 0.075) & (y >= 0.05) & (y < 0.14)
        foot = (x >= 0.05) & (x < 0.11) & (y >= 0.115) & (y < 0.14)
        return stem | foot
    if kind == "token":
        inside = (x >= 0.70) & (x < 0.95) & (y >= 0.90) & (y < 0.945)
        return inside & (((x - 0.70) / 0.0625) % 1.0 < 0.72)  # four "characters"
    raise ValueError(f"unknown glyph {kind!r}; valid: {', '.join(GLYPHS)}")


def render_chest(scene: ChestScene, size: int, *, anatomy: bool = False) -> RenderedChest:
    """Draw ``scene`` as a ``size`` x ``size`` radiograph.

    Args:
        scene: what to draw.
        size: image side in pixels.
        anatomy: also return the Lungs, Heart and Shortcut masks.

    Returns:
        The image (float32 ``[1, size, size]`` in (-1024, 1024)) and a bool mask per
        present finding: exactly the pixels where this image differs from the same scene
        rendered without that finding.
    """
    canvas = _Canvas(scene, size)
    x, y = canvas.x, canvas.y
    lungs = _anatomy(canvas)
    if scene.pneumothorax is not None:
        _draw_pneumothorax(canvas, scene.pneumothorax)
    for effusion in scene.effusions:
        _draw_effusion(canvas, effusion)
    for nodule in scene.nodules:
        _draw_nodule(canvas, nodule)
    heart = _draw_heart(canvas)
    _bones(canvas)
    glyph = None
    if scene.shortcut is not None:
        glyph = glyph_region(scene.shortcut, x, y)
        canvas.paint(glyph, MARKER if scene.shortcut == "marker" else TOKEN)
    density = canvas.density
    if scene.noise:
        noise = np.random.default_rng(scene.noise_seed).standard_normal((size, size), dtype=np.float32)
        density += np.float32(scene.noise) * noise
    density -= np.float32(0.5)
    density *= np.float32(scene.contrast)
    density += np.float32(scene.brightness)
    image = np.tanh(density, out=density)
    image *= np.float32(1024.0)
    out = RenderedChest(image[None], dict(canvas.masks))
    if anatomy:
        visible_heart = heart & ~_below_diaphragm(scene, x, y)
        out.anatomy = {"Lungs": (lungs[0] | lungs[1]) & ~heart, "Heart": visible_heart}
        if glyph is not None:
            out.anatomy["Shortcut"] = glyph
    return out


__all__ = [
    "ANATOMY", "FINDINGS", "GLYPHS", "ChestScene", "Effusion", "Heart", "Lung", "Nodule",
    "Pneumothorax", "RenderedChest", "render_chest",
]  # fmt: skip
