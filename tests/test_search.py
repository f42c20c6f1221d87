"""Tests of the search grammar (autolog._search): the query tree, matching and ordering."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

import autolog
from autolog._entities import Run, RunStatus
from autolog._search import Clause, Field, Order, Query, parse_orders, parse_query, sort_runs
from autolog.errors import FilterSyntaxError, InvalidInputError, InvalidValueError


def make_run(run_id: str, **kw: Any) -> Run:
    """Build a Run with harmless defaults for every field not given."""
    fields: dict[str, Any] = {
        "name": run_id,
        "experiment": "default",
        "experiment_id": "0",
        "status": RunStatus.FINISHED,
        "start_time": 1_000,
        "end_time": 2_000,
        "parent_id": None,
    }
    fields.update(kw)
    return Run(id=run_id, **fields)


RUNS = [
    make_run(
        "a1",
        name="baseline",
        experiment="housing",
        experiment_id="7",
        start_time=1_000,
        end_time=5_000,
        params={"alpha": "0.5", "model": "xgb-large", "clf.C": "1.0", "n": "10", "q": "it's"},
        metrics={"rmse": 0.3, "val-loss": 0.2, "train/loss": 0.1, "a:b": 1.0},
        tags={"model type": "tree", "team": "ml", "note": "50% off"},
    ),
    make_run(
        "b2",
        name="tuned",
        status=RunStatus.RUNNING,
        start_time=3_000,
        end_time=None,
        parent_id="a1",
        params={"alpha": "0.05", "model": "linear", "n": "9"},
        metrics={"rmse": 0.7, "val-loss": -1e-3},
        tags={"team": "ML", "note": "500 off"},
    ),
    make_run(
        "c3",
        name="Tuned-2",
        status=RunStatus.FAILED,
        start_time=2_000,
        end_time=2_500,
        params={"alpha": "abc"},
    ),
]


def ids(text: str | None, runs: list[Run] = RUNS) -> set[str]:
    """Return the ids of the runs that the filter `text` keeps."""
    query = parse_query(text)
    return {run.id for run in runs if query.matches(run)}


def order(clauses: Any, runs: list[Run] = RUNS) -> list[str]:
    """Return the run ids in the order the order-by `clauses` give."""
    return [run.id for run in sort_runs(runs, parse_orders(clauses))]


def syntax_error(call: Callable[[], object]) -> str:
    """Return the message of the FilterSyntaxError that `call` raises."""
    with pytest.raises(FilterSyntaxError) as info:
        call()
    return str(info.value)


def assert_points_at(message: str, source: str, pos: int) -> None:
    """Check that `message` quotes `source`, names `pos` and puts a caret under it."""
    lines = message.splitlines()
    assert repr(source) in lines[0]
    assert f"at position {pos}:" in lines[0]
    assert lines[-2] == "    " + source
    assert lines[-1] == " " * (4 + pos) + "^"


# --- filter: empty and operators ---------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_keeps_every_run(text: str | None) -> None:
    assert ids(text) == {"a1", "b2", "c3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.rmse = 0.3", {"a1"}),
        ("metrics.rmse == 0.3", {"a1"}),
        ("metrics.rmse != 0.3", {"b2"}),
        ("metrics.rmse < 0.7", {"a1"}),
        ("metrics.rmse <= 0.7", {"a1", "b2"}),
        ("metrics.rmse > 0.3", {"b2"}),
        ("metrics.rmse >= 0.3", {"a1", "b2"}),
        ("metrics.rmse IN (0.3, 0.9)", {"a1"}),
        ("metrics.rmse NOT IN (0.3, 0.9)", {"b2"}),
        ("metrics.rmse IS NULL", {"c3"}),
        ("metrics.rmse IS NOT NULL", {"a1", "b2"}),
        ("metrics.rmse<0.5", {"a1"}),
        ("metrics.rmse>=.7", {"b2"}),
    ],
)
def test_metric_operators(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.`val-loss` < 0", {"b2"}),
        ("metrics.`val-loss` = -1e-3", {"b2"}),
        ("metrics.`val-loss` = -0.001", {"b2"}),
        ("metrics.`val-loss` > -1E-3", {"a1"}),
        ("metrics.`val-loss` = +0.2", {"a1"}),
        ("metrics.`val-loss` = 2e-1", {"a1"}),
        ("metrics.`a:b` = 1", {"a1"}),
        ("metrics.`a:b` = 1.", {"a1"}),
    ],
)
def test_number_literals(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.model = 'linear'", {"b2"}),
        ('params.model = "linear"', {"b2"}),
        ("params.model != 'linear'", {"a1"}),
        ("params.model LIKE 'xgb%'", {"a1"}),
        ("params.model LIKE 'XGB%'", set()),
        ("params.model ILIKE 'XGB%'", {"a1"}),
        ("params.model NOT LIKE 'xgb%'", {"b2"}),
        ("params.model NOT ILIKE 'XGB%'", {"b2"}),
        ("params.model LIKE 'xgb'", set()),
        ("params.model LIKE '%large'", {"a1"}),
        ("params.model LIKE 'l_near'", {"b2"}),
        ("params.model LIKE 'l_ear'", set()),
        ("params.model IN ('linear', 'svm')", {"b2"}),
        ("params.model IN ('linear')", {"b2"}),
        ("params.model NOT IN ('linear', 'svm')", {"a1"}),
        ("params.model IS NULL", {"c3"}),
        ("params.model IS NOT NULL", {"a1", "b2"}),
    ],
)
def test_param_string_operators(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.team = 'ml'", {"a1"}),
        ("tags.team ILIKE 'ml'", {"a1", "b2"}),
        ("tags.team IN ('ML')", {"b2"}),
        (r"tags.note LIKE '50\% off'", {"a1"}),
        ("tags.note LIKE '50% off'", {"a1", "b2"}),
        ("tags.note LIKE '5_ off'", set()),
        ("tags.team > 'MZ'", {"a1"}),
        ("tags.team IS NULL", {"c3"}),
    ],
)
def test_tag_operators(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


def test_like_treats_regex_characters_literally() -> None:
    runs = [make_run("x", params={"p": "a.b(c)*"}), make_run("y", params={"p": "axb(c)"})]
    assert ids("params.p LIKE 'a.b(c)*'", runs) == {"x"}
    assert ids("params.p LIKE 'a.b%'", runs) == {"x"}


def test_like_matches_across_newlines() -> None:
    runs = [make_run("x", tags={"note": "line one\nline two"})]
    assert ids("tags.note LIKE 'line%two'", runs) == {"x"}


# --- prefixes, keys and quoting -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "metrics.rmse < 0.5",
        "metric.rmse < 0.5",
        "METRICS.rmse < 0.5",
        "params.alpha = '0.5'",
        "param.alpha = '0.5'",
        "tags.team = 'ml'",
        "tag.team = 'ml'",
        "attributes.name = 'baseline'",
        "attribute.name = 'baseline'",
        "attr.name = 'baseline'",
        "name = 'baseline'",
        "Attr.NAME = 'baseline'",
    ],
)
def test_prefixes_and_aliases(text: str) -> None:
    assert ids(text) == {"a1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.`val-loss` < 0", {"b2"}),
        ('metrics."val-loss" < 0', {"b2"}),
        ("tags.`model type` = 'tree'", {"a1"}),
        ('tags."model type" = "tree"', {"a1"}),
        ("metrics.train/loss = 0.1", {"a1"}),
        ("metrics.a:b = 1", {"a1"}),
        ("params.clf.C = '1.0'", {"a1"}),
        ("params.`clf.C` = '1.0'", {"a1"}),
        ("params.clf IS NULL", {"a1", "b2", "c3"}),
        ("metrics.`rmse` = 0.3", {"a1"}),
    ],
)
def test_key_quoting(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


def test_quoted_key_with_escaped_quote() -> None:
    runs = [make_run("x", metrics={'say "hi"': 1.0}), make_run("y", metrics={"say": 1.0})]
    assert ids(r'metrics."say \"hi\"" = 1', runs) == {"x"}


@pytest.mark.parametrize(
    "text",
    [
        r"params.q = 'it\'s'",
        'params.q = "it\'s"',
        "params.q IN ('x', 'it\\'s')",
    ],
)
def test_string_escapes(text: str) -> None:
    assert ids(text) == {"a1"}


def test_backslash_before_other_characters_is_kept() -> None:
    runs = [make_run("x", params={"path": r"C:\tmp\\x"})]
    assert ids(r"params.path = 'C:\tmp\\\\x'", runs) == {"x"}


# --- params: numeric against string comparison -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "10" > "9" is false as strings but true as numbers.
        ("params.n > 9", {"a1"}),
        ("params.n > '9'", {"a1"}),
        ("params.n >= 9", {"a1", "b2"}),
        ("params.n < 10", {"b2"}),
        ("params.n <= '10.0'", {"a1", "b2"}),
        # "abc" is not a number, so it is compared as a string and 'abc' > '0.1'.
        ("params.alpha > 0.1", {"a1", "c3"}),
        ("params.alpha < 0.1", {"b2"}),
        ("params.alpha < 'b'", {"a1", "b2", "c3"}),
    ],
)
def test_param_ordering_is_numeric_when_both_sides_are_numbers(
    text: str, expected: set[str]
) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.alpha = 0.5", {"a1"}),
        ("params.alpha = 0.50", set()),
        ("params.alpha = '0.50'", set()),
        ("params.n IN (10, 11)", {"a1"}),
        ("params.n != 10", {"b2"}),
    ],
)
def test_param_equality_compares_text(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


# --- missing keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.rmse != 99", {"a1", "b2"}),
        ("params.model != 'nothing'", {"a1", "b2"}),
        ("params.model NOT IN ('nothing')", {"a1", "b2"}),
        ("params.model NOT LIKE 'nothing'", {"a1", "b2"}),
        ("params.model NOT ILIKE 'nothing'", {"a1", "b2"}),
        ("params.model LIKE '%'", {"a1", "b2"}),
        ("tags.nothing < 'z'", set()),
        ("tags.nothing IS NULL", {"a1", "b2", "c3"}),
        ("metrics.nothing IS NOT NULL", set()),
    ],
)
def test_missing_keys_match_only_is_null(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


# --- attributes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id = 'a1'", {"a1"}),
        ("run_id = 'b2'", {"b2"}),
        ("attributes.run_id IN ('a1', 'c3')", {"a1", "c3"}),
        ("name = 'tuned'", {"b2"}),
        ("run_name LIKE 'tuned%'", {"b2"}),
        ("run_name ILIKE 'tuned%'", {"b2", "c3"}),
        ("status = 'FINISHED'", {"a1"}),
        ("status = 'finished'", {"a1"}),
        ("status != 'Running'", {"a1", "c3"}),
        ("status IN ('failed', 'killed')", {"c3"}),
        ("status NOT IN ('failed', 'killed')", {"a1", "b2"}),
        ("status LIKE 'fin%'", {"a1"}),
        ("start_time > 1000", {"b2", "c3"}),
        ("start_time >= 1e3", {"a1", "b2", "c3"}),
        ("attributes.start_time = 2000", {"c3"}),
        ("end_time IS NULL", {"b2"}),
        ("end_time < 3000", {"c3"}),
        ("duration > 1", {"a1"}),
        ("duration = 0.5", {"c3"}),
        ("duration IS NULL", {"b2"}),
        ("duration != 0.5", {"a1"}),
        ("experiment = 'housing'", {"a1"}),
        ("experiment_id = '7'", {"a1"}),
        ("experiment_id = 7", {"a1"}),
        ("parent_id = 'a1'", {"b2"}),
        ("parent_id IS NULL", {"a1", "c3"}),
        ("parent_id IS NOT NULL", {"b2"}),
        ("parent_id != 'zz'", {"b2"}),
    ],
)
def test_attributes(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


# --- combining clauses and keywords -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.rmse < 1 AND params.model = 'linear'", {"b2"}),
        ("metrics.rmse < 1 and params.model = 'linear'", {"b2"}),
        ("metrics.rmse < 1 aNd status = 'finished' AND tags.team = 'ml'", {"a1"}),
        ("params.alpha IS NOT NULL and metrics.rmse IS NULL", {"c3"}),
        ("metrics.rmse < 1 AND metrics.rmse > 1", set()),
        ("params.model like 'xgb%' and params.n not in ('1')", {"a1"}),
        ("params.model is not null AND params.model ilike 'LIN%'", {"b2"}),
        ("  metrics.rmse\n<\t0.5  ", {"a1"}),
    ],
)
def test_and_and_case_insensitive_keywords(text: str, expected: set[str]) -> None:
    assert ids(text) == expected


def test_parsed_query_is_reusable() -> None:
    query = parse_query("metrics.rmse < 0.5")
    assert [query.matches(run) for run in RUNS] == [True, False, False]
    assert [query.matches(run) for run in RUNS] == [True, False, False]


# --- filter errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pos", "fragments"),
    [
        (
            "metrics.rmse abc",
            13,
            ["'abc'", "expected a comparison operator such as '<' or '=' after 'metrics.rmse'"],
        ),
        ("metrics.rmse", 12, ["comparison operator", "end of the filter"]),
        ("metrics.rmse < ", 15, ["a quoted string or a number after '<'", "end of the filter"]),
        ("metrics.rmse < 1 AND", 20, ["expected a name such as 'metrics.rmse'"]),
        ("metrics.rmse < 1 params.a = '1'", 17, ["'params.a'", "expected AND"]),
        ("params.a = b", 11, ["'b'", "quote it as 'b'"]),
        ("params.a = 'abc", 11, ["unterminated string", '"\'abc"', "closing '"]),
        ('params.a = "abc', 11, ["unterminated string", 'closing "']),
        ("metrics.`val-loss < 1", 8, ["unterminated string", "closing `"]),
        ("metrics. < 1", 8, ["expected a key after 'metrics.'"]),
        ("metrics.`` < 1", 10, ["expected a key after 'metrics.``'"]),
        ("metrics.rmse @ 1", 13, ["unexpected character '@'"]),
        ("metrics.rmse ! 1", 13, ["unexpected character '!'"]),
        ("metrics.rmse < 1; drop", 16, ["unexpected character ';'"]),
        ("metrics.rmse < 1.2.3", 15, ["malformed number '1.2.3'"]),
        ("metrics.rmse < 5abc", 15, ["malformed number '5abc'"]),
        ("metrics.rmse < 1e", 15, ["malformed number '1e'"]),
        ("params.a IN 1", 12, ["expected '(' after IN", "'1'"]),
        ("params.a NOT IN 'x'", 16, ["expected '(' after NOT IN", "\"'x'\""]),
        ("params.a IN ()", 13, ["a quoted string or a number after '('", "')'"]),
        ("params.a IN ('x' 'y')", 17, ["expected ',' or ')' in the IN list", "\"'y'\""]),
        ("params.a IN ('x',", 17, ["a quoted string or a number after ','", "end of the filter"]),
        ("params.a IN ('x'", 16, ["expected ',' or ')'", "end of the filter"]),
        ("params.a IS 'x'", 12, ["expected NULL after IS", "\"'x'\""]),
        ("params.a IS NOT 5", 16, ["expected NULL after IS NOT", "'5'"]),
        ("params.a NOT = 'x'", 13, ["expected LIKE, ILIKE or IN after NOT", "'='"]),
        ("params.a LIKE", 13, ["a quoted string or a number after 'LIKE'"]),
        ("= 1", 0, ["expected a name such as", "'='"]),
        ("AND metrics.a = 1", 0, ["expected a name such as", "'AND'"]),
        ("'x' = 1", 0, ["expected a name such as", "\"'x'\""]),
        ("(metrics.a = 1)", 0, ["expected a name such as", "'('"]),
    ],
)
def test_filter_syntax_errors_point_at_the_bad_token(
    text: str, pos: int, fragments: list[str]
) -> None:
    message = syntax_error(lambda: parse_query(text))
    assert_points_at(message, text, pos)
    for fragment in fragments:
        assert fragment in message


def test_or_is_refused_with_advice() -> None:
    text = "metrics.rmse < 0.5 or params.model = 'linear'"
    message = syntax_error(lambda: parse_query(text))
    assert_points_at(message, text, 19)
    assert "OR is not supported" in message
    assert "search" in message
    assert "OR is not supported" in syntax_error(
        lambda: parse_query("status = 'failed' OR id = 'x'")
    )


def test_unknown_attribute_lists_the_valid_ones() -> None:
    message = syntax_error(lambda: parse_query("metrics.a < 1 AND colour = 'red'"))
    assert_points_at(message, "metrics.a < 1 AND colour = 'red'", 18)
    assert "unknown attribute 'colour'" in message
    for name in ("id", "run_id", "name", "run_name", "status", "start_time", "end_time"):
        assert name in message
    for name in ("duration", "experiment", "experiment_id", "parent_id"):
        assert name in message
    assert "metrics.colour" in message


def test_unknown_attribute_after_prefix_and_typo_hint() -> None:
    message = syntax_error(lambda: parse_query("attributes.stauts = 'FINISHED'"))
    assert "unknown attribute 'stauts'" in message
    assert "did you mean 'status'" in message
    assert_points_at(message, "attributes.stauts = 'FINISHED'", 0)


def test_unknown_prefix_suggests_the_closest() -> None:
    message = syntax_error(lambda: parse_query("metrcs.rmse < 1"))
    assert "unknown prefix 'metrcs'" in message
    assert "did you mean 'metrics'" in message
    assert_points_at(message, "metrcs.rmse < 1", 0)


def test_string_value_for_a_metric_names_the_clause() -> None:
    text = "params.a = '1' AND metrics.rmse < '0.5'"
    message = syntax_error(lambda: parse_query(text))
    assert_points_at(message, text, 34)
    assert "metric 'rmse' is numeric" in message
    assert "clause \"metrics.rmse < '0.5'\"" in message
    assert "without quotes" in message


@pytest.mark.parametrize(
    ("text", "pos"),
    [
        ("start_time > 'yesterday'", 13),
        ("duration IN (1, '2')", 16),
        ("metrics.a NOT IN ('x')", 18),
    ],
)
def test_string_value_for_numeric_field(text: str, pos: int) -> None:
    message = syntax_error(lambda: parse_query(text))
    assert_points_at(message, text, pos)
    assert "is numeric" in message


@pytest.mark.parametrize("op", ["LIKE", "ILIKE", "NOT LIKE"])
def test_like_on_a_numeric_field_is_refused(op: str) -> None:
    text = f"metrics.rmse {op} '0.%'"
    message = syntax_error(lambda: parse_query(text))
    assert_points_at(message, text, 13)
    assert "compares strings" in message


def test_unknown_status_lists_the_statuses() -> None:
    message = syntax_error(lambda: parse_query("status = 'done'"))
    assert_points_at(message, "status = 'done'", 9)
    for status in ("RUNNING", "FINISHED", "FAILED", "KILLED"):
        assert status in message


def test_unquoted_key_with_dash_suggests_quoting() -> None:
    message = syntax_error(lambda: parse_query("metrics.val-loss < 1"))
    assert_points_at(message, "metrics.val-loss < 1", 11)
    assert "metrics.`val-loss`" in message


def test_caret_stays_aligned_when_the_filter_holds_newlines() -> None:
    text = "metrics.rmse < 1\nAND x"
    message = syntax_error(lambda: parse_query(text))
    lines = message.splitlines()
    assert lines[-2] == "    metrics.rmse < 1 AND x"
    assert lines[-1] == " " * (4 + 21) + "^"


def test_filter_errors_are_invalid_input_errors() -> None:
    with pytest.raises(InvalidInputError):
        parse_query("metrics.rmse <")
    with pytest.raises(ValueError, match="position"):
        parse_query("metrics.rmse <")


def test_non_string_filter_is_an_invalid_value() -> None:
    with pytest.raises(InvalidValueError, match="expected a str"):
        parse_query(42)  # type: ignore[arg-type]


# --- order by -----------------------------------------------------------------------------


def test_default_order_is_newest_first_then_id() -> None:
    runs = [
        make_run("b", start_time=10),
        make_run("c", start_time=30),
        make_run("a", start_time=10),
        make_run("d", start_time=20),
    ]
    assert order(None, runs) == ["c", "d", "a", "b"]
    assert order([], runs) == ["c", "d", "a", "b"]
    assert order(None) == ["b2", "c3", "a1"]


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ("metrics.rmse", ["a1", "b2", "c3"]),
        ("metrics.rmse ASC", ["a1", "b2", "c3"]),
        ("metrics.rmse asc", ["a1", "b2", "c3"]),
        ("metrics.rmse DESC", ["b2", "a1", "c3"]),
        ("metrics.rmse desc", ["b2", "a1", "c3"]),
        (["metrics.rmse DESC"], ["b2", "a1", "c3"]),
        (("metric.rmse",), ["a1", "b2", "c3"]),
        ("start_time", ["a1", "c3", "b2"]),
        ("start_time DESC", ["b2", "c3", "a1"]),
        ("attributes.name", ["c3", "a1", "b2"]),
        ("run_name DESC", ["b2", "a1", "c3"]),
        ("status", ["c3", "a1", "b2"]),
        ("end_time DESC", ["a1", "c3", "b2"]),
        ("duration", ["c3", "a1", "b2"]),
        ("parent_id", ["b2", "c3", "a1"]),
        ("tags.team", ["b2", "a1", "c3"]),
        ("tags.`model type` DESC", ["a1", "b2", "c3"]),
    ],
)
def test_order_by_single_key(clauses: Any, expected: list[str]) -> None:
    assert order(clauses) == expected


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_missing_values_sort_last_in_both_directions(direction: str) -> None:
    runs = [
        make_run("none1", start_time=5),
        make_run("low", metrics={"m": 1.0}),
        make_run("none2", start_time=4),
        make_run("high", metrics={"m": 2.0}),
        make_run("nan", metrics={"m": math.nan}, start_time=3),
    ]
    got = order(f"metrics.m {direction}", runs)
    assert got[:2] == (["low", "high"] if direction == "ASC" else ["high", "low"])
    # The three without a usable value keep the default order among themselves.
    assert got[2:] == ["none1", "none2", "nan"]


def test_params_sort_numerically_when_all_present_values_are_numbers() -> None:
    runs = [
        make_run("ten", params={"n": "10"}),
        make_run("nine", params={"n": "9"}),
        make_run("none"),
        make_run("small", params={"n": "1e-3"}),
    ]
    assert order("params.n", runs) == ["small", "nine", "ten", "none"]
    assert order("params.n DESC", runs) == ["ten", "nine", "small", "none"]


def test_params_sort_as_strings_when_any_value_is_not_a_number() -> None:
    runs = [
        make_run("ten", params={"n": "10"}),
        make_run("nine", params={"n": "9"}),
        make_run("word", params={"n": "auto"}),
    ]
    assert order("params.n", runs) == ["ten", "nine", "word"]
    assert order("params.alpha") == ["b2", "a1", "c3"]


def test_nan_text_param_does_not_scramble_the_sort() -> None:
    runs = [
        make_run("b", params={"x": "b"}),
        make_run("nan", params={"x": "nan"}),
        make_run("a", params={"x": "a"}),
        make_run("two", params={"x": "2"}),
    ]
    assert order("params.x", runs) == ["two", "a", "b", "nan"]
    numbers = [make_run(n, params={"x": n}) for n in ("3", "10", "-1", "inf")]
    assert order("params.x", numbers) == ["-1", "3", "10", "inf"]


def test_multi_key_order() -> None:
    runs = [
        make_run("r1", params={"model": "svm"}, metrics={"acc": 0.8}),
        make_run("r2", params={"model": "tree"}, metrics={"acc": 0.9}),
        make_run("r3", params={"model": "svm"}, metrics={"acc": 0.9}),
        make_run("r4", metrics={"acc": 0.95}),
        make_run("r5", params={"model": "tree"}, metrics={"acc": 0.7}),
        make_run("r6", params={"model": "svm"}),
    ]
    assert order(["params.model", "metrics.acc DESC"], runs) == [
        "r3",
        "r1",
        "r6",
        "r2",
        "r5",
        "r4",
    ]
    assert order(["metrics.acc DESC", "params.model DESC"], runs) == [
        "r4",
        "r2",
        "r3",
        "r1",
        "r5",
        "r6",
    ]


def test_ties_fall_back_to_the_default_order() -> None:
    runs = [
        make_run("b", start_time=1, metrics={"m": 1.0}),
        make_run("a", start_time=1, metrics={"m": 1.0}),
        make_run("c", start_time=2, metrics={"m": 1.0}),
    ]
    assert order("metrics.m", runs) == ["c", "a", "b"]


def test_order_by_returns_a_new_list_and_leaves_input_alone() -> None:
    runs = list(RUNS)
    result = sort_runs(runs, parse_orders("metrics.rmse DESC"))
    assert runs == RUNS
    assert result is not runs
    assert sort_runs((), parse_orders("metrics.rmse")) == []


@pytest.mark.parametrize(
    ("clause", "pos", "fragments"),
    [
        ("metrics.rmse DOWN", 13, ["'DOWN'", "ASC, DESC or nothing after 'metrics.rmse'"]),
        ("metrics.rmse ASC DESC", 17, ["'DESC'"]),
        ("metrics.rmse, params.a", 12, ["','", "pass several clauses as a list"]),
        ("colour DESC", 0, ["unknown attribute 'colour'", "start_time"]),
        ("DESC", 0, ["expected a name such as", "'DESC'"]),
        ("", 0, ["expected a name such as", "end of the order_by clause"]),
        ("metrcs.rmse", 0, ["unknown prefix 'metrcs'"]),
        ("metrics.`rmse", 8, ["unterminated string"]),
        ("metrics.rmse < 1", 13, ["'<'"]),
    ],
)
def test_order_by_errors(clause: str, pos: int, fragments: list[str]) -> None:
    message = syntax_error(lambda: parse_orders(["start_time", clause]))
    assert_points_at(message, clause, pos)
    assert message.startswith("invalid order_by clause")
    for fragment in fragments:
        assert fragment in message


def test_order_by_clause_of_wrong_type() -> None:
    with pytest.raises(InvalidValueError, match="expected a str"):
        parse_orders([("metrics.rmse", "DESC")])  # type: ignore[list-item]


# --- the tree -----------------------------------------------------------------------------


def test_filter_parses_into_the_query_tree() -> None:
    text = (
        "metrics.rmse < 0.5 and params.model LIKE 'xgb%' and status = 'finished'"
        " and tags.`model type` IN ('tree', 'forest') and run_id IS NOT NULL"
        " and attr.duration >= 2 and tags.team NOT ILIKE 'ml'"
    )
    assert parse_query(text) == Query(
        (
            Clause(Field("metric", "rmse", "number"), "<", (0.5,)),
            Clause(Field("param", "model", "text"), "LIKE", ("xgb%",)),
            Clause(Field("attribute", "status", "status"), "=", ("FINISHED",)),
            Clause(Field("tag", "model type", "text"), "IN", ("tree", "forest")),
            Clause(Field("attribute", "id", "text"), "IS NOT NULL", ()),
            Clause(Field("attribute", "duration", "number"), ">=", (2.0,)),
            Clause(Field("tag", "team", "text"), "NOT ILIKE", ("ml",)),
        )
    )


def test_unquoted_numbers_for_text_fields_keep_their_text() -> None:
    (clause,) = parse_query("params.n = 1.50").clauses
    assert clause.values == ("1.50",)
    assert parse_query("params.n = 10").clauses[0].values == ("10",)


@pytest.mark.parametrize("text", [None, "", "  "])
def test_empty_filter_is_the_empty_query(text: str | None) -> None:
    assert parse_query(text) == Query()
    assert all(Query().matches(run) for run in RUNS)


def test_orders_end_with_the_default_tie_breakers() -> None:
    defaults = (
        Order(Field("attribute", "start_time", "number"), descending=True),
        Order(Field("attribute", "id", "text")),
    )
    assert parse_orders(None) == defaults
    assert parse_orders("metrics.rmse DESC") == (
        Order(Field("metric", "rmse", "number"), descending=True),
        *defaults,
    )
    assert parse_orders(["name", "params.a asc"]) == (
        Order(Field("attribute", "name", "text")),
        Order(Field("param", "a", "text")),
        *defaults,
    )


def test_a_query_built_by_hand_matches_as_a_parsed_one() -> None:
    built = Query((Clause(Field("param", "alpha", "text"), ">", ("0.1",)),))
    assert built == parse_query("params.alpha > '0.1'")
    assert {r.id for r in RUNS if built.matches(r)} == {"a1", "c3"}


# --- search_runs --------------------------------------------------------------------------


def _log(name: str, rmse: float | None, alpha: str, fail: bool = False) -> None:
    with autolog.start_run(name=name) as run:
        run.log_param("alpha", alpha)
        if rmse is not None:
            run.log_metric("rmse", rmse)
        if fail:
            run.end("FAILED")


def test_search_runs_filters_orders_and_truncates() -> None:
    _log("a", 0.3, "0.5")
    _log("b", 0.7, "0.05")
    _log("c", None, "abc", fail=True)
    result = autolog.search_runs(
        filter="params.alpha IS NOT NULL", order_by="params.alpha DESC", max_results=2
    )
    assert [run.name for run in result] == ["c", "a"]
    # Runs started within one millisecond tie on start_time, so these order by name.
    assert [r.name for r in autolog.search_runs(order_by="name DESC")] == ["c", "b", "a"]
    positive = autolog.search_runs(filter="metrics.rmse > 0", order_by="name DESC")
    assert [r.name for r in positive] == ["b", "a"]
    assert [r.name for r in autolog.search_runs(status="failed")] == ["c"]
    finished = autolog.search_runs(filter="metrics.rmse < 1", status="FINISHED", order_by="name")
    assert [r.name for r in finished] == ["a", "b"]


@pytest.mark.parametrize("max_results", [1, 2, 3, 100])
def test_search_runs_max_results(max_results: int) -> None:
    for i in range(3):
        _log(f"r{i}", float(i), "1")
    everything = autolog.search_runs()
    assert len(everything) == 3
    assert autolog.search_runs(max_results=max_results) == everything[:max_results]


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.5, "3"])
def test_search_runs_rejects_bad_max_results(bad: Any) -> None:
    with pytest.raises(InvalidValueError) as info:
        autolog.search_runs(max_results=bad)
    message = str(info.value)
    assert f"max_results={bad!r}" in message
    assert "positive int" in message
    assert "None" in message


def test_search_runs_reports_syntax_errors_even_without_runs() -> None:
    with pytest.raises(FilterSyntaxError, match="position"):
        autolog.search_runs(filter="metrics.rmse <")
    with pytest.raises(FilterSyntaxError, match="DOWN"):
        autolog.search_runs(order_by="metrics.rmse DOWN")
