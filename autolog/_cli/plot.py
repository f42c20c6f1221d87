"""`autolog plot RUN [--out DIR]`: PNGs of a run's evaluation plot data, drawn with matplotlib.

Autologging records the data of the plots (`autolog.integrations._plot_data`),
not pictures; this draws them, one PNG per plot of `training_plots.json`, with the `Agg`
backend (no display needed). matplotlib is optional: without it the command
says how to install it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autolog._cli.main import add_command, resolve_run
from autolog._cli.output import note, write_lines
from autolog._tracking.settings import tracking
from autolog.errors import ArtifactNotFoundError, MissingDependencyError
from autolog.integrations._plot_data import (
    CONFUSION_MATRIX,
    PLOTS_ARTIFACT,
    PRECISION_RECALL,
    RESIDUALS,
    ROC_CURVE,
    curve_rates,
)

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register", "render_plots"]


def register(subparsers: Subparsers) -> None:
    """Add `autolog plot`."""
    p = add_command(
        subparsers,
        "plot",
        _plot,
        help="draw a run's evaluation plots (confusion matrix, ROC, precision-recall,"
        " residuals) as PNG files; needs matplotlib",
    )
    p.add_argument("run", metavar="RUN", help="a run id, or a unique prefix of one")
    p.add_argument(
        "--out", "-o", metavar="DIR", default=None, help="where to write (default: ./plots-RUN)"
    )


def _plot(args: argparse.Namespace) -> int:
    run = resolve_run(args.run)
    out = Path(args.out) if args.out else Path(f"plots-{run.id[:8]}")
    written = render_plots(run.id, out)
    if not written:
        note(
            f"run {run.id} has no plot data (it is recorded for scikit-learn classifiers and"
            " regressors trained with labels, unless enable(log_plots=False))"
        )
        return 0
    write_lines([str(path) for path in written])
    return 0


def render_plots(run_id: str, out: Path) -> list[Path]:
    """Draw each plot of the run's `training_plots.json` into `out` as a PNG; the files written."""
    tracking.flush()
    try:
        found = json.loads(tracking.backend().read_artifact(run_id, PLOTS_ARTIFACT))
    except ArtifactNotFoundError:
        return []
    found = {name: data for name, data in found.items() if name in _DRAW}
    if not found:
        return []
    pyplot = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in found.items():
        figure, ax = pyplot.subplots(figsize=(6.0, 4.5), dpi=100)
        try:
            _DRAW[name](ax, data)
            figure.tight_layout()
            path = out / f"training_{name}.png"
            figure.savefig(path, format="png")
            written.append(path)
        finally:
            pyplot.close(figure)
    return written


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(
            "autolog plot draws with matplotlib, which is not installed; install it with"
            " `pip install matplotlib` (or `pip install 'autolog-ml[plot]'`)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def _confusion(ax: Any, data: dict[str, Any]) -> None:
    labels = [str(v) for v in data["labels"]]
    matrix = data["matrix"]
    image = ax.imshow(matrix, cmap="Blues")
    ax.figure.colorbar(image, ax=ax)
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 6 else 0)
    ax.set_yticks(range(len(labels)), labels)
    if len(labels) <= 20:
        top = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                text = f"{value:.3g}" if data.get("weighted") else str(value)
                color = "white" if top and value > top / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title("Training confusion matrix")


def _roc(ax: Any, data: dict[str, Any]) -> None:
    for curve in data["curves"]:
        rates = curve_rates(curve)
        ax.plot(rates["fpr"], rates["tpr"], label=f"{curve['label']} (AUC {curve['auc']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"Training ROC curve ({data['scheme']})")
    ax.legend(loc="lower right", fontsize=8)


def _precision_recall(ax: Any, data: dict[str, Any]) -> None:
    for curve in data["curves"]:
        label = f"{curve['label']} (AP {curve['average_precision']:.3f})"
        rates = curve_rates(curve)
        ax.step(rates["recall"], rates["precision"], where="post", label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"Training precision-recall curve ({data['scheme']})")
    ax.legend(loc="lower left", fontsize=8)


def _residuals(ax: Any, data: dict[str, Any]) -> None:
    for output in data["outputs"]:
        sample = output["sample"]
        ax.scatter(sample["true"], sample["predicted"], s=8, label=f"output {output['output']}")
    values = [v for o in data["outputs"] for s in o["sample"].values() for v in s if v is not None]
    if values:
        ax.plot([min(values), max(values)], [min(values), max(values)], ":", color="grey")
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    median = ", ".join(f"{o['quantiles']['0.5']:.3g}" for o in data["outputs"])
    ax.set_title(f"Training predictions ({data['sample_rows']} rows); median residual {median}")
    if len(data["outputs"]) > 1:
        ax.legend(fontsize=8)


_DRAW = {
    CONFUSION_MATRIX: _confusion,
    ROC_CURVE: _roc,
    PRECISION_RECALL: _precision_recall,
    RESIDUALS: _residuals,
}
