"""The run API and what carries it to a store: runs, the writer, settings, lifecycle, context."""
