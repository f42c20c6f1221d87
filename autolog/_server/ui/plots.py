"""A run's evaluation plots on its page: `training_plots.json` read and checked, then turned
into what run.html draws (a confusion matrix table, curves and a scatter as inline SVG,
residual quantile tables). docs/records.md describes the file.

Autologging writes the file (`autolog.integrations._plot_data`, which the server does not
import), but anyone may log an artifact of that name, so nothing in it is trusted: it is
read with a size limit, every value is checked, labels stay text (the template escapes
them), and whatever is unexpected becomes a sentence on the page, never an error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from autolog._entities import FileInfo
from autolog._server.ui import svg
from autolog.backends.base import Backend
from autolog.errors import AutologError

__all__ = ["PLOTS_ARTIFACT", "PlotDataError", "plot_view", "read_plots"]

PLOTS_ARTIFACT = "training_plots.json"
#: The most bytes read (autologging writes tens of KB).
MAX_BYTES = 2 * 1024 * 1024
#: What the page draws at most; autologging writes less (50 labels, 20 curves of 100
#: points, 10 outputs of 200 rows), so more means the file is not autolog's.
MAX_LABELS = 100
MAX_CURVES = 50
MAX_POINTS = 1000
MAX_OUTPUTS = 20
MAX_LABEL_CHARS = 200
#: Cell shades of the confusion matrix: classes shade-0 to shade-9 in app.css.
SHADES = 10
#: Series colours: classes series-0 to series-9 in app.css.
COLORS = 10

# (key in the file, name on the page, the x and y keys, the area key and its legend name)
_CURVES = {
    "roc_curve": ("ROC curve", "fpr", "tpr", "auc", "AUC"),
    "precision_recall_curve": (
        "Precision-recall curve",
        "recall",
        "precision",
        "average_precision",
        "AP",
    ),
}
_AXES = {
    "fpr": "false positive rate",
    "tpr": "true positive rate",
    "recall": "recall",
    "precision": "precision",
}


class PlotDataError(ValueError):
    """What is wrong with a plot's data, in words for the page."""


def read_plots(store: Backend, run_id: str, files: Sequence[FileInfo]) -> dict[str, Any] | None:
    """The plots of a run whose top-level artifacts are `files`; None when it has no plot data."""
    entry = next((f for f in files if f.path == PLOTS_ARTIFACT and not f.is_dir), None)
    if entry is None:
        return None
    too_big = f"it holds more than {MAX_BYTES} bytes, the most this page reads"
    if entry.size is not None and entry.size > MAX_BYTES:
        return _unreadable(too_big)
    try:
        data = store.read_artifact(run_id, PLOTS_ARTIFACT)
    except AutologError as exc:
        return _unreadable(str(exc))
    if len(data) > MAX_BYTES:
        return _unreadable(too_big)
    return plot_view(data)


def plot_view(data: bytes) -> dict[str, Any]:
    """What the run page shows of the bytes of a `training_plots.json`.

    Returns {"problems": [sentences], "confusion": table or None, "charts": [SVG charts],
    "residuals": tables or None}. A plot whose data is damaged is left out and named in
    `problems`; the others are shown.
    """
    try:
        found = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        return _unreadable(f"it is not JSON ({_short(str(exc))})")
    if not isinstance(found, dict):
        return _unreadable(f"it holds a {type(found).__name__}, not an object")
    view: dict[str, Any] = {"problems": [], "confusion": None, "charts": [], "residuals": None}
    parts = [
        ("confusion_matrix", "confusion matrix"),
        *((k, v[0]) for k, v in _CURVES.items()),
        ("residuals", "residuals"),
    ]
    for key, name in parts:
        if key not in found:
            continue
        try:
            if key == "confusion_matrix":
                view["confusion"] = _confusion(found[key])
            elif key == "residuals":
                view["residuals"] = _residuals(found[key])
                if view["residuals"]["scatter"]:
                    view["charts"].append(view["residuals"]["scatter"])
            else:
                view["charts"].append(_curves(key, found[key]))
        except PlotDataError as exc:
            view["problems"].append(f"The {name} data could not be read: {exc}.")
    shown = view["confusion"] or view["charts"] or view["residuals"]
    if not view["problems"] and not shown:
        view["problems"].append(
            f"The plot data could not be read: {PLOTS_ARTIFACT} holds no plot this page knows."
        )
    return view


def _unreadable(reason: str) -> dict[str, Any]:
    problem = f"The plot data could not be read: {PLOTS_ARTIFACT}: {reason}."
    return {"problems": [problem], "confusion": None, "charts": [], "residuals": None}


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _describe(value: Any) -> str:
    """A value named in a problem: scalars as written, containers by kind (they may be deep)."""
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return _short(repr(value))


def _short(text: str) -> str:
    """Text from the file, cut to `MAX_LABEL_CHARS`; a lone surrogate (JSON allows "\\ud800",
    UTF-8 does not) becomes "?" so the page can be encoded."""
    text = text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


# -- checks ---------------------------------------------------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlotDataError(f"{what} is a {type(value).__name__}, not an object")
    return value


def _list(value: Any, what: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        raise PlotDataError(f"{what} is a {type(value).__name__}, not a list")
    if len(value) > most:
        raise PlotDataError(f"{what} holds {len(value)} items; the page draws at most {most}")
    return value


def _number(value: Any, what: str) -> float:
    """A finite number (JSON's integers may be too large for a float)."""
    if type(value) is float and math.isfinite(value):  # most values: checked at once
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlotDataError(f"{what} is {_describe(value)}, not a number")
    try:
        found = float(value)
    except OverflowError:
        raise PlotDataError(f"{what} is too large") from None
    if not math.isfinite(found):
        raise PlotDataError(f"{what} is {found}, not a finite number")
    return found


def _label(value: Any) -> str:
    """A class label as text (the template escapes it)."""
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlotDataError(f"a label is {_describe(value)}, not text or a number")
    return _short(str(value))


def _text(value: float, whole: bool = False) -> str:
    """A value as the page writes it: whole numbers (counts) in full, others to 6 digits."""
    if whole and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


# -- confusion matrix -----------------------------------------------------------------------


def _confusion(data: Any) -> dict[str, Any]:
    found = _object(data, "confusion_matrix")
    labels = [_label(v) for v in _list(found.get("labels"), "labels", MAX_LABELS)]
    rows = _list(found.get("matrix"), "matrix", MAX_LABELS)
    if not labels or len(rows) != len(labels):
        raise PlotDataError(f"the matrix has {len(rows)} rows for {len(labels)} labels")
    matrix = []
    for row in rows:
        values = [_number(v, "a cell") for v in _list(row, "a row", MAX_LABELS)]
        if len(values) != len(labels):
            raise PlotDataError(f"a row has {len(values)} cells for {len(labels)} labels")
        matrix.append(values)
    weighted = found.get("weighted") is True
    top = max(max(row) for row in matrix)
    out = []
    for label, row in zip(labels, matrix, strict=True):
        cells = []
        for predicted, value in zip(labels, row, strict=True):
            share = min(max(value / top, 0.0), 1.0) if top > 0 else 0.0
            cells.append(
                {
                    "text": _text(value, whole=not weighted),
                    "value": value,
                    "shade": round(share * (SHADES - 1)),
                    "predicted": predicted,
                }
            )
        out.append({"label": label, "cells": cells})
    return {"labels": labels, "rows": out, "weighted": weighted}


# -- curves ---------------------------------------------------------------------------------


def _curves(key: str, data: Any) -> dict[str, Any]:
    name, x_key, y_key, area_key, area_name = _CURVES[key]
    found = _object(data, key)
    scheme = found.get("scheme", "")
    if not isinstance(scheme, str):
        raise PlotDataError(f"scheme is {_describe(scheme)}, not text")
    frame = svg.Frame((0.0, 1.0), (0.0, 1.0))
    series = []
    for i, curve in enumerate(_list(found.get("curves"), "curves", MAX_CURVES)):
        curve = _object(curve, "a curve")
        label = _label(curve.get("label"))
        points = _curve_points(key, curve, label, x_key, y_key)
        for point in points:
            if not (0.0 <= point[0] <= 1.0 and 0.0 <= point[1] <= 1.0):
                raise PlotDataError(f"the point {point} of {label!r} lies outside 0 to 1")
        area = _number(curve.get(area_key), f"the {area_key} of {label!r}")
        series.append(
            {
                "label": label,
                "area": area,
                "color": i % COLORS,
                "legend": f"{label} ({area_name} {area:.4f})",
                "kind": "line",
                "d": svg.line(frame, points, steps=key != "roc_curve"),
            }
        )
    if not series:
        raise PlotDataError("it holds no curve")
    more = found.get("classes_not_drawn", 0)
    note = None
    if isinstance(more, int) and not isinstance(more, bool) and more > 0:
        note = f"{more} more classes not drawn"
    title = f"{name} ({_short(scheme)})" if scheme else name
    diagonal = svg.line(frame, [(0.0, 0.0), (1.0, 1.0)]) if key == "roc_curve" else None
    return svg.chart(
        frame,
        _AXES[x_key],
        _AXES[y_key],
        series,
        title=title,
        note=note,
        id=key.replace("_", "-"),
        diagonal=diagonal,
    )


def _curve_points(
    key: str, curve: dict[str, Any], label: str, x_key: str, y_key: str
) -> list[svg.Point]:
    """A curve's points as rates. autolog writes counts (`tps`, `fps` and their totals
    `positives`, `negatives`: fpr = fps / negatives, tpr = recall = tps / positives,
    precision = tps / (tps + fps), 1 where both are 0); older runs hold the rates."""
    if "tps" not in curve:
        return _points(curve.get(x_key), curve.get(y_key), x_key, y_key)
    counts = _points(curve.get("fps"), curve.get("tps"), "fps", "tps")
    positives = _number(curve.get("positives"), f"the positives of {label!r}")
    negatives = _number(curve.get("negatives"), f"the negatives of {label!r}")
    if positives <= 0 or negatives <= 0:
        raise PlotDataError(f"the totals of {label!r} are {positives:g} and {negatives:g}")
    if key == "roc_curve":
        return [(fp / negatives, tp / positives) for fp, tp in counts]
    return [(tp / positives, tp / (tp + fp) if tp + fp > 0 else 1.0) for fp, tp in counts]


def _points(xs: Any, ys: Any, x_key: str, y_key: str) -> list[svg.Point]:
    """(x, y) pairs of two lists of the same length; pairs holding a null are skipped."""
    xs = _list(xs, x_key, MAX_POINTS)
    ys = _list(ys, y_key, MAX_POINTS)
    if len(xs) != len(ys):
        raise PlotDataError(f"{x_key} holds {len(xs)} values and {y_key} {len(ys)}")
    return [
        (_number(x, f"a value of {x_key}"), _number(y, f"a value of {y_key}"))
        for x, y in zip(xs, ys, strict=True)
        if x is not None and y is not None
    ]


# -- residuals ------------------------------------------------------------------------------


def _residuals(data: Any) -> dict[str, Any]:
    found = _object(data, "residuals")
    tables = []
    samples = []
    for i, output in enumerate(_list(found.get("outputs"), "outputs", MAX_OUTPUTS)):
        output = _object(output, "an output")
        number = _count(output.get("output", i))
        name = f"output {i if number is None else number}"
        quantiles = []
        found_quantiles = _object(output.get("quantiles"), "quantiles")
        if len(found_quantiles) > MAX_POINTS:
            raise PlotDataError(f"{name} holds {len(found_quantiles)} quantiles")
        for key, value in found_quantiles.items():
            try:
                q = float(key)
            except ValueError:
                q = math.nan
            if not 0.0 <= q <= 1.0:
                raise PlotDataError(f"the quantile {_describe(key)} is not between 0 and 1")
            quantiles.append((q, _number(value, f"the {key} quantile")))
        cells = [(f"{q * 100:g} %", _text(v)) for q, v in sorted(quantiles)]
        for stat in ("mean", "std"):
            if stat in output:
                cells.append((stat, _text(_number(output[stat], f"the {stat} of {name}"))))
        tables.append({"name": name, "cells": cells})
        sample = _object(output.get("sample", {}), "a sample")
        if sample:
            samples.append(
                (name, _points(sample.get("true"), sample.get("predicted"), "true", "predicted"))
            )
    if not tables:
        raise PlotDataError("it holds no output")
    return {
        "rows": _count(found.get("rows")),
        "sample_rows": _count(found.get("sample_rows")),
        "tables": tables,
        "scatter": _scatter(samples) if samples else None,
    }


def _count(value: Any) -> int | None:
    """A count of rows, or None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
        return value
    return None


def _scatter(samples: list[tuple[str, list[svg.Point]]]) -> dict[str, Any]:
    """Predicted against true values, a colour per output, over the line where they agree."""
    values = [v for _, points in samples for point in points for v in point]
    if not values:
        raise PlotDataError("its sample holds no pair of predicted and true values")
    try:
        span = svg.nice_range(values)
    except ValueError as exc:
        raise PlotDataError(str(exc)) from None
    frame = svg.Frame(span, span)
    series = [
        {
            "label": name,
            "legend": name,
            "area": None,
            "color": i % COLORS,
            "kind": "dots",
            "d": svg.dots(frame, points),
        }
        for i, (name, points) in enumerate(samples)
    ]
    return svg.chart(
        frame,
        "true value",
        "predicted value",
        series,
        note=None,
        title="Predicted against true (a sample of the training rows)",
        id="predicted-vs-true",
        diagonal=svg.line(frame, [(span[0], span[0]), (span[1], span[1])]),
    )
