"""Where runs go: the tracking URI, its backend and writer, and the settings.

Settings come from `autolog.configure(...)`, else from the environment:

    AUTOLOG_TRACKING_URI     where runs go (default ./autolog-runs)
    AUTOLOG_EXPERIMENT       the experiment of new runs (default "Default")
    AUTOLOG_SYNC=1           write every log call before it returns
    AUTOLOG_FLUSH_INTERVAL   seconds between background flushes (default 1.0)
    AUTOLOG_DISABLE_CAPTURE  comma-separated captures to skip: git, source, packages, system
    AUTOLOG_STRICT=1         raise autolog's internal errors instead of swallowing them
    AUTOLOG_SYSTEM_METRICS   seconds between system metrics samples (default 10), or off
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from autolog._tracking.writer import Writer
from autolog._validation import check_name
from autolog.backends import backend_for_uri, default_tracking_uri
from autolog.backends.base import Backend
from autolog.errors import InvalidValueError

__all__ = ["DEFAULT_EXPERIMENT", "Settings", "Tracking", "tracking"]

DEFAULT_EXPERIMENT = "Default"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidValueError(
            f"{name}={raw!r} is not a number; set it to seconds, for example {name}=1.0"
        ) from None
    if value <= 0:
        raise InvalidValueError(f"{name}={raw!r} must be a positive number of seconds")
    return value


@dataclass
class Settings:
    """The knobs of `autolog.configure`; None means "from the environment"."""

    tracking_uri: str | None = None
    experiment: str | None = None
    sync: bool | None = None
    flush_interval: float | None = None
    disable_capture: frozenset[str] | None = None
    system_metrics: float | None = None  # seconds between samples, 0 off (system_metrics.py)

    def resolved_uri(self) -> str:
        return self.tracking_uri or default_tracking_uri()

    def resolved_experiment(self) -> str:
        return self.experiment or os.environ.get("AUTOLOG_EXPERIMENT") or DEFAULT_EXPERIMENT

    def resolved_sync(self) -> bool:
        if self.sync is not None:
            return self.sync
        return os.environ.get("AUTOLOG_SYNC", "") in ("1", "true", "yes")

    def resolved_flush_interval(self) -> float:
        if self.flush_interval is not None:
            return self.flush_interval
        return _env_float("AUTOLOG_FLUSH_INTERVAL", 1.0)


@dataclass
class Tracking:
    """The process's tracking state: one backend and writer per tracking URI in use."""

    settings: Settings = field(default_factory=Settings)
    _writers: dict[str, Writer] = field(default_factory=dict)
    _experiment_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def writer(self, uri: str | None = None) -> Writer:
        """The writer (and through it the backend) for `uri`, default the configured one."""
        uri = uri or self.settings.resolved_uri()
        writer = self._writers.get(uri)
        if writer is None:
            with self._lock:
                writer = self._writers.get(uri)
                if writer is None:
                    backend = backend_for_uri(uri)
                    # A run hands its backend's URI to child runs: the same store must get
                    # the same writer, not a second one with its own thread.
                    writer = self._writers.get(backend.uri)
                    if writer is None:
                        writer = Writer(
                            backend,
                            flush_interval=self.settings.resolved_flush_interval(),
                            sync=self.settings.resolved_sync(),
                        )
                        self._writers[backend.uri] = writer
                    else:
                        backend.close()
                    self._writers[uri] = writer
        return writer

    def backend(self, uri: str | None = None) -> Backend:
        return self.writer(uri).backend

    def experiment_id(self, name: str, uri: str | None = None) -> str:
        """The id of experiment `name`, without a request where the backend can tell it.

        A backend that derives ids from names (`Backend.local_experiment_id`) creates
        the experiment when it writes the creation of a run that names it, in the
        background: starting a run never waits for the store, nor fails with it.
        Other backends create the experiment here, on first use.
        """
        check_name(name, "experiment name")
        uri = uri or self.settings.resolved_uri()
        key = (uri, name)
        exp_id = self._experiment_ids.get(key)
        if exp_id is None:
            backend = self.backend(uri)
            exp_id = backend.local_experiment_id(name)
            if exp_id is None:
                exp_id = backend.get_or_create_experiment(name).id
            self._experiment_ids[key] = exp_id
        return exp_id

    def all_writers(self) -> list[Writer]:
        with self._lock:
            return list({id(w): w for w in self._writers.values()}.values())

    def flush(self, timeout: float | None = None) -> bool:
        # Every writer is flushed, even after one has failed.
        results = [w.flush(timeout) for w in self.all_writers()]
        return all(results)

    def reset(self) -> None:
        """Close every writer and forget settings (tests use this between cases)."""
        with self._lock:
            for writer in self.all_writers():
                writer.close()
                writer.backend.close()
            self._writers.clear()
            self._experiment_ids.clear()
            self.settings = Settings()


tracking = Tracking()
