"""Metric histories cut to a chart's width: the min and max of each pixel's bucket.

A chart `width` pixels wide shows at most two points per pixel column, so a history of a
million points is sent as at most `2 * width + 2` points, and its spikes stay visible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autolog._entities import Metric

__all__ = ["MAX_WIDTH", "downsample"]

#: The widest chart served (wider requests are cut to this).
MAX_WIDTH = 4000


def downsample(points: Sequence[Metric], width: int) -> tuple[list[float], list[float | None]]:
    """The steps and values of `points` (in step order), at most two per bucket of steps.

    Buckets split the step range into `width` equal parts; each keeps its lowest and highest
    value, in step order, and the first and last points are kept. NaN and infinities come
    back as None (a gap in the line).
    """
    width = max(1, min(int(width), MAX_WIDTH))
    n = len(points)
    steps = np.fromiter((p.step for p in points), dtype=np.float64, count=n)
    values = np.fromiter((p.value for p in points), dtype=np.float64, count=n)
    if n > 2 * width:
        lo, hi = steps[0], steps[-1]
        span = hi - lo if hi > lo else 1.0
        bucket = np.minimum(((steps - lo) / span * width).astype(np.int64), width - 1)
        # Ranks a value within its bucket; NaN sorts last so it is never a bucket's min or max.
        order = np.lexsort((values, bucket))
        starts = np.flatnonzero(np.r_[True, bucket[order][1:] != bucket[order][:-1]])
        ends = np.r_[starts[1:], n] - 1
        finite = np.isfinite(values[order])
        # The max is the last finite value of the bucket; buckets of only NaN keep their first.
        last_finite = ends.copy()
        for i in np.flatnonzero(~finite[ends]):
            f = np.flatnonzero(finite[starts[i] : ends[i] + 1])
            last_finite[i] = starts[i] + f[-1] if len(f) else starts[i]
        # The ends stay too, so the line spans the whole history.
        keep = np.unique(np.r_[0, order[starts], order[last_finite], n - 1])
        steps, values = steps[keep], values[keep]
    ys: list[float | None] = [float(v) if np.isfinite(v) else None for v in values]
    return steps.tolist(), ys
