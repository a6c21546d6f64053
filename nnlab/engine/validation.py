"""One-line errors that name the parameter, the bad value and what is allowed."""

from collections.abc import Iterable


def check(condition: bool, name: str, value: object, allowed: str) -> None:
    """Raise ValueError("name=value is invalid; allowed: ...") unless `condition` holds."""
    if not condition:
        raise ValueError(f"{name}={value} is invalid; allowed: {allowed}")


def check_choice(name: str, value: object, choices: Iterable[str]) -> None:
    choices = sorted(choices)
    check(value in choices, name, value, ", ".join(choices))
