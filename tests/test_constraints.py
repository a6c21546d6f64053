"""Specifications of nnlab.constraints: what each constraint allows, how it says so, and the one
message format of every config error."""

from numbers import Integral, Real

import numpy as np
import pytest

from nnlab.constraints import (
    ConfigError,
    Interval,
    ListOf,
    NonBlank,
    NoneOr,
    Options,
    check_arguments,
    check_values,
    require,
)


@pytest.mark.parametrize(
    ("constraint", "allowed", "refused"),
    [
        (Interval(Integral, 1, None), [1, 7, np.int64(3)], [0, -1, 1.0, True, "1", None]),
        (Interval(Integral, 3, 100), [3, 100], [2, 101]),
        (Interval(Real, 0, None), [0, 0.0, 2, np.float32(1.5)],
         [-1e-9, float("inf"), float("nan"), False]),
        (Interval(Real, 0, None, closed="neither"), [1e-12], [0.0, float("inf")]),
        (Interval(Real, 0, 1, closed="left"), [0.0, 0.999], [1.0, -0.1]),
        (Interval(Real, None, None), [-1e300, 0.0, 5], [float("-inf"), float("nan"), "0"]),
        (Options(("relu", "tanh")), ["relu", "tanh"], ["swish", "", None, 1]),
        (NoneOr(Interval(Integral, 1, None)), [None, 1], [0, "null"]),
        (ListOf(Interval(Integral, 1, None)), [[], [16], [4, 4], (2,)], [[0], [16, 0], 16, "[16]"]),
        (NonBlank(), ["nnlab", " a "], ["", "   ", None]),
    ],
)
def test_each_constraint_allows_exactly_its_values(constraint, allowed, refused):
    assert all(constraint.is_satisfied_by(value) for value in allowed)
    assert not any(constraint.is_satisfied_by(value) for value in refused)


@pytest.mark.parametrize(
    ("constraint", "description"),
    [
        (Interval(Integral, 1, None), "an int >= 1"),
        (Interval(Integral, 3, 100), "an int in 3..100"),
        (Interval(Real, 0, None), "a finite float >= 0"),
        (Interval(Real, 0, None, closed="neither"), "a finite float > 0"),
        (Interval(Real, 0, 1, closed="left"), "a float in [0, 1)"),
        (Interval(Real, 0, 1, closed="neither"), "a float in (0, 1)"),
        (Interval(Real, None, None), "a finite float"),
        (Options(("relu", "tanh")), "relu, tanh"),
        (NoneOr(Interval(Integral, 1, None), "the full batch"),
         "an int >= 1, or null (the full batch)"),
        (ListOf(Interval(Integral, 1, None), "e.g. [16]"),
         "a list, each item an int >= 1 (e.g. [16])"),
        (NonBlank(), "a non-blank string"),
    ],
)
def test_each_constraint_says_what_it_allows(constraint, description):
    assert str(constraint) == description


def test_check_values_names_the_first_bad_key_with_its_prefix_in_the_one_format():
    constraints = {"std": Interval(Real, 0, None), "scheme": Options(("normal", "he"))}
    check_values(constraints, {"std": 0.1, "scheme": "he", "unconstrained": object()})
    with pytest.raises(ConfigError) as error:
        check_values(constraints, {"std": -1.0, "scheme": "swish"}, prefix="init.")
    assert str(error.value) == "init.std=-1.0 is invalid; allowed: a finite float >= 0"


def test_require_quotes_a_blank_string_so_that_the_message_shows_it():
    with pytest.raises(ConfigError, match=r"^experiment_name='' is invalid; allowed: a name$"):
        require(False, "experiment_name", "", "a name")


def test_check_arguments_checks_every_call_defaults_included():
    @check_arguments({"n": Interval(Integral, 1, None)}, prefix="dataset.")
    def generate(rng: object, n: int = 10) -> int:
        return n

    assert generate(None, 3) == 3 and generate(None) == 10
    with pytest.raises(ConfigError, match=r"^dataset\.n=0 is invalid; allowed: an int >= 1$"):
        generate(None, n=0)


def test_check_arguments_refuses_a_constraint_on_no_parameter():
    with pytest.raises(TypeError, match="no parameter n_sample"):
        @check_arguments({"n_sample": Interval(Integral, 1, None)})
        def generate(n_samples: int = 10) -> int:
            return n_samples
