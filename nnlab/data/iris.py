"""Fisher's iris table, shipped as iris.csv next to this module."""

from __future__ import annotations

import csv
from importlib import resources
from numbers import Real

import numpy as np

from nnlab.constraints import Interval, check_arguments, require
from nnlab.data.dataset import CLASSIFICATION, Dataset, stratified_take

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES = ("setosa", "versicolor", "virginica")


def read_iris_table() -> tuple[np.ndarray, np.ndarray]:
    """All 150 rows as raw features (150, 4) float64 and species labels (150,) int64."""
    text = resources.files("nnlab.data").joinpath("iris.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    features = [[float(row[column]) for column in FEATURES] for row in rows]
    labels = [SPECIES.index(row["species"]) for row in rows]
    return np.array(features, dtype=np.float64), np.array(labels, dtype=np.int64)


@check_arguments({"train_fraction": Interval(Real, 0, 1, closed="neither")}, prefix="dataset.")
def iris(rng: np.random.Generator, train_fraction: float = 2 / 3) -> Dataset:
    """Iris, 4 features -> 3 species, split stratified into round(150 * train_fraction) rows
    for training and the rest for testing, both in an order shuffled by `rng`.

    Features are divided by the largest absolute value in the whole table (the iris
    tutorial's scaling), computed on all 150 rows before splitting.
    """
    x, y = read_iris_table()
    n_rows, n_classes = len(y), len(SPECIES)
    n_train = round(n_rows * train_fraction)
    # Both splits need every class, or accuracy per class becomes meaningless.
    require(n_classes <= n_train <= n_rows - n_classes, "dataset.train_fraction", train_fraction,
            f"a fraction giving {n_classes}..{n_rows - n_classes} of the {n_rows} rows to "
            f"training (this one gives {n_train})")
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
