"""The one parser of runs:/ and models:/ URIs, used by load_model, the registry and the CLI."""

from __future__ import annotations

import pytest

import autolog
from autolog._models.uris import parse_models_uri, parse_runs_uri
from autolog.errors import InvalidKeyError

RUN = "0123456789abcdef0123456789abcdef"


def test_runs_uri_parts_and_a_trailing_slash() -> None:
    assert parse_runs_uri(f"runs:/{RUN}/model") == (RUN, "model")
    assert parse_runs_uri(f"runs:/{RUN}/nested/model/") == (RUN, "nested/model")


@pytest.mark.parametrize(
    "uri", [f"runs:/{RUN}", f"runs:/{RUN}/", f"runs:/{RUN}/../x", "runs:/bad id/model", "x"]
)
def test_bad_runs_uris_are_refused_alike_by_load_and_register(uri: str) -> None:
    with pytest.raises(InvalidKeyError) as parsed:
        parse_runs_uri(uri)
    if uri.startswith("runs:/"):
        with pytest.raises(InvalidKeyError) as loaded:
            autolog.load_model(uri)
        assert str(loaded.value) == str(parsed.value)
    with pytest.raises(InvalidKeyError) as registered:
        autolog.register_model(uri, "churn")
    assert str(registered.value) == str(parsed.value)


def test_models_uri_forms() -> None:
    assert parse_models_uri("models:/churn/3") == ("churn", 3, None)
    assert parse_models_uri("models:/churn/latest") == ("churn", None, None)
    assert parse_models_uri("models:/churn@prod") == ("churn", None, "prod")
    with pytest.raises(InvalidKeyError, match="models:/churn@production"):
        parse_models_uri("models:/churn/Production")
