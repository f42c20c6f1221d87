"""Keeping autolog's own errors away from user code.

Everything autolog does around a user's call runs inside
`capture_internal_errors()`: an exception there is logged once as a warning
and swallowed, so the user's program goes on as if autolog were not there.
With `AUTOLOG_STRICT=1` (the test suite sets it) the same exception is raised
instead, so that no bug hides behind the guard.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["capture_internal_errors", "is_strict", "raised_in_background", "swallowed"]

logger = logging.getLogger("autolog")

_warned: set[str] = set()
_warned_lock = threading.Lock()
# Every error swallowed in this process, newest last (bounded); tests read it.
swallowed: list[BaseException] = []
# In strict mode, the errors raised in autolog's own threads (the writer retries what
# raised, as it does a failed write, so they would only show as a slow flush); tests read it.
raised_in_background: list[str] = []


def is_strict() -> bool:
    return os.environ.get("AUTOLOG_STRICT", "") in ("1", "true", "yes")


def report_internal_error(exc: BaseException, where: str) -> None:
    """Log `exc` once per place and kind as a warning, or raise it in strict mode."""
    if is_strict():
        if (
            threading.current_thread().name.startswith("autolog-")
            and len(raised_in_background) < 1000
        ):
            raised_in_background.append(f"{where}: {type(exc).__name__}: {exc}")
        raise exc
    if len(swallowed) < 1000:
        swallowed.append(exc)
    signature = f"{where}:{type(exc).__name__}"
    with _warned_lock:
        first = signature not in _warned
        _warned.add(signature)
    if first:
        logger.warning(
            "autolog: internal error in %s, ignored so that your program is not affected"
            " (set AUTOLOG_STRICT=1 to raise it): %s: %s",
            where,
            type(exc).__name__,
            exc,
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
    else:
        logger.debug("autolog: internal error in %s again: %r", where, exc)


@contextmanager
def capture_internal_errors(where: str = "autolog") -> Iterator[None]:
    """Run the body; log and swallow any Exception it raises (raise it in strict mode)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the whole point: never break user code
        report_internal_error(exc, where)
