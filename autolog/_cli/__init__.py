"""The `autolog` command: one module per command group, and their output helpers."""
