"""`AutologWrapper`: the wrapt `FunctionWrapper` every patch installs.

Its own module so that wrapt, which imports asyncio, loads when the first patch is
installed rather than at `import autolog` or `autolog.enable()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import wrapt

__all__ = ["AutologWrapper"]

if TYPE_CHECKING:
    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
else:  # the runtime class is not subscriptable
    _FunctionWrapper = wrapt.FunctionWrapper


class AutologWrapper(_FunctionWrapper):
    """A wrapper installed by autolog (told apart from other libraries' wrappers)."""
