"""Server-side downsampling of metric histories: at most two points per pixel column,
every bucket's min and max kept, NaN never chosen over a number."""

from __future__ import annotations

import math
import random

from autolog._entities import Metric
from autolog._server.ui.downsample import downsample


def history(values: list[float]) -> list[Metric]:
    return [Metric("m", v, i, 1000 + i) for i, v in enumerate(values)]


def test_short_histories_come_back_whole() -> None:
    xs, ys = downsample(history([3.0, 1.0, 2.0]), 800)
    assert xs == [0.0, 1.0, 2.0] and ys == [3.0, 1.0, 2.0]


def test_a_million_points_become_two_per_pixel_with_spikes_kept() -> None:
    rng = random.Random(0)
    values = [rng.random() for _ in range(1_000_000)]
    values[123_457] = 50.0  # a spike
    values[876_543] = -50.0  # a dip
    xs, ys = downsample(history(values), 500)
    assert len(xs) <= 1002
    assert max(y for y in ys if y is not None) == 50.0
    assert min(y for y in ys if y is not None) == -50.0
    assert xs == sorted(xs) and xs[0] == 0 and xs[-1] == 999_999


def test_nan_and_infinities_are_gaps_not_extremes() -> None:
    values = [float(i % 7) for i in range(1000)]
    values[10] = math.nan
    values[20] = math.inf
    xs, ys = downsample(history(values), 10)
    assert len(xs) <= 22
    finite = [y for y in ys if y is not None]
    assert min(finite) == 0.0 and max(finite) == 6.0
    _, whole = downsample(history([1.0, math.nan, math.inf]), 10)
    assert whole == [1.0, None, None]


def test_a_bucket_of_only_nan_keeps_one_gap() -> None:
    values = [math.nan] * 500 + [1.0] * 500
    xs, ys = downsample(history(values), 4)
    assert None in ys and 1.0 in ys and len(xs) <= 10
