"""Every analytic gradient against central finite differences (float64)."""

import itertools

import numpy as np
import pytest

from nnlab.engine import HIDDEN_ACTIVATIONS, Init, TrainConfig, init_network
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


def _numerical_gradient(net, x, y, config, param: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(param)
    for index in np.ndindex(param.shape):
        saved = param[index]
        param[index] = saved + h
        plus = objective_and_gradients(net, x, y, config)[0]
        param[index] = saved - h
        minus = objective_and_gradients(net, x, y, config)[0]
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
