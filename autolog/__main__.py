"""`python -m autolog`: the same as the `autolog` command."""

from __future__ import annotations

import sys

from autolog._cli.main import main

sys.exit(main())
