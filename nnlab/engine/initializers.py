"""Initial weights, keyed by the scheme names users type in the config.

Each scheme draws a (fan_in, fan_out) matrix from the run's generator. Biases start at zero
unless `Init.bias == "same"`, which draws them from the weights' distribution (the sincos and
iris tutorials do that; the xor and moons tutorials start biases at zero).
"""

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np

from nnlab.constraints import Interval, Options


@dataclass(frozen=True)
class Init:
    """An initialization scheme and its parameters (unused ones are ignored)."""

    scheme: str = "lecun"
    mean: float = 0.0  # normal
    std: float = 1.0  # normal
    low: float = 0.0  # uniform
    high: float = 1.0  # uniform
    bias: str = "zero"  # zero | same


def normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
           init: Init) -> np.ndarray:
    """N(mean, std^2): the sincos tutorial's N(0, 0.1) and its shifted N(-0.1, 0.1)."""
    return rng.normal(init.mean, init.std, size=shape)


def uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
            init: Init) -> np.ndarray:
    """U[low, high): the iris tutorial's U[0, 1)."""
    return rng.uniform(init.low, init.high, size=shape)


def lecun(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
          init: Init) -> np.ndarray:
    """N(0, 1/fan_in): the moons tutorial's randn / sqrt(fan_in)."""
    return rng.standard_normal(shape) / np.sqrt(fan_in)


def xavier(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
           init: Init) -> np.ndarray:
    """Glorot uniform, U(-b, b) with b = sqrt(6 / (fan_in + fan_out)), suited to tanh/sigmoid."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int,
       init: Init) -> np.ndarray:
    """N(0, 2/fan_in), suited to ReLU."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "normal": normal,
    "uniform": uniform,
    "lecun": lecun,
    "xavier": xavier,
    "glorot": xavier,
    "he": he,
}

BIAS_INITS = ("zero", "same")

# Checked whatever the scheme: a value no scheme could use is a mistake even where it is unused.
INIT_CONSTRAINTS = {
    "scheme": Options(INITIALIZERS),
    "mean": Interval(Real, None, None),
    "std": Interval(Real, 0, None),
    "low": Interval(Real, None, None),
    "high": Interval(Real, None, None),
    "bias": Options(BIAS_INITS),
}


def init_parameters(
    sizes: list[int], init: Init, rng: np.random.Generator, dtype: np.dtype
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases of a dense net with layer widths `sizes` (input first)."""
    draw = INITIALIZERS[init.scheme]
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(draw(rng, (fan_in, fan_out), fan_in, fan_out, init).astype(dtype))
        if init.bias == "same":
            biases.append(draw(rng, (fan_out,), fan_in, fan_out, init).astype(dtype))
        else:
            biases.append(np.zeros(fan_out, dtype=dtype))
    return weights, biases
