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
from autolog._safety import capture_internal_errors
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

    def __init__(self, run: ActiveRun, *, cv: bool = False) -> None:
        super().__init__()
        self.run = run
        self.cv = cv
        # The booster's round count before this training (continued training): steps
        # are the booster's own iteration numbers, as `best_iteration` is.
        self.start_round = 0
        self.logged = 0
        self.best_iteration: int | None = None
        self.best_score: float | None = None
        self._history: Mapping[str, Mapping[str, Sequence[Any]]] | None = None
        self._keys: dict[tuple[str, str], str] = {}

    @property
    def rounds(self) -> int:
        """How many rounds of metrics the training produced (0 without evals)."""
        return _rounds(self._history) if self._history is not None else 0

    def before_training(self, model: Any) -> Any:
        with capture_internal_errors("xgboost: reading the starting round"):
            self.start_round = int(model.num_boosted_rounds())
        return model

    def before_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        # The live history dict; kept so that after_training can catch up.
        self._history = evals_log
        return False

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        with capture_internal_errors("xgboost: logging evaluation metrics"):
            self._history = evals_log
            self._log_new(evals_log)
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
        total = _rounds(history)
        log_metrics = self.run.log_metrics
        for index in range(self.logged, total):
            points: dict[str, float] = {}
            for data, metrics in history.items():
                for metric, values in metrics.items():
                    if index >= len(values):
                        continue
                    value = values[index]
                    key = self._keys.get((data, metric))
                    if key is None:
                        key = self._keys[(data, metric)] = sanitize_key(f"{data}-{metric}")
                    if self.cv:
                        # cv's history holds (mean, std) across the folds.
                        points[f"{key}-mean"] = value[0]
                        points[f"{key}-std"] = value[1]
                    else:
                        points[key] = value
            if points:
                log_metrics(points, step=self.start_round + index)
        self.logged = total


def _rounds(history: Mapping[str, Mapping[str, Sequence[Any]]]) -> int:
    """The number of rounds in an evals log (its longest metric history)."""
    return max(
        (len(values) for metrics in history.values() for values in metrics.values()), default=0
    )
