"""Specifications of nnlab.data: shapes, determinism, geometry, splits and errors."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnlab.constraints import ConfigError
from nnlab.data import DATASETS, Dataset, load_dataset, moons, moons3, stratified_take
from nnlab.data.iris import read_iris_table

REPO_ROOT = Path(__file__).resolve().parents[1]

# name -> (task, n_features, n_outputs, n_classes, n_train, n_test) with default options
EXPECTED = {
    "sincos": ("regression", 1, 2, None, 9600, 1000),
    "xor": ("classification", 2, 2, 2, 4, 4),
    "moons": ("classification", 2, 2, 2, 200, 200),
    "moons3": ("classification", 2, 3, 3, 300, 300),
    "iris": ("classification", 4, 3, 3, 100, 50),
}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def arrays(dataset: Dataset) -> list[np.ndarray]:
    return [dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test]


def test_the_registry_holds_exactly_the_five_datasets() -> None:
    assert set(DATASETS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dataset_has_the_documented_task_shapes_and_dtypes(name: str) -> None:
    task, n_features, n_outputs, n_classes, n_train, n_test = EXPECTED[name]
    data = load_dataset(name, rng())
    assert (data.name, data.task, data.n_classes) == (name, task, n_classes)
    assert (data.n_features, data.n_outputs) == (n_features, n_outputs)
    assert data.x_train.shape == (n_train, n_features)
    assert data.x_test.shape == (n_test, n_features)
    assert data.x_train.dtype == data.x_test.dtype == np.float64
    if task == "regression":
        assert data.y_train.shape == (n_train, n_outputs)
        assert data.y_test.shape == (n_test, n_outputs)
        assert data.y_train.dtype == data.y_test.dtype == np.float64
    else:
        assert data.y_train.shape == (n_train,)
        assert data.y_test.shape == (n_test,)
        assert data.y_train.dtype == data.y_test.dtype == np.int64
        labels = np.concatenate([data.y_train, data.y_test])
        assert set(labels.tolist()) == set(range(n_classes))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_same_seed_gives_identical_arrays(name: str) -> None:
    for first, second in zip(
        arrays(load_dataset(name, rng(7))), arrays(load_dataset(name, rng(7))), strict=True
    ):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"xor"}))
def test_a_different_seed_gives_different_training_inputs(name: str) -> None:
    first, second = load_dataset(name, rng(1)), load_dataset(name, rng(2))
    assert not np.array_equal(first.x_train, second.x_train)


def test_xor_is_the_four_corners_with_xor_labels_and_the_same_points_as_test_set() -> None:
    data = load_dataset("xor", rng())
    np.testing.assert_array_equal(data.x_train, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(data.y_train, [0, 1, 1, 0])
    np.testing.assert_array_equal(data.x_test, data.x_train)
    np.testing.assert_array_equal(data.y_test, data.y_train)


def test_sincos_inputs_lie_in_the_unit_interval_and_targets_are_their_sine_and_cosine() -> None:
    data = load_dataset("sincos", rng(), n_samples=500, n_test=100)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.min() >= 0 and x.max() < 1
        np.testing.assert_array_equal(y, np.hstack([np.sin(x), np.cos(x)]))


def test_sincos_test_inputs_are_drawn_independently_of_the_training_inputs() -> None:
    data = load_dataset("sincos", rng(), n_samples=100, n_test=100)
    assert not np.isin(data.x_test, data.x_train).any()


def test_sincos_target_noise_has_the_requested_standard_deviation_on_the_training_targets_only(
) -> None:
    clean = load_dataset("sincos", rng(3), n_samples=2000, n_test=100)
    noisy = load_dataset("sincos", rng(3), n_samples=2000, n_test=100, target_noise=0.1)
    # The same inputs, and the test split is the true function: the report compares with it.
    for same in ("x_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(noisy, same), getattr(clean, same))
    noise = noisy.y_train - clean.y_train
    assert np.std(noise[:, 0]) == pytest.approx(0.1, rel=0.05)
    assert np.std(noise[:, 1]) == pytest.approx(0.1, rel=0.05)
    assert abs(np.corrcoef(noise.T)[0, 1]) < 0.1  # sin and cos get noise of their own
    # A row's noise does not depend on how many rows are kept.
    small = load_dataset("sincos", rng(3), n_samples=2000, n_test=100, target_noise=0.1,
                         n_train=16)
    np.testing.assert_array_equal(small.y_train, noisy.y_train[:16])


def test_sincos_without_target_noise_is_the_noise_free_draw() -> None:
    default = load_dataset("sincos", rng(4), n_samples=50, n_test=10)
    at_zero = load_dataset("sincos", rng(4), n_samples=50, n_test=10, target_noise=0.0)
    for a, b in zip(arrays(default), arrays(at_zero), strict=True):
        np.testing.assert_array_equal(a, b)


def test_moons_classes_are_balanced_and_an_odd_extra_point_goes_to_class_0() -> None:
    np.testing.assert_array_equal(np.bincount(moons(rng(), n_samples=200).y_train), [100, 100])
    np.testing.assert_array_equal(np.bincount(moons(rng(), n_samples=201).y_train), [101, 100])
    np.testing.assert_array_equal(np.bincount(moons(rng(), n_test=51).y_test), [26, 25])


def test_moons_without_noise_lie_exactly_on_the_two_half_circles() -> None:
    data = moons(rng(), noise=0.0)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        outer, inner = x[y == 0], x[y == 1]
        np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
        assert (outer[:, 1] >= 0).all()
        np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0)
        assert (inner[:, 1] <= 0.5 + 1e-12).all()
        # Evenly spaced t over [0, pi] includes both tips of each arc.
        for point in ([1, 0], [-1, 0], [0, 0.5], [2, 0.5]):
            assert np.isclose(x, point).all(axis=1).any()


def test_moons_rows_are_shuffled() -> None:
    labels = moons(rng()).y_train
    assert not (np.diff(labels) >= 0).all()


def test_moons_noise_has_the_requested_standard_deviation() -> None:
    clean = moons(rng(3), n_samples=2000, noise=0.0)
    noisy = moons(rng(3), n_samples=2000, noise=0.3)
    # Same seed, same permutation: the difference is the noise alone.
    assert np.std(noisy.x_train - clean.x_train) == pytest.approx(0.3, rel=0.05)


def test_moons3_classes_are_balanced_and_lie_on_three_half_circles_without_noise() -> None:
    data = moons3(rng(), n_samples=301, noise=0.0)
    np.testing.assert_array_equal(np.bincount(data.y_train), [101, 100, 100])
    centres_and_sides = (((0.0, 0.0), 1), ((1.0, 0.5), -1), ((2.5, 0.0), 1))
    for label, ((cx, cy), side) in enumerate(centres_and_sides):
        x = data.x_train[data.y_train == label]
        np.testing.assert_allclose(np.hypot(x[:, 0] - cx, x[:, 1] - cy), 1.0)
        assert (side * (x[:, 1] - cy) >= -1e-12).all()


def test_moons3_neighbouring_classes_reach_into_each_others_hollow() -> None:
    data = moons3(rng(), noise=0.0)
    x, y = data.x_train, data.y_train
    # Class 1's lower arc is centred at (1, 0.5); class 2's upper arc at (2.5, 0).
    class_2_in_hollow_of_1 = (np.hypot(x[:, 0] - 1, x[:, 1] - 0.5) < 1) & (x[:, 1] < 0.5)
    class_1_in_hollow_of_2 = (np.hypot(x[:, 0] - 2.5, x[:, 1]) < 1) & (x[:, 1] > 0)
    assert class_2_in_hollow_of_1[y == 2].any()
    assert class_1_in_hollow_of_2[y == 1].any()


def test_iris_table_has_150_rows_50_per_species() -> None:
    x, y = read_iris_table()
    assert x.shape == (150, 4)
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50])


def test_iris_features_are_scaled_by_the_largest_absolute_value_of_the_whole_table() -> None:
    raw, _ = read_iris_table()
    data = load_dataset("iris", rng())
    scaled = np.vstack([data.x_train, data.x_test])
    assert np.abs(scaled).max() == 1.0
    assert raw.max() == 7.9
    np.testing.assert_allclose(np.sort(scaled, axis=0), np.sort(raw / 7.9, axis=0))


def test_iris_split_is_100_50_stratified_shuffled_and_covers_every_row_once() -> None:
    data = load_dataset("iris", rng())
    assert len(data.y_train) == 100 and len(data.y_test) == 50
    train_counts = np.bincount(data.y_train, minlength=3)
    assert set(train_counts.tolist()) <= {33, 34}
    np.testing.assert_array_equal(train_counts + np.bincount(data.y_test, minlength=3), 50)
    assert not (np.diff(data.y_train) >= 0).all()
    raw, labels = read_iris_table()
    x = np.vstack([data.x_train, data.x_test]) * 7.9
    rows = np.column_stack([x, np.concatenate([data.y_train, data.y_test])])
    expected = np.column_stack([raw, labels])
    # Compared as sorted multisets: iris has duplicate rows, so np.unique would hide a loss.
    rows = rows.round(6)
    np.testing.assert_allclose(rows[np.lexsort(rows.T)], expected[np.lexsort(expected.T)])


def test_iris_train_fraction_sets_the_split_size() -> None:
    data = load_dataset("iris", rng(), train_fraction=0.8)
    assert (len(data.y_train), len(data.y_test)) == (120, 30)
    np.testing.assert_array_equal(np.bincount(data.y_train), [40, 40, 40])


@pytest.mark.parametrize("name", ["moons", "iris", "moons3"])
def test_n_train_shrinks_only_the_training_split_and_keeps_it_stratified(name: str) -> None:
    full = load_dataset(name, rng(5))
    small = load_dataset(name, rng(5), n_train=30)
    assert small.x_train.shape == (30, full.n_features) and small.y_train.shape == (30,)
    np.testing.assert_array_equal(small.x_test, full.x_test)
    np.testing.assert_array_equal(small.y_test, full.y_test)
    assert full.n_classes is not None
    counts = np.bincount(small.y_train, minlength=full.n_classes)
    expected = 30 * np.bincount(full.y_train) / len(full.y_train)
    assert (np.abs(counts - expected) < 1).all()
    # The kept rows are training rows, in their original order.
    kept = [np.flatnonzero((full.x_train == row).all(axis=1))[0] for row in small.x_train]
    assert kept == sorted(kept)


def test_n_train_on_regression_keeps_the_first_training_rows() -> None:
    full = load_dataset("sincos", rng(5), n_samples=50)
    small = load_dataset("sincos", rng(5), n_samples=50, n_train=10)
    np.testing.assert_array_equal(small.x_train, full.x_train[:10])
    np.testing.assert_array_equal(small.y_train, full.y_train[:10])
    np.testing.assert_array_equal(small.x_test, full.x_test)


def test_n_train_equal_to_the_training_size_changes_nothing() -> None:
    full = load_dataset("iris", rng(5))
    same = load_dataset("iris", rng(5), n_train=100)
    for first, second in zip(arrays(full), arrays(same), strict=True):
        np.testing.assert_array_equal(first, second)


def test_stratified_take_keeps_proportions_and_the_first_rows_of_each_class() -> None:
    labels = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 2, 2])
    taken = stratified_take(labels, 6, n_classes=3)
    # Quotas 3.5, 1.5, 1: floors 3, 1, 1 and the row left over goes to class 0 (tie), so
    # class 0 gives its first four rows (0, 2, 3, 5), class 1 row 1 and class 2 row 10.
    np.testing.assert_array_equal(taken, [0, 1, 2, 3, 5, 10])


def test_stratified_take_gives_every_class_a_row_when_there_are_enough_rows() -> None:
    labels = np.array([0] * 98 + [1, 2])
    taken = stratified_take(labels, 3, n_classes=3)
    np.testing.assert_array_equal(np.bincount(labels[taken], minlength=3), [1, 1, 1])


@pytest.mark.parametrize(
    ("name", "options", "expected_fragments"),
    [
        ("mnist", {}, ["dataset.name", "mnist", "sincos", "iris"]),
        ("moons", {"width": 3}, ["dataset.width", "3", "n_samples", "noise", "n_test"]),
        ("xor", {"noise": 0.1}, ["dataset.noise", "0.1", "xor", "none"]),
        ("iris", {"n_train": 0}, ["dataset.n_train", "0", "3..100"]),
        ("iris", {"n_train": 500}, ["dataset.n_train", "500", "100 training rows", "3..100"]),
        ("iris", {"n_train": 2}, ["dataset.n_train", "2", "3..100", "one per class"]),
        ("moons", {"n_train": 1}, ["dataset.n_train", "1", "2..200", "one per class"]),
        ("sincos", {"n_train": 2.5}, ["dataset.n_train", "2.5", "1..9600"]),
        ("moons", {"noise": -0.5}, ["dataset.noise", "-0.5", ">= 0"]),
        ("moons3", {"noise": float("nan")}, ["dataset.noise", "nan", ">= 0"]),
        ("moons", {"n_samples": 1}, ["dataset.n_samples", "1", ">= 2"]),
        ("moons3", {"n_test": 2}, ["dataset.n_test", "2", ">= 3"]),
        ("sincos", {"n_samples": 0}, ["dataset.n_samples", "0", ">= 1"]),
        ("sincos", {"n_test": True}, ["dataset.n_test", "True", ">= 1"]),
        ("sincos", {"target_noise": -0.1}, ["dataset.target_noise", "-0.1", ">= 0"]),
        ("moons", {"target_noise": 0.1}, ["dataset.target_noise", "0.1", "n_samples, noise, "
                                                                        "n_test"]),
        ("iris", {"train_fraction": 1.5}, ["dataset.train_fraction", "1.5", "(0, 1)"]),
        ("iris", {"train_fraction": 0.01}, ["dataset.train_fraction", "0.01", "3..147"]),
    ],
)
def test_a_bad_request_raises_a_one_line_value_error_naming_parameter_and_value(
    name: str, options: dict[str, Any], expected_fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as caught:
        load_dataset(name, rng(), **options)
    message = str(caught.value)
    assert "\n" not in message
    key, value = expected_fragments[:2]
    assert message.startswith(f"{key}={value} is invalid; allowed: ")
    for fragment in expected_fragments[2:]:
        assert fragment in message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_option_of_every_dataset_is_checked(name: str) -> None:
    options = [option for option in inspect.signature(DATASETS[name]).parameters
               if option != "rng"]
    for option in options:
        with pytest.raises(ConfigError, match=rf"^dataset\.{option}=-1 is invalid; allowed: "):
            load_dataset(name, rng(), **{option: -1})


def test_load_dataset_rejects_a_seed_in_place_of_a_generator() -> None:
    with pytest.raises(TypeError, match="Generator"):
        load_dataset("moons", 0)  # type: ignore[arg-type]


def test_importing_nnlab_data_pulls_in_only_numpy_and_the_standard_library() -> None:
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import nnlab.data\n"
        "new = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(sorted(new - set(sys.stdlib_module_names) - {'numpy', 'nnlab'}))\n"
        "print(sorted({'hydra', 'omegaconf', 'mlflow', 'sklearn', 'pandas', 'scipy'}"
        " & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == ["[]", "[]"]
