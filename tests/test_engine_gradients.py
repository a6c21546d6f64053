"""Every analytic gradient against central finite differences (float64)."""

import itertools

import numpy as np
import pytest

from nnlab.engine import HIDDEN_ACTIVATIONS, Init, TrainConfig, init_network
from nnlab.engine.regularizers import penalty
from nnlab.engine.training import objective_and_gradients

# Each loss with the outputs it is defined on.
LOSS_OUTPUTS = [
    ("squared", "identity"),
    ("squared", "sigmoid"),
    ("squared", "relu"),
    ("absolute", "identity"),
    ("absolute", "sigmoid"),
    ("logloss", "sigmoid"),
    ("cross_entropy", "softmax"),
]
REGULARIZATION = [(0.0, 0.0), (0.03, 0.0), (0.0, 0.05), (0.02, 0.04)]


def _problem(loss: str, output: str, activation: str, hidden: list[int], seed: int = 0):
    rng = np.random.default_rng(seed)
    n_out = 1 if loss == "logloss" else 3
    sizes = [4, *hidden, n_out]
    # The relu output kinks at 0: start it in its linear part so differences do not straddle it.
    init = Init("normal", mean=0.3 if output == "relu" else 0.0, std=0.5, bias="same")
    net = init_network(sizes, activation, output, init, rng)
    x = rng.normal(size=(7, 4))
    if loss in ("logloss", "cross_entropy"):
        y = rng.integers(0, max(n_out, 2), size=7)
    else:
        y = rng.normal(size=(7, n_out)) + 3.0  # far from the outputs: |y - t| has no kink nearby
    return net, x, y


def _numerical_gradient(net, x, y, config, param: np.ndarray, h: float = 1e-6,
                        n_train: int | None = None) -> np.ndarray:
    grad = np.empty_like(param)
    for index in np.ndindex(param.shape):
        saved = param[index]
        param[index] = saved + h
        plus = objective_and_gradients(net, x, y, config, n_train)[0]
        param[index] = saved - h
        minus = objective_and_gradients(net, x, y, config, n_train)[0]
        param[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize(("loss", "output"), LOSS_OUTPUTS)
@pytest.mark.parametrize(("l1", "l2"), REGULARIZATION)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_matches_finite_differences(activation, loss, output, l1, l2, reduction):
    net, x, y = _problem(loss, output, activation, hidden=[5, 3])
    config = TrainConfig(loss=loss, l1=l1, l2=l2, reduction=reduction)
    _, weight_grads, bias_grads = objective_and_gradients(net, x, y, config)
    analytic = [g.copy() for g in weight_grads + bias_grads]
    for param, grad in zip(net.weights + net.biases, analytic, strict=True):
        numeric = _numerical_gradient(net, x, y, config, param)
        assert _relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize(("l1", "l2"), REGULARIZATION[1:])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_of_a_batch_of_a_larger_training_set_matches_finite_differences(
        activation, l1, l2, reduction):
    # The 7 rows as one batch of 70: on "sum" the penalty weighs 7/70 in the batch's objective.
    net, x, y = _problem("squared", "identity", activation, hidden=[5, 3])
    config = TrainConfig(l1=l1, l2=l2, reduction=reduction)
    _, weight_grads, bias_grads = objective_and_gradients(net, x, y, config, n_train=70)
    analytic = [g.copy() for g in weight_grads + bias_grads]
    for param, grad in zip(net.weights + net.biases, analytic, strict=True):
        numeric = _numerical_gradient(net, x, y, config, param, n_train=70)
        assert _relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize(("reduction", "weight"), [("sum", 7 / 70), ("mean", 1.0)])
def test_a_batch_objective_weighs_the_penalty_by_b_over_n_on_sum_and_by_1_on_mean(
        reduction, weight):
    net, x, y = _problem("squared", "identity", "tanh", hidden=[5])
    data_term = objective_and_gradients(net, x, y, TrainConfig(reduction=reduction))[0]
    l1, l2 = 0.02, 0.04
    config = TrainConfig(l1=l1, l2=l2, reduction=reduction)
    penalized = objective_and_gradients(net, x, y, config, n_train=70)[0]
    assert penalized == pytest.approx(data_term + weight * penalty(net.weights, l1, l2), rel=1e-12)
    # The batch that is the whole training set is weighed as the whole set, on both reductions.
    whole = objective_and_gradients(net, x, y, config)[0]
    assert whole == pytest.approx(data_term + penalty(net.weights, l1, l2), rel=1e-12)


@pytest.mark.parametrize(("loss", "output"), LOSS_OUTPUTS)
def test_gradient_of_net_without_hidden_layer_matches_finite_differences(loss, output):
    net, x, y = _problem(loss, output, "tanh", hidden=[])
    config = TrainConfig(loss=loss, l2=0.01)
    _, weight_grads, bias_grads = objective_and_gradients(net, x, y, config)
    for param, grad in zip(net.weights + net.biases, weight_grads + bias_grads, strict=True):
        analytic = grad.copy()
        assert _relative_error(analytic, _numerical_gradient(net, x, y, config, param)) < 1e-6


def test_one_hot_and_integer_labels_give_the_same_gradient():
    net, x, y = _problem("cross_entropy", "softmax", "relu", hidden=[5])
    y = y.astype(np.int64)  # class labels
    config = TrainConfig(loss="cross_entropy")
    cost_labels, wg, bg = objective_and_gradients(net, x, y, config)
    from_labels = [g.copy() for g in wg + bg]
    cost_onehot, wg, bg = objective_and_gradients(net, x, np.eye(3)[y], config)
    assert cost_labels == pytest.approx(cost_onehot)
    for a, b in itertools.zip_longest(from_labels, wg + bg):
        np.testing.assert_allclose(a, b)
