"""The callback autolog adds to an XGBoost training to record its evaluation metrics.

Imported only once XGBoost is imported (by the XGBoost integration's hooks), so
that `import autolog` never imports XGBoost. Every metric point goes through the
run handle's `log_metrics`, which only appends to the writer's queue: a
10,000-round training pays about a microsecond per metric per round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xgboost.callback import TrainingCallback

from autolog._runs import ActiveRun
from autolog._safety import capture_internal_errors, report_internal_error
from autolog._validation import sanitize_key

__all__ = ["MetricsCallback"]


class MetricsCallback(TrainingCallback):
    """Records each round's evaluation metrics into a run, with the iteration as step.

    The training's own history (`evals_log`, the dict `evals_result` is filled
    from) is the source: each round logs the entries it has not logged yet, so
    a round in which an earlier callback stopped training (XGBoost then skips the
    callbacks after it) is caught up in `after_training`. The callback never
    stops training and never lets an error of its own reach the training loop.
    """

    def __init__(self, run: ActiveRun, *, cv: bool = False, continued: bool = False) -> None:
        super().__init__()
        self.run = run
        self.cv = cv
        self.continued = continued
        # The booster's round count before this training (continued training): steps
        # are the booster's own iteration numbers, as `best_iteration` is.
        self.start_round = 0
        self.logged = 0
        self.best_iteration: int | None = None
        self.best_score: float | None = None
        self._history: Mapping[str, Mapping[str, Sequence[Any]]] | None = None
        self._series: list[tuple[tuple[str, ...], Sequence[Any]]] = []
        self._datasets = 0

    @property
    def rounds(self) -> int:
        """How many rounds of metrics the training produced (0 without evals)."""
        return _rounds(self._history) if self._history is not None else 0

    def before_training(self, model: Any) -> Any:
        # Only a continued training starts past round 0; asking a fresh booster makes
        # XGBoost configure it early, which costs half a millisecond.
        if self.continued:
            with capture_internal_errors("xgboost: reading the starting round"):
                self.start_round = int(model.num_boosted_rounds())
        return model

    def before_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        # The live history dict; kept so that after_training can catch up.
        self._history = evals_log
        return False

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        # Not capture_internal_errors(): a contextmanager costs a microsecond a round.
        try:
            self._history = evals_log
            self._log_new(evals_log)
        except Exception as exc:  # noqa: BLE001 - never break the user's training
            report_internal_error(exc, "xgboost: logging evaluation metrics")
        return False

    def after_training(self, model: Any) -> Any:
        with capture_internal_errors("xgboost: logging evaluation metrics"):
            if self._history is not None:
                self._log_new(self._history)
            best_iteration = model.attr("best_iteration")
            best_score = model.attr("best_score")
            if best_iteration is not None:
                self.best_iteration = int(best_iteration)
            if best_score is not None:
                self.best_score = float(best_score)
        return model

    def _log_new(self, history: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
        series = self._series
        # XGBoost evaluates every dataset and metric each round: the lists only grow.
        if not series or len(history) != self._datasets:
            series = self._series = self._keys_of(history)
            self._datasets = len(history)
        if not series:
            return
        total = len(series[0][1])
        log_metrics = self.run.log_metrics
        for index in range(self.logged, total):
            points: dict[str, float] = {}
            for keys, values in series:
                if index < len(values):
                    if self.cv:
                        # cv's history holds (mean, std) across the folds.
                        points[keys[0]], points[keys[1]] = values[index]
                    else:
                        points[keys[0]] = values[index]
            if points:
                log_metrics(points, step=self.start_round + index)
        self.logged = total

    def _keys_of(
        self, history: Mapping[str, Mapping[str, Sequence[Any]]]
    ) -> list[tuple[tuple[str, ...], Sequence[Any]]]:
        """Each metric's history list and the metric key(s) it is logged under."""
        series: list[tuple[tuple[str, ...], Sequence[Any]]] = []
        for data, metrics in history.items():
            for metric, values in metrics.items():
                key = sanitize_key(f"{data}-{metric}")
                series.append(((f"{key}-mean", f"{key}-std") if self.cv else (key,), values))
        return series


def _rounds(history: Mapping[str, Mapping[str, Sequence[Any]]]) -> int:
    """The number of rounds in an evals log (its longest metric history)."""
    return max(
        (len(values) for metrics in history.values() for values in metrics.values()), default=0
    )
