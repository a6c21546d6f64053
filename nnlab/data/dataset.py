"""The Dataset record and the helpers that split and shrink it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from nnlab.constraints import Interval, require

REGRESSION = "regression"
CLASSIFICATION = "classification"


@dataclass(frozen=True)
class Dataset:
    """A train/test pair of arrays plus what a model needs to know about them.

    Features are (n, n_features) float64. Targets are (n, n_outputs) float64 for
    regression and (n,) int64 labels in 0..n_classes-1 for classification.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int | None

    def __post_init__(self) -> None:
        # Code elsewhere tells the two tasks apart by `n_classes is None`; keep that honest.
        if self.task not in (REGRESSION, CLASSIFICATION):
            raise ValueError(
                f"Dataset.task={self.task!r} is unknown; allowed: {REGRESSION}, {CLASSIFICATION}"
            )
        if (self.task == REGRESSION) != (self.n_classes is None):
            raise ValueError(
                f"Dataset.n_classes={self.n_classes} does not fit task={self.task}; "
                "allowed: None for regression, an int for classification"
            )

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Width of the network's output layer: target columns, or one unit per class."""
        if self.n_classes is not None:
            return self.n_classes
        return self.y_train.shape[1]


def stratified_take(labels: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """Indices of `n` rows of `labels` whose class proportions match the whole array.

    Each class contributes its *first* rows in the given order, so the choice is
    deterministic: shuffle beforehand to make it random. Class sizes follow the
    largest-remainder rule (ties go to the lower class); when n >= the number of
    classes present, every present class gets at least one row. Indices are
    returned in ascending order, i.e. the input order is kept.
    """
    counts = np.bincount(labels, minlength=n_classes)
    quota = n * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    by_remainder = np.argsort(-(quota - take), kind="stable")
    take[by_remainder[: n - take.sum()]] += 1
    if n >= np.count_nonzero(counts):
        # Stealing from the largest share always works: the n rows cannot all sit in
        # classes with a single row while some present class still has none.
        for label in np.flatnonzero((counts > 0) & (take == 0)):
            take[np.argmax(take)] -= 1
            take[label] += 1
    rank_in_class = np.empty(len(labels), dtype=np.int64)
    for label in range(n_classes):
        members = labels == label
        rank_in_class[members] = np.arange(np.count_nonzero(members))
    return np.flatnonzero(rank_in_class < take[labels])


def shrink_train(dataset: Dataset, n_train: int) -> Dataset:
    """Keep only `n_train` training rows (stratified for classification, so at least one per
    class); test is untouched.

    Training rows are already in random order, so taking the first ones is a random
    subset, yet repeatable for a given dataset.
    """
    available = len(dataset.y_train)
    low, limit = 1, f"at most the {available} training rows of {dataset.name}"
    if dataset.n_classes is not None:
        # stratified_take gives every class a row only from as many rows as classes on: with
        # fewer, a class would be missing from training.
        low, limit = dataset.n_classes, f"{limit}, at least one per class"
    rows = Interval(Integral, low, available)
    require(rows.is_satisfied_by(n_train), "dataset.n_train", n_train, f"{rows} ({limit})")
    if dataset.n_classes is not None:
        keep = stratified_take(dataset.y_train, n_train, dataset.n_classes)
    else:
        keep = np.arange(n_train)
    return dataclasses.replace(
        dataset, x_train=dataset.x_train[keep], y_train=dataset.y_train[keep]
    )
