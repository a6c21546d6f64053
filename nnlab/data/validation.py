"""Checks for dataset options, raising one-line ConfigErrors phrased in config terms."""

from __future__ import annotations

import math

import numpy as np

from nnlab.constraints import ConfigError


def check_int(param: str, value: object, low: int, high: int | None = None, limit: str = "") -> int:
    """Return `value` as an int in [low, high], else raise naming `dataset.<param>`.

    `limit` describes where `high` comes from, for the message when `value` exceeds it.
    """
    allowed = f"{low}..{high}" if high is not None else f"an integer >= {low}"
    # bool is an int subclass, but `n_train=True` is always a config mistake.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"dataset.{param}={value!r} is not an integer; allowed: {allowed}")
    if value < low:
        raise ConfigError(f"dataset.{param}={value} is too small; allowed: {allowed}")
    if high is not None and value > high:
        raise ConfigError(
            f"dataset.{param}={value} is larger than {limit or high}; allowed: {allowed}"
        )
    return int(value)


def check_real(param: str, value: object, allowed: str) -> float:
    """Return `value` as a finite float, else raise naming `dataset.<param>` and `allowed`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(value)
    ):
        raise ConfigError(f"dataset.{param}={value!r} is not a finite number; allowed: {allowed}")
    return float(value)


def check_noise(value: object) -> float:
    """Return `dataset.noise` as a float >= 0."""
    allowed = "a number >= 0"
    noise = check_real("noise", value, allowed)
    if noise < 0:
        raise ConfigError(f"dataset.noise={value} is negative; allowed: {allowed}")
    return noise
