"""Storage backends, one module per kind of store, chosen by tracking-URI scheme."""
