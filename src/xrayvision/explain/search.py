"""How far to shift: the λ searches of the three published Latent Shift versions.

A search walks λ away from 0 along a fixed schedule and stops at the first λ where a
stop rule fires; that λ is the bound. The schedule never depends on the predictions,
so :class:`~xrayvision.explain.LatentShift` may evaluate several upcoming λ in one
batch and apply the rules one λ at a time afterwards: the visited λ, the bounds and
the frames are those of the published one-at-a-time procedure. Every schedule is
finite (it ends at the version's λ limit), so a search always ends; one that ended on
the limit is reported as not converged.

Versions (spec methods.md §1.3):

- :data:`PAPER` (gifsplanation, 2021-02, the code of the published IoU tables):
  λ = 0, -1, ..., -9, -10, -20, -30, ...; stop when the prediction rises, drops more
  than 0.5 below its start, or at λ = -1000; the same to the right (stop when it falls,
  rises more than 0.05, or at +1000); frames ``arange(lb, rb + 1, |lb - rb| / 10)``.
- :data:`HEAD` (gifsplanation, 2021-06 onwards): left search only, drop 0.15; frames
  ``arange(lb, 0, |lb| / 10)`` (0 excluded). The published code also put an extra
  sigmoid on the classifier's output: ``LatentShift(..., sigmoid=True)``.
- :data:`PACKAGE` (the latentshift package, 2024): accelerating steps
  ``λ ← λ - 10 + floor(λ / 10)`` (0, -10, -21, -34, -48, ...); stop when the prediction
  rises, falls under 0.05, drops more than 0.8, at λ = -3000, or when the frame
  differs from the reconstruction by more than 5 % of its L1 mass; frames
  ``linspace(lb, 0, 10)``. It applied ``sigmoid=True`` by default too.
- :class:`FixedRange`: no search, ``linspace(lo, hi, n)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ExplainError

LEFT, RIGHT = "left", "right"

#: Stop reasons (:attr:`SideOutcome.reason`).
ROSE, FELL, DROPPED, ROSE_ENOUGH, MIN_PRED, PIXEL_DIFF, LIMIT = (
    "prediction rose",
    "prediction fell",
    "prediction dropped by the target amount",
    "prediction rose by the target amount",
    "prediction fell under the minimum",
    "image changed too much",
    "lambda limit reached",
)


@dataclass(frozen=True)
class Evaluation:
    """What a search needs to know about one λ."""

    pred: float
    #: ``sum |x_0 - x_λ|`` (L1 change of the decoded image from the reconstruction).
    pixel_diff: float


@dataclass(frozen=True)
class SideOutcome:
    """The walk on one side of λ = 0.

    Attributes:
        visited: ``(λ, prediction)`` in the order visited, the bound last.
        reason: the stop rule that fired at the bound (one of the module's reasons).
    """

    visited: tuple[tuple[float, float], ...]
    reason: str

    @property
    def bound(self) -> float:
        return self.visited[-1][0]

    @property
    def converged(self) -> bool:
        """False when the walk ended on the λ limit without meeting a stop rule."""
        return self.reason != LIMIT


@dataclass(frozen=True)
class SearchOutcome:
    """Bounds of the λ interval and how they were found (``left``/``right`` None when not searched)."""

    lbound: float
    rbound: float
    left: SideOutcome | None = None
    right: SideOutcome | None = None

    @property
    def converged(self) -> bool:
        return all(side is None or side.converged for side in (self.left, self.right))


class Search:
    """Base of the λ searches: a schedule per side, stop rules, and the frame grid."""

    #: Sides searched, in order.
    sides: tuple[str, ...] = (LEFT,)
    #: Its stop rules are thresholds in probability units (a drop of 0.5, a floor of 0.05).
    probability_units = True

    def schedule(self, side: str) -> Iterator[float]:
        """The λ visited on ``side``, starting at 0; finite (the last one is the limit)."""
        raise NotImplementedError

    def stop(self, side: str, lam: float, now: Evaluation, last: float, initial: float, pixel_sum: float) -> str | None:
        """The stop rule firing at ``lam`` (None: keep walking)."""
        raise NotImplementedError

    def frames(self, lbound: float, rbound: float) -> np.ndarray:
        """The λ of the frames for the interval found."""
        raise NotImplementedError


@dataclass(frozen=True)
class GifsplanationSearch(Search):
    """The gifsplanation searches: steps of ``fine_step`` while ``|λ| < coarse_from``,
    then ``coarse_step``; see the module docstring for :data:`PAPER` and :data:`HEAD`.

    Args:
        max_drop: stop on the left once the prediction is more than this below its start.
        max_rise: stop on the right once it is more than this above its start.
        fine_step, coarse_step, coarse_from: the step rule.
        limit: the walk ends at ``|λ| >= limit``.
        right: also search positive λ (the 2021-02 code); frames then include the right
            bound (``arange(lb, rb + 1, |lb - rb| / (n_frames - 1))``), else they stop
            before 0 (``arange(lb, 0, |lb| / n_frames)``), exactly as published.
        n_frames: the divisor of those grids (11 and 10 in the published versions).
    """

    max_drop: float = 0.5
    max_rise: float = 0.05
    fine_step: float = 1
    coarse_step: float = 10
    coarse_from: float = 10
    limit: float = 1000
    right: bool = True
    n_frames: int = 11

    def __post_init__(self) -> None:
        if self.fine_step <= 0 or self.coarse_step <= 0 or self.limit <= 0:
            raise ExplainError("GifsplanationSearch steps and limit must be positive")
        if self.n_frames < 2:
            raise ExplainError(f"n_frames must be at least 2, got {self.n_frames}")

    @property
    def sides(self) -> tuple[str, ...]:  # type: ignore[override]
        return (LEFT, RIGHT) if self.right else (LEFT,)

    def schedule(self, side: str) -> Iterator[float]:
        sign = -1 if side == LEFT else 1
        lam: float = 0
        while True:
            yield lam
            if abs(lam) >= self.limit:
                return
            lam += sign * (self.fine_step if abs(lam) < self.coarse_from else self.coarse_step)

    def stop(self, side: str, lam: float, now: Evaluation, last: float, initial: float, pixel_sum: float) -> str | None:
        if side == LEFT:
            if last < now.pred:
                return ROSE
            if initial - self.max_drop > now.pred:
                return DROPPED
            if lam <= -self.limit:
                return LIMIT
            return None
        if last > now.pred:
            return FELL
        if initial + self.max_rise < now.pred:
            return ROSE_ENOUGH
        if lam >= self.limit:
            return LIMIT
        return None

    def frames(self, lbound: float, rbound: float) -> np.ndarray:
        if lbound == rbound:
            return np.array([float(lbound)])
        if self.right:
            return np.arange(lbound, rbound + 1, np.abs((lbound - rbound) / (self.n_frames - 1)))
        return np.arange(lbound, rbound, np.abs((lbound - rbound) / self.n_frames))


@dataclass(frozen=True)
class AcceleratingSearch(Search):
    """The latentshift package's search (left only): ``λ ← λ - step + floor(λ / 10)``.

    Args:
        pred_diff: stop once the prediction is more than this below its start.
        step: the base step.
        max_steps: the walk ends at ``λ <= -max_steps``.
        min_pred: stop once the prediction is under this.
        max_pixel_diff_pct: stop once ``sum|x_0 - x_λ| > max_pixel_diff_pct * sum|x_0|``
            (None: off).
        max_pixel_diff: stop once ``sum|x_0 - x_λ|`` exceeds this absolute amount (the
            Captum port's rule, 5000; None: off).
        n_frames: number of frames.
        include_zero: frames ``linspace(lb, 0, n_frames)`` (the package); False gives the
            Captum port's ``arange(lb, 0, |lb| / n_frames)`` (0 excluded).
    """

    pred_diff: float = 0.8
    step: float = 10
    max_steps: float = 3000
    min_pred: float = 0.05
    max_pixel_diff_pct: float | None = 0.05
    max_pixel_diff: float | None = None
    n_frames: int = 10
    include_zero: bool = True

    def __post_init__(self) -> None:
        if self.step <= 0 or self.max_steps <= 0:
            raise ExplainError("AcceleratingSearch step and max_steps must be positive")
        if self.n_frames < 2:
            raise ExplainError(f"n_frames must be at least 2, got {self.n_frames}")

    def schedule(self, side: str) -> Iterator[float]:
        lam: float = 0
        while True:
            yield lam
            if lam <= -self.max_steps:
                return
            lam = lam - self.step + lam // 10

    def stop(self, side: str, lam: float, now: Evaluation, last: float, initial: float, pixel_sum: float) -> str | None:
        if last < now.pred:
            return ROSE
        if now.pred < self.min_pred:
            return MIN_PRED
        if initial - self.pred_diff > now.pred:
            return DROPPED
        if lam <= -self.max_steps:
            return LIMIT
        if self.max_pixel_diff_pct is not None and now.pixel_diff > pixel_sum * self.max_pixel_diff_pct:
            return PIXEL_DIFF
        if self.max_pixel_diff is not None and now.pixel_diff > self.max_pixel_diff:
            return PIXEL_DIFF
        return None

    def frames(self, lbound: float, rbound: float) -> np.ndarray:
        if self.include_zero:
            return np.linspace(lbound, rbound, self.n_frames)
        if lbound == rbound:
            return np.array([float(lbound)])
        return np.arange(lbound, rbound, np.abs((lbound - rbound) / self.n_frames))


@dataclass(frozen=True)
class FixedRange(Search):
    """No search: ``n`` frames evenly spaced from ``lo`` to ``hi`` inclusive.

    The published figure of prediction against λ used ``FixedRange(-75, 75, 11)``.
    """

    lo: float
    hi: float
    n: int = 11

    sides = ()
    probability_units = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.lo > self.hi:
            raise ExplainError(f"FixedRange needs finite lo <= hi, got ({self.lo}, {self.hi})")
        if self.n < 1:
            raise ExplainError(f"FixedRange needs n >= 1 frames, got {self.n}")

    def frames(self, lbound: float, rbound: float) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.n)


#: The 2021-02 gifsplanation search (the published IoU tables and reader study).
PAPER = GifsplanationSearch()
#: The gifsplanation search from 2021-06 on (left only, drop 0.15; pair with ``sigmoid=True``).
HEAD = GifsplanationSearch(max_drop=0.15, right=False, n_frames=10)
#: The latentshift package's accelerating search (pair with ``sigmoid=True``).
PACKAGE = AcceleratingSearch()
#: The Captum port's variant: absolute pixel budget 5000, frames without λ = 0.
CAPTUM = AcceleratingSearch(max_pixel_diff_pct=None, max_pixel_diff=5000, include_zero=False)

#: Searches by name (``LatentShift(search="paper")``).
SEARCHES: dict[str, Search] = {"paper": PAPER, "head": HEAD, "package": PACKAGE, "captum": CAPTUM}


def run_search(
    search: Search,
    evaluate: Callable[[Sequence[float]], Sequence[Evaluation]],
    initial: float,
    pixel_sum: float = 0.0,
    batch_size: int = 8,
) -> SearchOutcome:
    """Walk every side of ``search`` until a stop rule fires.

    Each round asks ``evaluate`` for the next few λ of every unfinished side at once
    (``batch_size`` in all, split between the sides), then applies the stop rules one λ
    at a time in schedule order; λ evaluated past a stop are never visited. The visited
    λ and the bounds are those of a one-at-a-time walk.

    Args:
        search: the strategy.
        evaluate: λ values -> their evaluations (in order; caching is the caller's).
        initial: the prediction at λ = 0.
        pixel_sum: ``sum |x_0|``, for the relative image-change rule.
        batch_size: λ evaluated per round.

    Returns:
        The bounds and the walks.
    """
    schedules = {side: iter(search.schedule(side)) for side in search.sides}
    visited: dict[str, list[tuple[float, float]]] = {side: [] for side in search.sides}
    last = {side: initial for side in search.sides}
    done: dict[str, SideOutcome] = {}
    while len(done) < len(search.sides):
        active = [side for side in search.sides if side not in done]
        ahead = max(1, batch_size // len(active))
        wanted = {side: [float(lam) for _, lam in zip(range(ahead), schedules[side])] for side in active}
        flat = [lam for side in active for lam in wanted[side]]
        results = dict(zip(flat, evaluate(flat)))
        for side in active:
            for lam in wanted[side]:
                now = results[lam]
                visited[side].append((lam, now.pred))
                reason = search.stop(side, lam, now, last[side], initial, pixel_sum)
                if reason is not None:
                    done[side] = SideOutcome(tuple(visited[side]), reason)
                    break
                last[side] = now.pred
            else:
                if len(wanted[side]) < ahead:  # a schedule that ended without its limit rule firing
                    done[side] = SideOutcome(tuple(visited[side]) or ((0.0, initial),), LIMIT)
    left, right = done.get(LEFT), done.get(RIGHT)
    return SearchOutcome(lbound=left.bound if left else 0.0, rbound=right.bound if right else 0.0, left=left, right=right)
