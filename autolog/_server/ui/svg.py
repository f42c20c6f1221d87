"""Charts as inline SVG drawn on the server: a frame, ticks, and series as path data.

The run page's evaluation plots are small (at most a few thousand points), so they are
drawn here rather than by a script: no request after the page, nothing to run in the
browser, and the page's CSP (no inline style) holds, since colours come from app.css
classes. Every number that reaches a path is finite and inside the frame.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Frame", "chart", "dots", "line", "nice_range"]

#: A point in data units.
Point = tuple[float, float]


@dataclass(frozen=True)
class Frame:
    """Where a chart's data lands: the ranges of its axes and the SVG's size in pixels."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width: int = 420
    height: int = 320
    left: int = 52
    right: int = 12
    top: int = 12
    bottom: int = 42

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        return self.left + (value - lo) / (hi - lo) * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        return (
            self.height
            - self.bottom
            - (value - lo) / (hi - lo) * (self.height - self.top - self.bottom)
        )

    def places(self, points: Sequence[Point]) -> list[str]:
        """Each point as "x y" in pixels (the scale worked out once: pages hold thousands)."""
        (x_lo, x_hi), (y_lo, y_hi) = self.x_range, self.y_range
        x_scale = (self.width - self.left - self.right) / (x_hi - x_lo)
        y_scale = (self.height - self.top - self.bottom) / (y_hi - y_lo)
        left, bottom = self.left, self.height - self.bottom
        return [f"{left + (x - x_lo) * x_scale:.1f} {bottom - (y - y_lo) * y_scale:.1f}"
                for x, y in points]  # fmt: skip


def nice_range(values: Sequence[float]) -> tuple[float, float]:
    """A range holding `values` with a little room, widened when they are all equal.

    ValueError when the values are too far apart for a float (their span is infinite).
    """
    lo, hi = min(values), max(values)
    span = hi - lo
    if not math.isfinite(span * 1.1):
        raise ValueError(f"values from {lo:.3g} to {hi:.3g} are too far apart to draw")
    # Too close to tell apart (or to divide by): drawn as one value.
    if span < 1e-300 or span <= max(abs(lo), abs(hi)) * 1e-12:
        pad = max(abs(lo), abs(hi)) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo - span * 0.04, hi + span * 0.04


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round values between `lo` and `hi`, about `count` of them (1, 2 or 5 times a power of 10)."""
    raw = (hi - lo) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step)
    return [k * step for k in range(first, first + count + 2) if k * step <= hi + step * 1e-9]


def line(frame: Frame, points: Sequence[Point], steps: bool = False) -> str:
    """Path data joining `points` in order; with `steps`, across then up (matplotlib's post)."""
    if steps and points:
        stepped = [points[0]]
        for before, point in itertools.pairwise(points):
            stepped += [(point[0], before[1]), point]
        points = stepped
    places = frame.places(points)
    return ("M" + "L".join(places)) if places else ""


def dots(frame: Frame, points: Sequence[Point]) -> str:
    """Path data of a dot per point (zero-length segments, drawn with round caps)."""
    return "".join(f"M{place}h0" for place in frame.places(points))


def chart(
    frame: Frame, x_label: str, y_label: str, series: list[dict[str, Any]], **more: Any
) -> dict[str, Any]:
    """What the template draws: the size, the axes with their ticks, and the series as given
    (each with its path data under `d`); `more` adds the chart's own fields (title, id).
    """
    x_ticks = [{"at": f"{frame.x(v):.1f}", "text": f"{v:.4g}"} for v in _ticks(*frame.x_range)]
    y_ticks = [{"at": f"{frame.y(v):.1f}", "text": f"{v:.4g}"} for v in _ticks(*frame.y_range)]
    return {
        "width": frame.width,
        "height": frame.height,
        "box": {
            "x": frame.left,
            "y": frame.top,
            "right": frame.width - frame.right,
            "bottom": frame.height - frame.bottom,
            "width": frame.width - frame.left - frame.right,
            "height": frame.height - frame.top - frame.bottom,
        },
        "x_label": x_label,
        "y_label": y_label,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "series": series,
        **more,
    }
