"""λ searches: schedules, frame grids and each stop rule alone (spec methods.md §1.3, §5 check 1)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xrayvision.errors import ExplainError
from xrayvision.explain import search as S
from xrayvision.explain.search import Evaluation, run_search


def take(iterator, n):
    return list(itertools.islice(iterator, n))


def test_accelerating_schedule_matches_the_published_values():
    assert take(S.PACKAGE.schedule("left"), 10) == [0, -10, -21, -34, -48, -63, -80, -98, -118, -140]


def test_accelerating_frames_for_bound_minus_118():
    frames = S.PACKAGE.frames(-118, 0)
    assert len(frames) == 10 and frames[0] == -118 and frames[-1] == 0
    assert frames[1] == pytest.approx(-104.888889) and frames[-2] == pytest.approx(-13.111111)
    # the Captum port's grid leaves 0 out
    np.testing.assert_allclose(S.CAPTUM.frames(-118, 0), -118 + 11.8 * np.arange(10))


def test_paper_schedule_steps_one_then_ten_on_both_sides():
    assert take(S.PAPER.schedule("left"), 14) == [0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -20, -30, -40]
    assert take(S.PAPER.schedule("right"), 13) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30]


def test_schedules_are_finite_and_end_at_the_limit():
    left = list(S.PAPER.schedule("left"))
    assert left[-1] == -1000 and len(left) == 10 + 99 + 1
    assert list(S.PACKAGE.schedule("left"))[-1] <= -3000


def test_paper_frames_are_the_published_arange():
    # 11 frames from lb to rb inclusive whenever the interval is wider than 10
    for lb, rb in [(-20, 2), (-50, 1), (-70, 4), (-120, 6), (-190, 50), (-1000, 400)]:
        frames = S.PAPER.frames(lb, rb)
        np.testing.assert_array_equal(frames, np.arange(lb, rb + 1, abs(lb - rb) / 10))
        assert len(frames) == 11 and frames[0] == lb and frames[-1] == pytest.approx(rb)
    # narrower intervals give more frames, as published (and may overshoot rb)
    assert len(S.PAPER.frames(-5, 0)) == 12
    head = S.HEAD.frames(-840, 0)
    assert len(head) == 10 and head[0] == -840 and head[-1] == pytest.approx(-84)


def test_fixed_range_is_linspace():
    np.testing.assert_allclose(S.FixedRange(-75, 75, 11).frames(0, 0), np.arange(-75, 76, 15))
    with pytest.raises(ExplainError):
        S.FixedRange(5, -5)


def scripted(preds: dict[float, float] | None = None, default=None, diffs=None):
    """An evaluator from a table λ -> prediction (``default(λ)`` elsewhere), logging every call."""
    calls = []

    def evaluate(lams):
        calls.append(list(lams))
        out = []
        for lam in lams:
            pred = preds[lam] if preds and lam in preds else default(lam)
            out.append(Evaluation(pred, diffs(lam) if diffs else 0.0))
        return out

    evaluate.calls = calls
    return evaluate


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_left_stop_when_the_prediction_rises(batch_size):
    # falls by 0.01 per unit of |λ| until -5, then rises
    evaluate = scripted(default=lambda lam: 0.9 + 0.01 * lam if lam >= -5 else 0.95)
    out = run_search(S.HEAD, evaluate, initial=0.9, batch_size=batch_size)
    assert [lam for lam, _ in out.left.visited] == [0, -1, -2, -3, -4, -5, -6]
    assert out.lbound == -6 and out.left.reason == S.ROSE and out.converged and out.right is None


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_left_stop_on_the_drop_threshold(batch_size):
    evaluate = scripted(default=lambda lam: 0.9 + 0.001 * lam)  # steadily down
    out = run_search(S.PAPER, evaluate, initial=0.9, batch_size=batch_size)
    # 0.9 - 0.5 > 0.9 + 0.001 λ first holds at λ = -510 (visited: 0..-10 then tens)
    assert out.lbound == -510 and out.left.reason == S.DROPPED
    head = run_search(S.HEAD, evaluate, initial=0.9, batch_size=batch_size)
    assert head.lbound == -160 and head.left.reason == S.DROPPED  # drop 0.15


def test_left_stop_on_the_limit_is_bounded_and_reported():
    evaluate = scripted(default=lambda lam: 0.5)  # flat: no rule but the limit fires
    out = run_search(S.PAPER, evaluate, initial=0.5, batch_size=8)
    assert out.lbound == -1000 and out.left.reason == S.LIMIT
    assert out.rbound == 1000 and out.right.reason == S.LIMIT
    assert not out.converged and not out.left.converged
    package = run_search(S.PACKAGE, evaluate, initial=0.5)
    assert package.lbound <= -3000 and package.left.reason == S.LIMIT


def test_right_stops_when_falling_or_rising_enough():
    falls = scripted(default=lambda lam: 0.5 + (0.001 * lam if lam <= 3 else -0.1))
    assert run_search(S.PAPER, falls, initial=0.5).right.visited[-1][0] == 4
    assert run_search(S.PAPER, falls, initial=0.5).right.reason == S.FELL
    rises = scripted(default=lambda lam: 0.5 + 0.002 * lam)
    out = run_search(S.PAPER, rises, initial=0.5)
    # 0.5 + 0.05 < 0.5 + 0.002 λ first holds at λ = 30
    assert out.rbound == 30 and out.right.reason == S.ROSE_ENOUGH


def test_package_min_pred_and_pixel_rules_alone():
    low = scripted(default=lambda lam: 0.3 + 0.01 * lam)  # under 0.05 before dropping 0.8
    out = run_search(S.PACKAGE, low, initial=0.3)
    assert out.lbound == -34 and out.left.reason == S.MIN_PRED
    # the image changes by 1 per unit of λ; 5 % of sum|x0| = 100 is passed at λ = -118
    pixels = scripted(default=lambda lam: 0.9, diffs=lambda lam: abs(lam))
    out = run_search(S.PACKAGE, pixels, initial=0.9, pixel_sum=2000.0)
    assert out.lbound == -118 and out.left.reason == S.PIXEL_DIFF
    absolute = run_search(S.CAPTUM, pixels, initial=0.9, pixel_sum=2000.0)
    assert absolute.lbound == -3103 and absolute.left.reason == S.LIMIT  # 5000 never passed first


def test_package_drop_rule():
    evaluate = scripted(default=lambda lam: 0.95 + 0.01 * lam)
    out = run_search(S.PACKAGE, evaluate, initial=0.95)
    # 0.95 - 0.8 > 0.95 + 0.01 λ  <=>  λ < -80: first at -98; min_pred 0.05 at λ < -90 comes later in order
    assert out.lbound == -98 and out.left.reason == S.MIN_PRED


def test_batched_walk_visits_exactly_the_one_at_a_time_sequence():
    single, batched = (scripted(default=lambda lam: 0.9 + 0.001 * lam) for _ in range(2))
    one = run_search(S.PAPER, single, initial=0.9, batch_size=1)
    many = run_search(S.PAPER, batched, initial=0.9, batch_size=8)
    assert one == many
    assert all(len(call) <= 2 for call in single.calls)  # one λ per side and call
    # batched: each round asks both sides for 4 λ at once, then 8 once the right side stopped
    assert batched.calls[0] == [0, -1, -2, -3, 0, 1, 2, 3]
    assert len(batched.calls) < len(single.calls) / 4
