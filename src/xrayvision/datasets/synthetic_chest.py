"""A chest phantom with known ground truth: rendered radiographs whose findings have exact masks.

No public dataset says which pixels carry a finding. :class:`SyntheticChest_Dataset` draws
simple frontal radiographs where each finding follows a rule (see :mod:`._phantom`), so its
mask is exactly the set of pixels the rule changed. It is the offline stand-in for real data
in tests, demos, saliency studies and shortcut-learning studies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetError, UnknownNameError
from ._base import Dataset, Transform
from ._generated import between, count_argument, fraction_argument, uniform_columns
from ._phantom import (
    ANATOMY,
    FINDINGS,
    GLYPHS,
    ChestScene,
    Effusion,
    Heart,
    Lung,
    Nodule,
    Pneumothorax,
    RenderedChest,
    effusion_region,
    heart_region,
    lung_region,
    pneumothorax_gap,
    render_chest,
)

#: Shortcut kinds: a glyph drawn in the image, or the site (and so its exposure).
SHORTCUTS = (*GLYPHS, "site")
#: Smallest image side that still shows every structure.
MIN_SIZE = 16
#: Days between the follow-up images of one patient (``offset_day_int``).
FOLLOW_UP_DAYS = 30

# Independent random streams, so that a column is a function of (seed, index) alone:
# ``default_rng((seed, stream)).random((n, width))`` gives row i the same values for any n.
_PATIENT_STREAM, _IMAGE_STREAM, _ITEM_STREAM = 1, 2, 3
_SIDES = {-1: "right", 1: "left"}  # the patient's side: the image's left is the patient's right


@dataclass(frozen=True)
class SiteStyle:
    """How one acquisition site exposes its images (a domain of the phantom).

    Args:
        contrast: slope of the exposure curve (2.4 is the middle; higher is harsher).
        brightness: offset of the exposure curve (positive is brighter), about -0.4 to 0.4.
        noise: standard deviation of the pixel noise, in density units (0.03 is typical).
    """

    contrast: float = 2.4
    brightness: float = 0.0
    noise: float = 0.03

    def __post_init__(self) -> None:
        if not 0.5 <= self.contrast <= 4.0:
            raise DatasetError(f"SiteStyle contrast={self.contrast!r} must lie in [0.5, 4]")
        if not -0.6 <= self.brightness <= 0.6:
            raise DatasetError(f"SiteStyle brightness={self.brightness!r} must lie in [-0.6, 0.6]")
        if not 0.0 <= self.noise <= 0.1:
            raise DatasetError(f"SiteStyle noise={self.noise!r} must lie in [0, 0.1]")


def default_sites(count: int) -> tuple[SiteStyle, ...]:
    """``count`` sites spread over brightness (-0.25 to 0.25), contrast and noise."""
    if count == 1:
        return (SiteStyle(),)
    spread = np.linspace(-1.0, 1.0, count)
    return tuple(
        SiteStyle(contrast=2.4 * (1 - 0.12 * s), brightness=0.25 * s, noise=0.0325 + 0.0125 * s)
        for s in spread
    )


def shortcut_probabilities(prevalence: float, correlation: float) -> tuple[float, float]:
    """P(shortcut | positive) and P(shortcut | negative) giving the Pearson ``correlation``.

    With ``a - b = correlation`` and the shortcut's own frequency set to ``prevalence`` (for
    correlation >= 0) or ``1 - prevalence`` (below 0), the correlation between the two 0/1
    variables is exactly ``correlation``, and every value in [-1, 1] is reachable.
    """
    p, r = prevalence, correlation
    if r >= 0:
        return p + r * (1 - p), p * (1 - r)
    return (1 - p) * (1 + r), (1 - p) - p * r


class _Draws:
    """The per-image parameters of a phantom dataset, drawn vectorised (one row per image)."""

    # patient-level anatomy (columns of the patient stream)
    PATIENT = ("outer", "asymmetry", "top", "apex", "angle", "dome_depth", "inner", "heart_rise",
               "heart_ry", "normal_ctr", "heart_shift", "vessels", "vessel_phase", "wall")  # fmt: skip
    # image-level draws (columns of the image stream)
    IMAGE = ("dx", "dy", "scale", *(f"has_{f}" for f in FINDINGS), "enlarged_ctr", "effusion_side",
             "effusion_height", "effusion_height2", "ptx_side", "ptx_gap", "nodule_count", "shortcut",
             "site", "brightness", "contrast", "noise", *(f"missing_{f}" for f in FINDINGS))  # fmt: skip

    def __init__(self, seed: int, n: int, images_per_patient: int) -> None:
        patients = -(-n // images_per_patient)
        up = uniform_columns(seed, _PATIENT_STREAM, patients, len(self.PATIENT))
        ui = uniform_columns(seed, _IMAGE_STREAM, n, len(self.IMAGE))
        self.patient = np.arange(n) // images_per_patient
        self._p = {name: up[self.patient, j] for j, name in enumerate(self.PATIENT)}
        self._i = {name: ui[:, j] for j, name in enumerate(self.IMAGE)}

    def patient_u(self, name: str) -> np.ndarray:
        return self._p[name]

    def image_u(self, name: str) -> np.ndarray:
        return self._i[name]


class SyntheticChest_Dataset(Dataset):
    """Chest phantom: rendered frontal radiographs with exactly known findings and masks.

    **Source**: generated by xrayvision (no download). Each image is drawn from
    ``(seed, index)`` alone: lungs with vessel markings, heart, diaphragm, ribs, clavicles,
    spine, noise and exposure; the same patient keeps the same anatomy across follow-ups.
    **Licence**: the images are synthetic; use them freely.

    **Layout**: nothing on disk; images are rendered when read (about 1 ms at 64 px, 2.5 ms at 224 px; see
    ``benchmarks/synthetic_chest.py``). :func:`write_synthetic_chest` writes a copy as PNG
    files plus a CSV, read back by :class:`SyntheticChestFolder_Dataset`.

    **Labels**: ``Cardiomegaly`` (the heart drawn with a cardiothoracic ratio of 0.57-0.70;
    normal hearts 0.36-0.45), ``Effusion`` (fluid with a meniscus blunting a costophrenic
    angle, one or both sides), ``Nodule`` (one to three round opacities in the lungs),
    ``Pneumothorax`` (the lung edge retracted from the chest wall, a thin pleural line and
    no vessel markings beyond it). Each is present independently with its ``prevalence``.
    Labels are exact (1/0), or NaN for a ``missing_labels`` fraction of cells (the image
    still shows the finding; the ``csv`` columns below keep the truth).

    **Masks** (``pathology_masks=True``): for each present finding, exactly the pixels where
    the image differs from the same image rendered without that finding (for cardiomegaly,
    the ring between the normal and the enlarged heart). ``semantic_masks=True`` adds
    ``Lungs`` (the lung fields, without the heart), ``Heart`` (the cardiac silhouette above
    the diaphragm) and ``Shortcut`` (the glyph's pixels, when one is drawn).

    **Shortcuts**: ``shortcut="marker"`` (an "L" laterality marker, top left), ``"token"``
    (a text token, bottom right) or ``"site"`` (two sites whose exposures differ) is present
    in an image with probabilities chosen so that its Pearson correlation with
    ``shortcut_label`` is ``shortcut_correlation`` (see :func:`shortcut_probabilities`).

    **Sites**: ``sites`` domains, each with its own exposure (:class:`SiteStyle`); the
    ``site`` column tells the trainer which domain an image is from.

    **Common columns**: ``patientid`` (``images_per_patient`` consecutive images per
    patient), ``offset_day_int`` (30 days between follow-ups), ``view`` (``PA``),
    ``has_masks`` (any finding present), plus the generative record: ``site``, ``shortcut``
    (present or not), ``ctr`` (the drawn cardiothoracic ratio), ``effusion`` and
    ``pneumothorax`` (``""``, ``"right"``, ``"left"`` or ``"both"``: the patient's side, so
    "right" is on the image's left), ``effusion_height``, ``pneumothorax_gap``, ``nodules``
    (count), ``contrast``, ``brightness``, ``noise``.

    Args:
        n: number of images.
        size: image side in pixels (at least 16).
        seed: the seed every image is drawn from (a non-negative int).
        prevalence: probability of each finding, one value or ``{finding: probability}``
            (findings left out of a mapping get 0.25).
        sites: number of sites (spread by :func:`default_sites`) or their styles.
        site_weights: relative size of each site (default: equal).
        shortcut: ``None``, ``"marker"``, ``"token"`` or ``"site"`` (needs two sites).
        shortcut_label: the finding the shortcut correlates with.
        shortcut_correlation: Pearson correlation, in [-1, 1], between the shortcut's
            presence and ``shortcut_label``.
        missing_labels: fraction of label cells set to NaN (independently per cell).
        images_per_patient: consecutive images sharing one patient's anatomy.
        transform: applied to each sample (image and masks).
        data_aug: applied after ``transform``.
        pathology_masks: add the findings' masks to samples.
        semantic_masks: add the anatomy masks to samples.

    Raises:
        DatasetError: an argument is out of range.
        UnknownNameError: an unknown finding or shortcut name.
    """

    _printed_fields = ("size", "seed", "data_aug")

    def __init__(
        self,
        n: int = 1000,
        size: int = 224,
        seed: int = 0,
        *,
        prevalence: float | Mapping[str, float] = 0.25,
        sites: int | Sequence[SiteStyle] = 1,
        site_weights: Sequence[float] | None = None,
        shortcut: str | None = None,
        shortcut_label: str = "Cardiomegaly",
        shortcut_correlation: float = 0.9,
        missing_labels: float = 0.0,
        images_per_patient: int = 1,
        transform: Transform | None = None,
        data_aug: Transform | None = None,
        pathology_masks: bool = False,
        semantic_masks: bool = False,
    ) -> None:
        super().__init__(transform=transform, data_aug=data_aug, seed=count_argument(seed, "seed", 0),
                         pathology_masks=pathology_masks, semantic_masks=semantic_masks)  # fmt: skip
        self.n = count_argument(n, "n", 0)
        self.size = count_argument(size, "size", MIN_SIZE)
        self.images_per_patient = count_argument(images_per_patient, "images_per_patient", 1)
        self.prevalence = _prevalences(prevalence)
        self.site_styles = _site_styles(sites)
        self.site_weights = _site_weights(site_weights, len(self.site_styles))
        if shortcut is not None and shortcut not in SHORTCUTS:
            raise UnknownNameError("shortcut", shortcut, SHORTCUTS)
        if shortcut == "site" and len(self.site_styles) != 2:
            raise DatasetError(f"shortcut='site' needs exactly two sites (one per shortcut value), got {len(self.site_styles)}")
        if shortcut_label not in FINDINGS:
            raise UnknownNameError("finding", shortcut_label, FINDINGS)
        self.shortcut, self.shortcut_label = shortcut, shortcut_label
        self.shortcut_correlation = fraction_argument(shortcut_correlation, "shortcut_correlation", -1.0)
        self.missing_labels = fraction_argument(missing_labels, "missing_labels")
        self._rendered: tuple[int, RenderedChest] | None = None

        draws = _Draws(self.seed, self.n, self.images_per_patient)
        present = {f: draws.image_u(f"has_{f}") < self.prevalence[f] for f in FINDINGS}
        self._present = np.stack([present[f] for f in FINDINGS], axis=1)
        self._shortcut = self._draw_shortcut(draws, present[self.shortcut_label])
        self._site = self._draw_site(draws)
        self._build_table(draws)
        labels = self._present.astype(np.float32)
        for j, name in enumerate(FINDINGS):
            labels[draws.image_u(f"missing_{name}") < self.missing_labels, j] = np.nan
        self._set_labels(labels, FINDINGS)

    # ------------------------------------------------------------------ construction

    def _draw_shortcut(self, draws: _Draws, positive: np.ndarray) -> np.ndarray:
        if self.shortcut is None:
            return np.zeros(self.n, dtype=bool)
        p = self.prevalence[self.shortcut_label]
        if p in (0.0, 1.0) and self.shortcut_correlation != 0:
            raise DatasetError(
                f"shortcut_correlation={self.shortcut_correlation} is undefined when "
                f"{self.shortcut_label} has prevalence {p}; use a prevalence strictly between 0 and 1"
            )
        when_positive, when_negative = shortcut_probabilities(p, self.shortcut_correlation)
        return draws.image_u("shortcut") < np.where(positive, when_positive, when_negative)

    def _draw_site(self, draws: _Draws) -> np.ndarray:
        if self.shortcut == "site":
            return self._shortcut.astype(np.int64)
        edges = np.cumsum(self.site_weights) / np.sum(self.site_weights)
        return np.minimum(np.searchsorted(edges, draws.image_u("site"), side="right"), len(edges) - 1)

    def _build_table(self, draws: _Draws) -> None:
        """Anatomy, findings and exposure of every image, as named arrays (and the csv)."""
        u, v = draws.patient_u, draws.image_u
        a: dict[str, np.ndarray] = {}
        a["outer_r"] = between(u("outer"), 0.30, 0.35)
        a["outer_l"] = a["outer_r"] + between(u("asymmetry"), -0.01, 0.01)
        a["top"] = between(u("top"), 0.10, 0.14)
        a["apex"] = between(u("apex"), 0.20, 0.28)
        a["angle"] = between(u("angle"), 0.70, 0.77)
        a["dome"] = a["angle"] - between(u("dome_depth"), 0.07, 0.11)
        a["inner"] = between(u("inner"), 0.05, 0.065)
        a["heart_cy"] = a["dome"] - between(u("heart_rise"), 0.07, 0.11)
        a["heart_ry"] = between(u("heart_ry"), 0.10, 0.125)
        a["normal_ctr"] = between(u("normal_ctr"), 0.36, 0.45)
        a["heart_shift"] = between(u("heart_shift"), 0.025, 0.045)
        a["vessels"] = 7 + np.floor(u("vessels") * 5)
        a["vessel_phase"] = 2 * np.pi * u("vessel_phase")
        a["wall"] = between(u("wall"), 0.05, 0.08)
        a["dx"], a["dy"] = between(v("dx"), -0.02, 0.02), between(v("dy"), -0.02, 0.02)
        a["scale"] = between(v("scale"), 0.94, 1.04)
        a["enlarged_ctr"] = between(v("enlarged_ctr"), 0.57, 0.70)
        side = v("effusion_side")
        a["effusion_sides"] = np.where(side < 0.4, 1, np.where(side < 0.8, 2, 3))  # bits: right, left
        a["effusion_height"] = between(v("effusion_height"), 0.12, 0.24)
        a["effusion_height2"] = between(v("effusion_height2"), 0.12, 0.24)
        a["ptx_side"] = np.where(v("ptx_side") < 0.5, -1, 1)
        a["ptx_gap"] = between(v("ptx_gap"), 0.18, 0.38)
        a["nodule_count"] = 1 + np.floor(v("nodule_count") * 3)
        styles = self.site_styles
        site = self._site
        a["contrast"] = np.array([s.contrast for s in styles])[site] * between(v("contrast"), 0.95, 1.05)
        a["brightness"] = np.array([s.brightness for s in styles])[site] + between(v("brightness"), -0.06, 0.06)
        a["noise"] = np.array([s.noise for s in styles])[site] * between(v("noise"), 0.85, 1.15)
        self._arrays = a

        has = {f: self._present[:, j] for j, f in enumerate(FINDINGS)}
        sides = np.array(["", "right", "left", "both"], dtype=object)
        ptx_side = np.where(a["ptx_side"] < 0, "right", "left").astype(object)
        index = np.arange(self.n)
        self.csv = pd.DataFrame({
            "patientid": draws.patient.astype(str),
            "offset_day_int": (index % self.images_per_patient * FOLLOW_UP_DAYS).astype(np.float64),
            "view": "PA",
            "has_masks": self._present.any(axis=1),
            "site": self._site,
            "shortcut": self._shortcut,
            "ctr": np.where(has["Cardiomegaly"], a["enlarged_ctr"], a["normal_ctr"]),
            "effusion": sides[np.where(has["Effusion"], a["effusion_sides"], 0)],
            "effusion_height": np.where(has["Effusion"], a["effusion_height"], np.nan),
            "pneumothorax": np.where(has["Pneumothorax"], ptx_side, ""),
            "pneumothorax_gap": np.where(has["Pneumothorax"], a["ptx_gap"], np.nan),
            "nodules": np.where(has["Nodule"], a["nodule_count"], 0).astype(np.int64),
            "contrast": a["contrast"],
            "brightness": a["brightness"],
            "noise": a["noise"],
        })  # fmt: skip

    # ------------------------------------------------------------------ scenes

    def scene(self, index: int) -> ChestScene:
        """The full description of image ``index`` (render it with :func:`render_chest`)."""
        i = self._check_index(index)
        a = {name: float(values[i]) for name, values in self._arrays.items()}
        s, dx, dy = a["scale"], a["dx"], a["dy"]

        def y_of(y: float) -> float:  # jitter: scale about the centre, then shift
            return 0.5 + dy + s * (y - 0.5)

        midline = 0.5 + dx
        lungs = tuple(
            Lung(side=side, inner=s * a["inner"], outer=s * outer, top=y_of(a["top"]), apex=s * a["apex"],
                 dome=y_of(a["dome"] + drop), angle=y_of(a["angle"] + drop))
            for side, outer, drop in ((-1, a["outer_r"], 0.0), (1, a["outer_l"], 0.015))
        )  # fmt: skip
        thorax = lungs[0].outer + lungs[1].outer
        growth = a["enlarged_ctr"] / a["normal_ctr"]
        heart = Heart(cx=midline + s * a["heart_shift"], cy=y_of(a["heart_cy"]),
                      rx=a["normal_ctr"] * thorax / 2, ry=s * a["heart_ry"],
                      enlarged_rx=a["enlarged_ctr"] * thorax / 2, enlarged_ry=s * a["heart_ry"] * np.sqrt(growth))  # fmt: skip
        present = dict(zip(FINDINGS, self._present[i].tolist()))
        sides = int(a["effusion_sides"])
        heights = (a["effusion_height"], a["effusion_height2"])
        possible_effusions = tuple(
            Effusion(side, s * heights[k]) for k, side in enumerate((-1, 1)) if sides & (1 << k)
        )
        possible_ptx = Pneumothorax(int(a["ptx_side"]), a["ptx_gap"])
        base = ChestScene(
            midline=midline, lungs=lungs, heart=heart,  # type: ignore[arg-type]
            body_half_width=s * (max(a["outer_r"], a["outer_l"]) + a["wall"]),
            cardiomegaly=present["Cardiomegaly"],
            effusions=possible_effusions if present["Effusion"] else (),
            pneumothorax=possible_ptx if present["Pneumothorax"] else None,
            shortcut=self.shortcut if self._shortcut[i] and self.shortcut in GLYPHS else None,
            contrast=a["contrast"], brightness=a["brightness"], noise=a["noise"],
            vessels=int(a["vessels"]), vessel_phase=a["vessel_phase"],
        )  # fmt: skip
        rng = np.random.default_rng((self.seed, _ITEM_STREAM, i))
        noise_seed = int(rng.integers(2**63))
        candidates = rng.random((_NODULE_SLOTS, _NODULE_CANDIDATES, 4))
        count = int(a["nodule_count"]) if present["Nodule"] else 0
        # placed against every drawn region, present or not: a nodule sits in the same place
        # whatever the other findings (so each finding's mask is the change it alone makes)
        nodules = _place_nodules(base, candidates, possible_effusions, possible_ptx, s, count) if count else ()
        return replace(base, nodules=nodules, noise_seed=noise_seed)

    def render(self, index: int) -> RenderedChest:
        """Render image ``index`` with every mask (findings and anatomy)."""
        return render_chest(self.scene(index), self.size, anatomy=True)

    # ------------------------------------------------------------------ dataset hooks

    def _rendering(self, index: int) -> RenderedChest:
        cached = self._rendered  # one read: another thread may replace it
        if cached is not None and cached[0] == index:
            return cached[1]
        rendered = render_chest(self.scene(index), self.size, anatomy=self.semantic_masks)
        self._rendered = (index, rendered)
        return rendered

    def _read_image(self, index: int) -> np.ndarray:
        return self._rendering(index).image

    def _pathology_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        return {name: mask[None].astype(np.float32) for name, mask in self._rendering(index).findings.items()}

    def _semantic_masks(self, index: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        return {name: mask[None].astype(np.float32) for name, mask in self._rendering(index).anatomy.items()}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_rendered"] = None  # a cache, not worth shipping to DataLoader workers
        return state


# ---------------------------------------------------------------------------- nodules

_NODULE_SLOTS, _NODULE_CANDIDATES = 3, 24
_RIM = np.exp(2j * np.pi * np.arange(8) / 8)  # 8 points around a candidate's rim


def _place_nodules(
    scene: ChestScene, u: np.ndarray, effusions: tuple[Effusion, ...], ptx: Pneumothorax, scale: float, count: int
) -> tuple[Nodule, ...]:
    """``count`` nodules, one per slot of candidates ``u`` (slots x candidates x 4 uniforms):
    the first candidate whose disc lies in a lung, clear of the enlarged heart, of the drawn
    effusion and pneumothorax regions (present or not) and of the nodules already placed.
    A slot without such a candidate falls back to a fixed spot in the upper lung."""
    u = u[:count].reshape(-1, u.shape[-1])
    side = np.where(u[:, 0] < 0.5, -1, 1)
    radius = scale * between(u[:, 3], 0.018, 0.04)
    x, y = np.empty(len(u)), np.empty(len(u))
    for s in (-1, 1):
        lung, pick = scene.lung(s), side == s
        t = between(u[pick, 1], 0.15, 0.85)
        x[pick] = scene.midline + s * (lung.inner + t * (lung.outer - lung.inner))
        y[pick] = between(u[pick, 2], lung.top + lung.apex * 0.6, lung.angle - 0.06)
    clear = _clear_discs(scene, x, y, radius, effusions, ptx).reshape(count, -1)
    x, y, radius = (a.reshape(count, -1) for a in (x, y, radius))
    placed: list[Nodule] = []
    for slot in range(count):
        ok = clear[slot].copy()
        for other in placed:
            ok &= np.hypot(x[slot] - other.x, y[slot] - other.y) > radius[slot] + other.radius + 0.02
        if ok.any():
            k = int(np.argmax(ok))
            placed.append(Nodule(float(x[slot, k]), float(y[slot, k]), float(radius[slot, k])))
        else:
            lung = scene.lung(-1 if slot % 2 == 0 else 1)
            t = 0.5 * (lung.inner + lung.outer)
            placed.append(Nodule(scene.midline + lung.side * t, lung.top + lung.apex + 0.04, scale * 0.018))
    return tuple(placed)


def _clear_discs(scene: ChestScene, x: np.ndarray, y: np.ndarray, radius: np.ndarray,
                 effusions: tuple[Effusion, ...], ptx: Pneumothorax) -> np.ndarray:  # fmt: skip
    """Whether each candidate disc (centre and rim, with margin) lies in a lung, clear of the
    enlarged heart and of the given effusion and pneumothorax regions."""
    rim = (radius + 0.01)[:, None] * _RIM[None, :]
    px = np.concatenate([x[:, None], x[:, None] + rim.real], axis=1)
    py = np.concatenate([y[:, None], y[:, None] + rim.imag], axis=1)
    inside = lung_region(scene, scene.lungs[0], px, py) | lung_region(scene, scene.lungs[1], px, py)
    blocked = heart_region(scene, px, py, enlarged=True) | pneumothorax_gap(scene, ptx, px, py)
    for effusion in effusions:
        blocked |= effusion_region(scene, effusion, px, py)
    return (inside & ~blocked).all(axis=1)


# ---------------------------------------------------------------------------- arguments


def _prevalences(prevalence: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(prevalence, Mapping):
        for name in prevalence:
            if name not in FINDINGS:
                raise UnknownNameError("finding", name, FINDINGS)
        return {f: fraction_argument(prevalence.get(f, 0.25), f"prevalence of {f}") for f in FINDINGS}
    value = fraction_argument(prevalence, "prevalence")
    return dict.fromkeys(FINDINGS, value)


def _site_styles(sites: int | Sequence[SiteStyle]) -> tuple[SiteStyle, ...]:
    if isinstance(sites, (int, np.integer)) and not isinstance(sites, bool):
        return default_sites(count_argument(sites, "sites", 1))
    styles = tuple(sites) if isinstance(sites, Sequence) and not isinstance(sites, str) else ()
    if not styles or not all(isinstance(s, SiteStyle) for s in styles):
        raise DatasetError(f"sites must be a positive int or a non-empty sequence of SiteStyle, got {sites!r}")
    return styles


def _site_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    if weights is None:
        return np.ones(count)
    array = np.asarray(weights, dtype=np.float64)
    if array.shape != (count,) or not np.isfinite(array).all() or (array < 0).any() or array.sum() <= 0:
        raise DatasetError(f"site_weights must be {count} non-negative numbers with a positive sum, got {weights!r}")
    return array


__all__ = ["ANATOMY", "FINDINGS", "SHORTCUTS", "SiteStyle", "SyntheticChest_Dataset", "default_sites",
           "shortcut_probabilities"]  # fmt: skip
