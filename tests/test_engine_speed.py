"""What the engine's fast paths must keep: the same arithmetic as the plain formulas.

The training step packs the parameters into one buffer, gathers large shuffled batches at each
step, checks finiteness with a sum first and takes the softmax's column maxima row by row; each
must give exactly what the straightforward version gives.
"""

import numpy as np
import pytest

from nnlab.engine import ACTIVATIONS, Init, TrainConfig, init_network, train
from nnlab.engine.activations import relu_derivative
from nnlab.engine.network import pack_parameters, weight_mask
from nnlab.engine.training import GATHER_BATCH_BYTES, objective_and_gradients


def test_packed_parameters_keep_their_values_and_share_one_buffer():
    net = init_network([3, 5, 2], "tanh", "identity", Init("xavier"), np.random.default_rng(0))
    before = [p.copy() for p in net.weights + net.biases]
    flat, blocks = pack_parameters(net)
    assert flat.size == sum(p.size for p in before)
    for param, value in zip(net.weights + net.biases, before, strict=True):
        assert np.shares_memory(param, flat)
        np.testing.assert_array_equal(param, value)
    for block, w, b in zip(blocks, net.weights, net.biases, strict=True):
        np.testing.assert_array_equal(block, np.vstack([w, b]))  # [W_i; b_i]
    flat += 1.0  # an update of the buffer is an update of every parameter
    np.testing.assert_array_equal(net.biases[-1], before[-1] + 1.0)


def test_the_weight_mask_marks_the_weights_of_the_packed_layout():
    net = init_network([3, 5, 2], "tanh", "identity", Init("xavier"), np.random.default_rng(0))
    flat, _ = pack_parameters(net)
    mask = weight_mask(net.sizes, flat.dtype)
    weights = np.concatenate([w.ravel() for w in net.weights])
    assert sorted(flat[mask == 1]) == sorted(weights)
    assert sorted(flat[mask == 0]) == sorted(np.concatenate(net.biases))


@pytest.mark.parametrize("features", [2, 120])
def test_a_shuffled_epoch_is_sgd_on_the_permutations_batches_in_order(features):
    """Small batches are cut from a shuffled copy of the set, large ones gathered per step:
    both are exactly SGD on the batches of the epoch's permutation, taken in order."""
    rows, batch, lr = 300, 100, 0.05
    batch_bytes = batch * features * 8
    assert (batch_bytes >= GATHER_BATCH_BYTES) == (features == 120)  # one of each path
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, features))
    y = rng.integers(0, 3, rows)
    config = TrainConfig(loss="cross_entropy", lr=lr, epochs=1, batch_size=batch, l2=0.01,
                         reduction="sum")

    def fresh():
        return init_network([features, 7, 3], "relu", "softmax", Init("xavier"),
                            np.random.default_rng(2))

    trained = fresh()
    result = train(trained, x, y, config, np.random.default_rng(3))

    reference = fresh()
    order = np.random.default_rng(3).permutation(rows)
    losses = []
    for lo in range(0, rows, batch):
        rows_of_batch = order[lo:lo + batch]
        objective, weight_grads, bias_grads = objective_and_gradients(
            reference, x[rows_of_batch], y[rows_of_batch], config, n_train=rows)
        losses.append(objective / batch)
        for param, grad in zip(reference.weights + reference.biases,
                               weight_grads + bias_grads, strict=True):
            param += grad * -lr
    np.testing.assert_allclose(result.loss_history, losses, rtol=1e-12)
    for got, want in zip(trained.weights + trained.biases,
                         reference.weights + reference.biases, strict=True):
        np.testing.assert_array_equal(got, want)


def test_finite_data_whose_sum_overflows_are_accepted():
    x = np.full((64, 1), 1e308)
    y = np.full((64, 2), 3e38, dtype=np.float32)
    net = init_network([1, 2], "tanh", "identity", Init("normal", std=0.0),
                       np.random.default_rng(0))
    # A zero network stays finite on any input for one step at a tiny learning rate.
    train(net, x, y, TrainConfig(lr=1e-300, steps=1), np.random.default_rng(0))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_one_non_finite_value_among_overflowing_ones_is_still_found(bad):
    x = np.full((64, 1), 1e308)
    x[17, 0] = bad
    net = init_network([1, 2], "tanh", "identity", Init("xavier"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="x=non-finite"):
        train(net, x, np.zeros((64, 2)), TrainConfig(), np.random.default_rng(0))


@pytest.mark.parametrize("columns", [1, 2, 3, 10])
def test_softmax_is_exp_over_the_column_sum_of_exp(columns):
    # A sample per column: `columns` classes are rows.
    z = np.random.default_rng(columns).normal(scale=5.0, size=(columns, 50))
    expected = np.exp(z - z.max(axis=0, keepdims=True))
    expected /= expected.sum(axis=0, keepdims=True)
    ACTIVATIONS["softmax"](z)
    np.testing.assert_allclose(z, expected, rtol=1e-14)


def test_relu_derivative_is_the_mask_of_active_units():
    a = np.array([[0.0, 2.0, -0.0, 0.5]])
    delta = np.array([[3.0, -4.0, 5.0, -6.0]])
    relu_derivative(a, delta, np.empty_like(a))
    np.testing.assert_array_equal(delta, [[0.0, -4.0, 0.0, -6.0]])
    assert not np.signbit(delta[0, 2])  # as a 0/1 mask gives, however the zero was signed

