"""Config errors, and the constraints that say what each setting allows.

Each setting's constraint is declared once, beside what it constrains, as scikit-learn declares
`_parameter_constraints` (`Interval(Real, 0, None, closed="neither")`, `Options(...)`), and
`check_values` checks a mapping of values against such declarations. The checks that relate two
values call `require`. Both raise ConfigError with one message, `KEY=VALUE is invalid; allowed:
...`, and only they do: the harness catches this type, never any ValueError, so a bug stays a
bug. Standard library only: `nnlab.engine` and `nnlab.data` use it and stay NumPy-only.
"""

import functools
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Literal, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])


class ConfigError(ValueError):
    """A config value that cannot run: the message is one line naming key, value, allowed."""


def invalid(name: str, value: object, allowed: str) -> ConfigError:
    """The error for `name=value`: the one message format of every config check."""
    # A blank or padded string would vanish from the message: show it quoted, as typed.
    shown = repr(value) if isinstance(value, str) and (value.strip() != value or not value) \
        else value
    return ConfigError(f"{name}={shown} is invalid; allowed: {allowed}")


def require(condition: bool, name: str, value: object, allowed: str) -> None:
    """Raise ConfigError("name=value is invalid; allowed: ...") unless `condition` holds."""
    if not condition:
        raise invalid(name, value, allowed)


class Constraint(ABC):
    """What one setting allows: a test of a value, and its description for the message."""

    @abstractmethod
    def is_satisfied_by(self, value: object) -> bool: ...

    @abstractmethod
    def __str__(self) -> str: ...


class Interval(Constraint):
    """Numbers of `kind` (Integral or Real) from `low` to `high`, None meaning unbounded;
    `closed` says which bounds belong to the interval. Never a bool (`n_test=True` is always a
    mistake), never inf or nan (no setting means anything with them)."""

    def __init__(self, kind: type[Integral] | type[Real], low: float | None, high: float | None,
                 closed: Literal["both", "left", "right", "neither"] = "both") -> None:
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def is_satisfied_by(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        number = float(value)  # an Integral or a Real: both convert
        if not math.isfinite(number):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        above = self.low is None or number > self.low or (left and number == self.low)
        below = self.high is None or number < self.high or (right and number == self.high)
        return above and below

    def __str__(self) -> str:
        noun = "an int" if self.kind is Integral else "a float"
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            if self.kind is Integral and left and right:
                return f"{noun} in {self.low}..{self.high}"
            return f"{noun} in {'[' if left else '('}{self.low}, {self.high}{']' if right else ')'}"
        if self.kind is not Integral:
            noun = "a finite float"
        if self.low is not None:
            return f"{noun} {'>=' if left else '>'} {self.low}"
        if self.high is not None:
            return f"{noun} {'<=' if right else '<'} {self.high}"
        return noun


class Options(Constraint):
    """One of a few names, listed in the message in the order given."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, str) and value in self.names

    def __str__(self) -> str:
        return ", ".join(self.names)


class NoneOr(Constraint):
    """None (`null` in the config), or a value `constraint` allows; `note` says what None means."""

    def __init__(self, constraint: Constraint, note: str = "") -> None:
        self.constraint, self.note = constraint, note

    def is_satisfied_by(self, value: object) -> bool:
        return value is None or self.constraint.is_satisfied_by(value)

    def __str__(self) -> str:
        return f"{self.constraint}, or null" + (f" ({self.note})" if self.note else "")


class ListOf(Constraint):
    """A list (possibly empty) whose every item `item` allows; `note` for an example."""

    def __init__(self, item: Constraint, note: str = "") -> None:
        self.item, self.note = item, note

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, list | tuple) and all(map(self.item.is_satisfied_by, value))

    def __str__(self) -> str:
        return f"a list, each item {self.item}" + (f" ({self.note})" if self.note else "")


class NonBlank(Constraint):
    """A string with something in it besides spaces."""

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, str) and value.strip() != ""

    def __str__(self) -> str:
        return "a non-blank string"


def check_value(name: str, value: object, constraint: Constraint) -> None:
    """Raise ConfigError naming `name`, `value` and `constraint` unless it allows `value`."""
    require(constraint.is_satisfied_by(value), name, value, str(constraint))


def check_values(constraints: Mapping[str, Constraint], values: Mapping[str, object],
                 prefix: str = "") -> None:
    """Check every constrained key of `values` (named `prefix + key` in the message), in the
    order of `constraints`; keys of `values` without a constraint are someone else's."""
    for key, constraint in constraints.items():
        check_value(prefix + key, values[key], constraint)


def check_arguments(constraints: Mapping[str, Constraint],
                    prefix: str = "") -> Callable[[Function], Function]:
    """Decorate a function so that every call checks its arguments (defaults included) against
    `constraints`, as scikit-learn's `validate_params` does for its public functions."""

    def decorate(function: Function) -> Function:
        signature = inspect.signature(function)
        # A constraint on no parameter would silently check nothing.
        unknown = sorted(set(constraints) - set(signature.parameters))
        if unknown:
            raise TypeError(f"{function.__qualname__} has no parameter {', '.join(unknown)}")

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            check_values(constraints, arguments.arguments, prefix)
            return function(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
