"""Datasets by name, as the run config refers to them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.constraints import Options, check_value, require
from nnlab.data.dataset import Dataset, shrink_train
from nnlab.data.iris import iris
from nnlab.data.synthetic import moons, moons3, sincos, xor

DATASETS: dict[str, Callable[..., Dataset]] = {
    "sincos": sincos,
    "xor": xor,
    "moons": moons,
    "moons3": moons3,
    "iris": iris,
}
DATASET_NAME = Options(DATASETS)


def load_dataset(
    name: str, rng: np.random.Generator, n_train: int | None = None, **options: Any
) -> Dataset:
    """Generate dataset `name` from `rng` with `options`, then keep its first `n_train`
    training rows (stratified for classification); the test split is never shrunk.
    """
    check_value("dataset.name", name, DATASET_NAME)
    # Fail here on a seed or the numpy module, rather than deep inside a generator.
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    generate = DATASETS[name]
    allowed = [option for option in inspect.signature(generate).parameters if option != "rng"]
    for option, value in options.items():
        require(option in allowed, f"dataset.{option}", value,
                f"the options of {name}: {', '.join(allowed) or 'none'}")
    dataset = generate(rng, **options)
    return dataset if n_train is None else shrink_train(dataset, n_train)
