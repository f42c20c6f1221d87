"""Child Python processes that log to a test's store (crash, lifecycle and concurrency tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def start_child(
    script: str,
    store: Path,
    cwd: Path,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen[Any]:
    """Run `script` (Python source) in `cwd`, logging to `store`, strict, without context capture.

    `env` adds or overrides variables (`AUTOLOG_FLUSH_INTERVAL`, ...); stdout and stderr
    are pipes.
    """
    path = cwd / "child.py"
    # Children started one after another from the same script: a rewrite would race their reads.
    if not path.exists() or path.read_text() != script:
        path.write_text(script)
    variables = dict(os.environ)
    variables.update(
        {
            "AUTOLOG_TRACKING_URI": str(store),
            "AUTOLOG_DISABLE_CAPTURE": "all",
            "AUTOLOG_STRICT": "1",
            **(env or {}),  # may override the three above
        }
    )
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        cwd=cwd,
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )
