"""The server's artifact directory: a LocalObjectStore that never follows a link out of its root.

Keys are built by the server from validated run ids and paths, so they cannot name a
place outside the store; a symbolic link placed inside the store could still point
outside it (at /etc, at another store). Every path is resolved and refused unless it
stays under the root.
"""

from __future__ import annotations

import os
from pathlib import Path

from autolog.backends.file import LocalObjectStore
from autolog.errors import InvalidKeyError

__all__ = ["ConfinedObjectStore"]


class ConfinedObjectStore(LocalObjectStore):
    """A directory store that refuses every key resolving outside its root."""

    def _path(self, key: str) -> Path:
        path = super()._path(key)
        real = Path(os.path.realpath(path))
        if real != self.root and self.root not in real.parents:
            raise InvalidKeyError(
                f"object key {key!r} leads out of the artifact store through a symbolic link;"
                " the server refuses it"
            )
        return path
