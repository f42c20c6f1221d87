"""The model registry: public functions, the store, entities and name rules."""
