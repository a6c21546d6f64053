"""Generated datasets: sincos, xor, moons and moons3."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from nnlab.constraints import Constraint, Interval, check_arguments
from nnlab.data.dataset import CLASSIFICATION, REGRESSION, Dataset

# A half circle of radius 1 as (centre_x, centre_y, sign): points are
# (centre_x + sign*cos t, centre_y + sign*sin t) for t in [0, pi], so sign=+1 is an
# upper arc and sign=-1 a lower one.
_MOONS = ((0.0, 0.0, 1.0), (1.0, 0.5, -1.0))
# The third arc is the first one shifted by (+2.5, 0). A shift of +2 would continue
# the pattern but put its left tip exactly on the first arc's right tip, (1, 0).
_MOONS3 = (*_MOONS, (2.5, 0.0, 1.0))


def _arcs_options(n_arcs: int) -> dict[str, Constraint]:
    """The options of a dataset of `n_arcs` arcs: both splits need a row of every class."""
    rows = Interval(Integral, n_arcs, None)
    return {"n_samples": rows, "noise": Interval(Real, 0, None), "n_test": rows}


@check_arguments({"n_samples": Interval(Integral, 1, None), "n_test": Interval(Integral, 1, None),
                  "target_noise": Interval(Real, 0, None)}, prefix="dataset.")
def sincos(
    rng: np.random.Generator, n_samples: int = 9600, n_test: int = 1000, target_noise: float = 0.0
) -> Dataset:
    """Regression from x ~ U[0, 1) of shape (n, 1) to the two targets [sin x, cos x].

    The default 9600 rows are the tutorial's 300 batches of 32, each freshly drawn.
    The test rows are drawn independently from the same distribution. `target_noise` is the
    standard deviation of Gaussian noise on both training targets; the test targets stay the
    true sin x and cos x, which is what a fit is judged against.
    """
    x_train = rng.random((n_samples, 1))
    x_test = rng.random((n_test, 1))
    y_train = np.hstack([np.sin(x_train), np.cos(x_train)])
    if target_noise:
        # Drawn after the inputs, so that runs differing only in target_noise share them.
        y_train += rng.normal(scale=target_noise, size=y_train.shape)
    return Dataset(
        name="sincos",
        task=REGRESSION,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=np.hstack([np.sin(x_test), np.cos(x_test)]),
        n_classes=None,
    )


def xor(rng: np.random.Generator) -> Dataset:
    """The four corners of the unit square labelled by XOR of their coordinates.

    XOR has nothing to hold out, so the test split is the same four points. `rng` is
    accepted, and unused, so that every dataset is called the same way.
    """
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return Dataset(
        name="xor",
        task=CLASSIFICATION,
        x_train=x,
        y_train=y,
        x_test=x.copy(),
        y_test=y.copy(),
        n_classes=2,
    )


def _sample_arcs(
    rng: np.random.Generator, arcs: tuple[tuple[float, float, float], ...], n: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """`n` shuffled points on `arcs` (label = arc index) with Gaussian noise of std `noise`.

    Arcs get n // len(arcs) points each; the remainder goes one each to the first arcs.
    """
    sizes = np.full(len(arcs), n // len(arcs))
    sizes[: n % len(arcs)] += 1
    x_parts = []
    for (cx, cy, sign), size in zip(arcs, sizes, strict=True):
        t = np.linspace(0.0, np.pi, size)
        x_parts.append(np.column_stack([cx + sign * np.cos(t), cy + sign * np.sin(t)]))
    x = np.concatenate(x_parts) + rng.normal(scale=noise, size=(n, 2))
    y = np.repeat(np.arange(len(arcs), dtype=np.int64), sizes)
    order = rng.permutation(n)
    return x[order], y[order]


def _arcs_dataset(
    name: str,
    arcs: tuple[tuple[float, float, float], ...],
    rng: np.random.Generator,
    n_samples: int,
    noise: float,
    n_test: int,
) -> Dataset:
    x_train, y_train = _sample_arcs(rng, arcs, n_samples, noise)
    x_test, y_test = _sample_arcs(rng, arcs, n_test, noise)
    return Dataset(
        name=name,
        task=CLASSIFICATION,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        n_classes=len(arcs),
    )


@check_arguments(_arcs_options(len(_MOONS)), prefix="dataset.")
def moons(
    rng: np.random.Generator, n_samples: int = 200, noise: float = 0.2, n_test: int = 200
) -> Dataset:
    """Two interleaving half circles, as scikit-learn's make_moons.

    Class 0 is the upper arc (cos t, sin t), class 1 the lower arc
    (1 - cos t, 0.5 - sin t), t evenly spaced over [0, pi]; class 0 gets the extra
    point when `n_samples` is odd. Gaussian noise of std `noise` is added and rows
    are shuffled. `n_samples` is the training size; the test split is generated the
    same way, independently, with `n_test` rows.
    """
    return _arcs_dataset("moons", _MOONS, rng, n_samples, noise, n_test)


@check_arguments(_arcs_options(len(_MOONS3)), prefix="dataset.")
def moons3(
    rng: np.random.Generator, n_samples: int = 300, noise: float = 0.2, n_test: int = 300
) -> Dataset:
    """Three interleaving half circles: the two `moons` plus a third to their right.

    Class 2 is the upper arc (2.5 + cos t, sin t). Class 1 (the lower arc) reaches
    into the hollow of both class 0 and class 2, and each of them reaches into the
    hollow of class 1, so neither neighbouring pair is linearly separable even without
    noise. Without noise the arcs come within 0.5 (classes 0-1 and 0-2, tip to tip)
    and 0.29 (classes 1-2) of each other. Classes are balanced (sizes differ by at
    most one), with noise, shuffling and the test split as in `moons`.
    """
    return _arcs_dataset("moons3", _MOONS3, rng, n_samples, noise, n_test)
