"""`set_aside` and `private_numpy_global`: autolog's work draws from copies, never the user's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from autolog._randomness import private_numpy_global, set_aside
from autolog._tracking.runs import _generate_name


def test_set_aside_swaps_each_generator_for_a_copy_and_puts_the_user_one_back() -> None:
    user = np.random.RandomState(7)
    expected = np.random.RandomState(7).random_sample(3)
    forest = RandomForestClassifier(random_state=user)
    dummy = DummyClassifier(random_state=user)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", dummy)])
    search = GridSearchCV(pipe, {"clf__strategy": ["prior"]})
    owner = Pipeline([("forest", forest)])
    for model, held in [(forest, forest), (search, dummy), (owner, forest)]:
        with set_aside(model):
            copy = held.random_state
            assert copy is not user
            copy.random_sample(10)  # autolog's draws go to the copy
        assert held.random_state is user
    assert list(user.random_sample(3)) == list(expected)


def test_objects_that_share_a_generator_share_its_copy() -> None:
    user = np.random.default_rng(1)
    first, second = DummyClassifier(random_state=user), DummyClassifier(random_state=user)
    pipe = Pipeline([("a", first), ("b", second)])
    with set_aside(pipe):
        assert first.random_state is second.random_state is not user
    assert first.random_state is second.random_state is user


def test_set_aside_puts_the_generator_back_when_the_body_raises() -> None:
    user = np.random.RandomState(0)
    model = DummyClassifier(random_state=user)
    with pytest.raises(ValueError, match="boom"), set_aside(model):
        raise ValueError("boom")
    assert model.random_state is user


def test_set_aside_leaves_seeds_and_plain_objects_alone() -> None:
    model = DummyClassifier(random_state=3)
    with set_aside(model), set_aside(None), set_aside(object()), set_aside([1, 2]):
        assert model.random_state == 3


def test_private_numpy_global_nests_and_restores_numpy_global_generator() -> None:
    np.random.seed(3)
    users = np.random.mtrand._rand
    with private_numpy_global(), private_numpy_global():
        assert check_random_state(None) is not users
        check_random_state(None).random_sample(5)  # what scikit-learn draws for autolog
    assert check_random_state(None) is users
    assert np.random.random() == np.random.RandomState(3).random_sample()


def test_run_names_leave_pythons_random_stream_alone() -> None:
    import random

    random.seed(5)
    expected = random.Random(5).random()
    names = {_generate_name() for _ in range(20)}
    assert random.random() == expected
    assert len(names) > 1
