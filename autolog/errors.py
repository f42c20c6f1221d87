"""Exceptions raised by autolog's public API.

Every message names the bad value, what was expected and the fix.

    AutologError
    ├── InvalidInputError (also a ValueError)
    │   ├── InvalidKeyError         a metric/param/tag key, name or path that is not allowed
    │   ├── InvalidValueError       a value of the wrong type or range
    │   ├── ParamConflictError      a param re-logged with a different value
    │   ├── FilterSyntaxError       a search filter or order-by that does not parse
    │   └── UnknownSchemeError      a tracking URI whose scheme no backend handles
    ├── NotFoundError (also a LookupError)
    │   ├── RunNotFoundError
    │   ├── ExperimentNotFoundError
    │   ├── ArtifactNotFoundError
    │   └── ModelNotFoundError
    ├── NoActiveRunError            a call that needs an active run found none
    ├── IntegrationNotEnabled       an integration whose library is missing or unsupported
    ├── ModelIntegrityError         a model file whose sha256 does not match its metadata
    ├── MissingDependencyError (also an ImportError)
    │                               an optional package a feature needs is not installed
    ├── StoreError                  the store failed (disk, network, permissions)
    └── ReproductionError           a run's code, data or environment could not be rebuilt
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "AutologError",
    "ExperimentNotFoundError",
    "FilterSyntaxError",
    "IntegrationNotEnabled",
    "InvalidInputError",
    "InvalidKeyError",
    "InvalidValueError",
    "MissingDependencyError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "NoActiveRunError",
    "NotFoundError",
    "ParamConflictError",
    "ReproductionError",
    "RunNotFoundError",
    "StoreError",
    "UnknownSchemeError",
]


class AutologError(Exception):
    """Base class of every exception autolog raises."""


class InvalidInputError(AutologError, ValueError):
    """Bad input to a public function."""


class InvalidKeyError(InvalidInputError):
    """A key, name, run id or path that is not allowed."""


class InvalidValueError(InvalidInputError):
    """A value of the wrong type or out of range."""


class ParamConflictError(InvalidInputError):
    """A param was logged again with a different value; params are immutable."""


class FilterSyntaxError(InvalidInputError):
    """A search filter or order-by clause that does not parse."""


class UnknownSchemeError(InvalidInputError):
    """A tracking URI whose scheme no registered backend handles."""


class NotFoundError(AutologError, LookupError):
    """Something named by the caller does not exist in the store."""


class RunNotFoundError(NotFoundError):
    """No run with that id."""


class ExperimentNotFoundError(NotFoundError):
    """No experiment with that name or id."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact at that path."""


class ModelNotFoundError(NotFoundError):
    """No model, registered model, version or alias by that name."""


class NoActiveRunError(AutologError):
    """A call that needs an active run found none."""


class IntegrationNotEnabled(AutologError):  # not "...Error": named after what the user sees
    """An integration cannot be enabled: its library is missing or of an unsupported version."""


class ModelIntegrityError(AutologError):
    """A model file is missing or its sha256 differs from the one recorded at save time."""


class MissingDependencyError(AutologError, ImportError):
    """An optional package that a feature needs (boto3 for s3:// URIs) cannot be imported."""


class StoreError(AutologError):
    """The store failed: a disk, permission or network error."""


class ReproductionError(AutologError):
    """A run's code, data or environment could not be rebuilt (a checkout, a diff, a package)."""
