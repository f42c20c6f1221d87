"""The machinery every integration is built on: patching, run placement, enable/disable."""
