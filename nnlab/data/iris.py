"""Fisher's iris table, shipped as iris.csv next to this module."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

from nnlab.constraints import ConfigError
from nnlab.data.dataset import CLASSIFICATION, Dataset, stratified_take
from nnlab.data.validation import check_real

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES = ("setosa", "versicolor", "virginica")


def read_iris_table() -> tuple[np.ndarray, np.ndarray]:
    """All 150 rows as raw features (150, 4) float64 and species labels (150,) int64."""
    text = resources.files("nnlab.data").joinpath("iris.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    features = [[float(row[column]) for column in FEATURES] for row in rows]
    labels = [SPECIES.index(row["species"]) for row in rows]
    return np.array(features, dtype=np.float64), np.array(labels, dtype=np.int64)


def iris(rng: np.random.Generator, train_fraction: float = 2 / 3) -> Dataset:
    """Iris, 4 features -> 3 species, split stratified into round(150 * train_fraction) rows
    for training and the rest for testing, both in an order shuffled by `rng`.

    Features are divided by the largest absolute value in the whole table (the iris
    tutorial's scaling), computed on all 150 rows before splitting.
    """
    x, y = read_iris_table()
    n_rows, n_classes = len(y), len(SPECIES)
    allowed = f"a fraction in (0, 1) giving {n_classes}..{n_rows - n_classes} training rows"
    fraction = check_real("train_fraction", train_fraction, allowed)
    n_train = round(n_rows * fraction)
    if not 0 < fraction < 1:
        raise ConfigError(
            f"dataset.train_fraction={train_fraction} is outside (0, 1); allowed: {allowed}"
        )
    # Both splits need every class, or accuracy per class becomes meaningless.
    if not n_classes <= n_train <= n_rows - n_classes:
        raise ConfigError(
            f"dataset.train_fraction={train_fraction} puts {n_train} of the {n_rows} rows in "
            f"training; allowed: {allowed}"
        )
    x = x / np.abs(x).max()
    order = rng.permutation(n_rows)
    in_train = np.zeros(n_rows, dtype=bool)
    in_train[stratified_take(y[order], n_train, n_classes)] = True
    train, test = order[in_train], order[~in_train]
    return Dataset(
        name="iris",
        task=CLASSIFICATION,
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        n_classes=n_classes,
    )
