"""Comparing a run with its reproduction: params, metrics, and the likely cause of a difference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from autolog import _tags
from autolog._cli.table import Column, format_number, render_table
from autolog._entities import Run
from autolog._patching.seeds import UNSEEDED_TAG

__all__ = ["Comparison", "compare_runs"]

# Tags whose change explains different numbers, and how to say it.
_CAUSE_TAGS = [
    (_tags.DATA_HASH, "the training data changed (fingerprint {old} -> {new})"),
    (_tags.DVC_HASH, "the DVC data version changed ({old} -> {new})"),
    (_tags.SOURCE_SHA256, "the script's source differs ({old} -> {new})"),
    (_tags.SEED_NUMPY, "numpy's global random state differed at the start of the fit"),
    (_tags.SEED_PYTHON, "Python's random state differed at the start of the fit"),
    (_tags.BLAS_LIBRARY, "another BLAS: {old} -> {new}"),
    (_tags.BLAS_THREADS, "another BLAS thread count: {old} -> {new}"),
    (_tags.OPENMP_THREADS, "another OpenMP thread count: {old} -> {new}"),
    (_tags.PYTHON, "another Python: {old} -> {new}"),
]
_LIB_PREFIX = _tags.LIB_PREFIX


@dataclass
class Comparison:
    """The rows of the comparison table and the verdict."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    metric_mismatches: int = 0
    metrics_compared: int = 0
    causes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.metric_mismatches == 0

    def lines(self, width: int | None) -> list[str]:
        """The comparison table, then the verdict and the likely causes."""
        columns = [
            Column("RUN", cells=[r[0] for r in self.rows]),
            Column("KEY", max_width=48, soft_min=16, min_width=8, cells=[r[1] for r in self.rows]),
            Column("ORIGINAL", max_width=24, min_width=6, cells=[r[2] for r in self.rows]),
            Column("REPRODUCTION", max_width=24, min_width=6, cells=[r[3] for r in self.rows]),
            Column("", cells=[r[4] for r in self.rows]),
        ]
        out = render_table(columns, width) if self.rows else []
        differ = sum(1 for r in self.rows if r[4] != "same")
        if self.matches:
            out.append(
                f"reproduced: all {self.metrics_compared} metrics match"
                + (f" ({differ} other differences)" if differ else "")
            )
        else:
            out.append(
                f"not reproduced: {self.metric_mismatches} of {self.metrics_compared} metrics"
                " differ"
            )
        if self.causes:
            out.append("likely causes:" if not self.matches else "differences noticed:")
            out.extend(f"  - {cause}" for cause in self.causes)
        return out


def _same(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


def compare_runs(
    original: Sequence[Run], reproduced: Sequence[Run], *, rtol: float, atol: float
) -> Comparison:
    """Compare runs pairwise (a run, then its children in start order) within the tolerances.

    `system/` metrics (resource use) are left out: they differ by nature.
    """
    result = Comparison()
    for i in range(max(len(original), len(reproduced))):
        label = "run" if i == 0 else f"child {i}"
        if i >= len(original) or i >= len(reproduced):
            side = "original" if i < len(original) else "reproduction"
            result.causes.append(
                f"{label} exists only in the {side}: the script trained differently"
            )
            result.metric_mismatches += 1
            continue
        old, new = original[i], reproduced[i]
        _compare_pair(label, old, new, result, rtol, atol)
    return result


def _compare_pair(
    label: str, old: Run, new: Run, result: Comparison, rtol: float, atol: float
) -> None:
    for key in sorted(set(old.params) | set(new.params)):
        a, b = old.params.get(key, "-"), new.params.get(key, "-")
        result.rows.append((label, f"param {key}", a, b, "same" if a == b else "DIFFERS"))
    for key in sorted(set(old.metrics) | set(new.metrics)):
        if key.startswith("system/"):
            continue
        result.metrics_compared += 1
        x, y = old.metrics.get(key), new.metrics.get(key)
        same = x is not None and y is not None and _same(x, y, rtol, atol)
        if not same:
            result.metric_mismatches += 1
        shown = [format_number(v, 10) if v is not None else "-" for v in (x, y)]
        result.rows.append((label, key, shown[0], shown[1], "same" if same else "DIFFERS"))
    prefix = "" if label == "run" else f"{label}: "
    chance = UNSEEDED_TAG in old.tags
    for tag, text in _CAUSE_TAGS:
        before, after = old.tags.get(tag), new.tags.get(tag)
        # An unseeded program starts from another random state in every process: that
        # matters only when something in the fit drew from it.
        if tag.startswith(_tags.SEED_PREFIX) and not chance:
            continue
        if before != after:
            result.causes.append(prefix + text.format(old=before or "none", new=after or "none"))
    libraries = {k for k in (*old.tags, *new.tags) if k.startswith(_LIB_PREFIX)}
    for tag in sorted(libraries):
        before, after = old.tags.get(tag), new.tags.get(tag)
        if before != after:
            name = tag[len(_LIB_PREFIX) :]
            result.causes.append(f"{prefix}another {name}: {before or 'none'} -> {after or 'none'}")
    if chance:
        result.causes.append(f"{prefix}left to chance: {old.tags[UNSEEDED_TAG]}")
