"""Config errors: one line that names the key, the bad value and what is allowed.

The engine, the datasets and the run's own checks raise ConfigError, and only they do: the
harness catches this type, never any ValueError, so a bug stays a bug. Standard library only:
`nnlab.engine` and `nnlab.data` use it and stay NumPy-only.
"""

from collections.abc import Iterable


class ConfigError(ValueError):
    """A config value that cannot run: the message is one line naming key, value, allowed."""


def require(condition: bool, name: str, value: object, allowed: str) -> None:
    """Raise ConfigError("name=value is invalid; allowed: ...") unless `condition` holds."""
    if not condition:
        raise ConfigError(f"{name}={value} is invalid; allowed: {allowed}")


def check_choice(name: str, value: object, choices: Iterable[str]) -> None:
    choices = sorted(choices)
    require(value in choices, name, value, ", ".join(choices))
