"""Integrations, one module per patched library."""
