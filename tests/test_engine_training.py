"""The training loop, the numerics and the argument checks of the engine."""

import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from nnlab.data import load_dataset
from nnlab.engine import (
    ACTIVATIONS,
    Init,
    Schedule,
    TrainConfig,
    classification_metrics,
    dead_outputs_frac,
    dead_units_frac,
    init_network,
    mean_cost,
    predict,
    regression_metrics,
    train,
    validate_network,
)
from nnlab.engine.losses import LOSSES
from nnlab.engine.schedules import learning_rates


def _regression(seed: int = 0, rows: int = 64):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(rows, 1))
    return x, np.hstack([np.sin(x), np.cos(x)])


def _fit(seed: int, config: TrainConfig, dtype: npt.DTypeLike = np.float64, hidden=(8,),
         activation="tanh"):
    x, y = _regression()
    net = init_network([1, *hidden, 2], activation, "identity", Init("lecun"),
                       np.random.default_rng(seed), dtype)
    return net, train(net, x, y, config, np.random.default_rng(seed + 100))


def test_same_seed_gives_identical_weights_and_history():
    config = TrainConfig(lr=0.5, epochs=5, batch_size=10)
    net_a, result_a = _fit(3, config)
    net_b, result_b = _fit(3, config)
    np.testing.assert_array_equal(result_a.loss_history, result_b.loss_history)
    for wa, wb in zip(net_a.weights, net_b.weights, strict=True):
        np.testing.assert_array_equal(wa, wb)
    _, result_c = _fit(4, config)
    assert not np.array_equal(result_a.loss_history, result_c.loss_history)


def test_history_has_one_loss_per_step_and_training_lowers_it():
    _, result = _fit(0, TrainConfig(lr=0.5, epochs=20, batch_size=10))
    assert result.steps == 20 * 7  # 64 rows in batches of 10: 7 steps per epoch
    assert result.loss_history.shape == (result.steps,)
    assert result.diverged_at is None
    assert result.loss_history[-10:].mean() < 0.2 * result.loss_history[:10].mean()


def test_full_batch_takes_one_step_per_epoch():
    _, result = _fit(0, TrainConfig(lr=0.5, epochs=13))
    assert result.steps == 13


def test_steps_stop_the_run_after_that_many_updates_mid_epoch():
    _, by_epochs = _fit(0, TrainConfig(lr=0.5, epochs=3, batch_size=10))  # 3 x 7 steps
    _, by_steps = _fit(0, TrainConfig(lr=0.5, epochs=1000, steps=17, batch_size=10))
    assert by_steps.steps == 17  # epochs is not read
    # The same shuffles and updates as a run by epochs, up to the 4th step of the 3rd epoch.
    np.testing.assert_array_equal(by_steps.loss_history, by_epochs.loss_history[:17])


def test_steps_of_whole_epochs_give_the_run_of_that_many_epochs():
    net_a, by_epochs = _fit(0, TrainConfig(lr=0.5, epochs=3, batch_size=10))
    net_b, by_steps = _fit(0, TrainConfig(lr=0.5, steps=21, batch_size=10))
    np.testing.assert_array_equal(by_steps.loss_history, by_epochs.loss_history)
    for wa, wb in zip(net_a.weights + net_a.biases, net_b.weights + net_b.biases, strict=True):
        np.testing.assert_array_equal(wa, wb)


def _epoch_update(config: TrainConfig) -> np.ndarray:
    """Every weight's change over the run `config` (one epoch, below), flattened."""
    x, y = _regression()
    net = init_network([1, 8, 2], "tanh", "identity", Init("lecun"), np.random.default_rng(0))
    start = np.concatenate([w.ravel() for w in net.weights])
    train(net, x, y, config, np.random.default_rng(100))
    return np.concatenate([w.ravel() for w in net.weights]) - start


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_the_penaltys_share_of_an_epochs_update_does_not_depend_on_the_batch_size(reduction):
    # At a learning rate this small the weights hardly move within the epoch, so its update is
    # the sum of its steps' gradients at the initial weights: data term and penalty add up apart.
    shares = {}
    for batch_size in (1, 8, None):
        data_only = TrainConfig(lr=1e-7, epochs=1, batch_size=batch_size, reduction=reduction)
        update = _epoch_update(replace(data_only, l2=1.0))
        data_update = _epoch_update(data_only)
        shares[batch_size] = np.linalg.norm(update - data_update) / np.linalg.norm(update)
    assert shares[None] > 0.01  # the penalty's pull is there to be measured
    assert shares[1] == pytest.approx(shares[None], rel=1e-4)
    assert shares[8] == pytest.approx(shares[None], rel=1e-4)


# Numbers of the code before the penalty was weighted by b / n_train (commit 36d807e), recorded
# on it: a full batch (b / n_train = 1) and the averaged cost descend the same objective as then.
BEFORE_THE_WEIGHTED_PENALTY = {
    "full-batch-sum": (dict(lr=0.01, epochs=300, reduction="sum", l1=1e-3, l2=1e-2),
                       (0.044926922206712926, -4.3582335624911845, 3.4578236321976563)),
    "batches-of-16-mean": (dict(lr=0.5, epochs=20, batch_size=16, reduction="mean", l2=1e-2),
                           (0.39494422977031896, 0.18997553912295712, 0.8965576941060122)),
}


@pytest.mark.parametrize(("settings", "recorded"), BEFORE_THE_WEIGHTED_PENALTY.values(),
                         ids=BEFORE_THE_WEIGHTED_PENALTY.keys())
def test_full_batch_and_averaged_runs_are_those_before_the_weighted_penalty(
        settings, recorded):
    rng = np.random.default_rng(5)
    data = load_dataset("moons", rng)
    net = init_network([2, 3, 2], "tanh", "softmax", Init("lecun"), rng)
    config = TrainConfig(loss="cross_entropy", **settings)
    result = train(net, data.x_train, data.y_train, config, rng)
    numbers = (float(result.loss_history[-1]), float(net.weights[0][0, 0]),
               float(net.weights[1][2, 1]))
    # They were equal bit for bit where they were recorded. Another BLAS kernel (another CPU,
    # OPENBLAS_CORETYPE) may round the last bits of a product otherwise; a change of objective
    # would move these numbers by far more than this.
    assert numbers == pytest.approx(recorded, rel=1e-9)


def test_float32_network_trains_in_float32():
    net, result = _fit(0, TrainConfig(lr=0.5, epochs=30, batch_size=16), dtype=np.float32)
    assert all(w.dtype == np.float32 for w in net.weights + net.biases)
    assert result.loss_history[-1] < result.loss_history[0]


def test_momentum_reaches_a_lower_loss_than_plain_sgd_at_a_small_lr():
    _, plain = _fit(0, TrainConfig(lr=0.01, epochs=30, batch_size=16))
    _, heavy = _fit(0, TrainConfig(lr=0.01, epochs=30, batch_size=16, momentum=0.9))
    assert heavy.loss_history[-5:].mean() < plain.loss_history[-5:].mean()


def test_divergence_stops_training_and_reports_the_step_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net, result = _fit(0, TrainConfig(lr=1e6, epochs=50, batch_size=8), activation="relu")
    assert result.diverged_at is not None
    assert result.steps == result.diverged_at < 50 * 8
    assert not np.isfinite(result.loss_history[-1])
    assert np.isfinite(result.loss_history[:-1]).all()


@pytest.mark.parametrize(("sizes", "output"),
                         [([1, 8, 2], "identity"), ([2, 8, 3], "softmax"), ([2, 8, 1], "sigmoid")])
def test_metrics_of_a_diverged_network_raise_no_warning(sizes, output):
    rng = np.random.default_rng(0)
    net = init_network(sizes, "relu", output, Init("normal", std=1e200), rng)
    x = rng.uniform(-1, 1, size=(16, sizes[0]))
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        predict(net, x)  # the network is one a divergence leaves: its forward pass overflows
    labels = rng.integers(0, max(sizes[-1], 2), size=16)
    targets = rng.normal(size=(16, sizes[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if output == "identity":
            assert not np.isfinite(mean_cost(net, x, targets, "squared"))
            regression_metrics(net, x, targets)
        else:
            mean_cost(net, x, labels, "squared")
            classification_metrics(net, x, labels)
        dead_units_frac(net, x)
        dead_outputs_frac(net, x)


def test_schedules_follow_their_formulas():
    assert learning_rates(Schedule("constant"), 0.3, 4).tolist() == [0.3] * 4
    exponential = learning_rates(Schedule("exponential", decay_rate=0.5, decay_steps=2), 1.0, 5)
    np.testing.assert_allclose(exponential, 0.5 ** (np.arange(5) / 2))
    inverse = learning_rates(Schedule("inverse", decay_rate=1.0, decay_steps=10), 2.0, 21)
    assert inverse[0] == 2.0 and inverse[10] == pytest.approx(1.0)
    assert inverse[20] == pytest.approx(2.0 / 3)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax", "relu", "leaky_relu"])
def test_activations_stay_finite_and_silent_for_huge_logits(name):
    z = np.array([[-1e3, 0.0, 1e3], [1e3, 1e3, -1e3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ACTIVATIONS[name](z)
    assert np.isfinite(z).all()


@pytest.mark.parametrize("loss", ["logloss", "cross_entropy"])
def test_log_losses_never_take_the_log_of_zero(loss):
    p = np.array([[0.0, 1.0], [1.0, 0.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]])  # first row: all mass on the wrong class
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = LOSSES[loss](p, y, np.empty_like(p))
    assert np.isfinite(value) and value > 30


def test_dead_units_frac_counts_relu_units_silent_on_every_sample():
    net = init_network([1, 4, 2], "relu", "identity", Init("normal", std=0.1),
                       np.random.default_rng(0))
    net.weights[0][:] = [[1.0, 1.0, -1.0, 1.0]]
    net.biases[0][:] = [0.0, -5.0, -0.5, 1.0]  # unit 1 and unit 2 never fire on x in [0, 1)
    x, _ = _regression()
    assert dead_units_frac(net, x) == 0.5


def test_dead_outputs_frac_counts_relu_outputs_silent_on_every_sample():
    net = init_network([1, 2, 3], "tanh", "relu", Init("normal", std=0.1),
                       np.random.default_rng(0))
    # |tanh| < 1 and the weights are small: the biases decide, and only output 1 never fires.
    net.biases[1][:] = [1.0, -5.0, 5.0]
    x, _ = _regression()
    assert dead_outputs_frac(net, x) == pytest.approx(1 / 3)


def test_relu_net_shifted_very_negative_is_dead_from_its_initial_weights():
    # As the init_shift experiment shifts the mean: inputs >= 0 meet weights and biases < 0.
    net = init_network([1, 16, 2], "relu", "relu", Init("normal", mean=-1.0, std=0.1, bias="same"),
                       np.random.default_rng(0))
    x, _ = _regression()
    assert dead_units_frac(net, x) == 1.0
    assert dead_outputs_frac(net, x) == 1.0


def test_net_without_hidden_layer_fits_a_line():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    y = x @ np.array([[2.0], [-1.0]]) + 0.5
    net = init_network([2, 1], "relu", "identity", Init("lecun"), rng)
    train(net, x, y, TrainConfig(lr=0.1, epochs=500), rng)
    assert mean_cost(net, x, y, "squared") < 1e-8


def _default_args():
    x, y = _regression()
    net = init_network([1, 4, 2], "tanh", "identity", Init("lecun"), np.random.default_rng(0))
    return net, x, y


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"lr": 0.0}, "lr=0.0"),
        ({"lr": -0.1}, "lr=-0.1"),
        ({"lr": float("nan")}, "lr=nan"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"epochs": 0}, "epochs=0"),
        ({"steps": 0}, "steps=0"),
        ({"steps": 2.5}, "steps=2.5"),
        ({"l1": -1.0}, "l1=-1.0"),
        ({"l2": -1e-3}, "l2=-0.001"),
        ({"loss": "hinge"}, "loss=hinge"),
        ({"loss": "cross_entropy"}, "output=identity"),
        ({"momentum": 1.0}, "momentum=1.0"),
        ({"schedule": Schedule("cosine")}, "lr_schedule=cosine"),
        ({"lr": float("inf")}, "lr=inf"),
        ({"l2": float("inf")}, "l2=inf"),
        ({"batch_size": 2.5}, "batch_size=2.5"),
        ({"epochs": True}, "epochs=True"),
        ({"schedule": Schedule("exponential", decay_steps=0)}, "lr_decay_steps=0"),
        ({"schedule": Schedule("inverse", decay_rate=0.0)}, "lr_decay_rate=0.0"),
    ],
)
def test_bad_training_arguments_raise_one_line_naming_them(change, needle):
    net, x, y = _default_args()
    with pytest.raises(ValueError, match="allowed") as error:
        train(net, x, y, TrainConfig(**change), np.random.default_rng(0))
    assert needle in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("init", "message"),
    [
        (Init("normal", std=-1.0), "init.std=-1.0 is invalid; allowed: a finite float >= 0"),
        (Init("normal", mean=float("nan")), "init.mean=nan is invalid; allowed: a finite float"),
        (Init("uniform", low=1.0, high=0.0),
         "init.high=0.0 is invalid; allowed: a float >= init.low (1.0)"),
        (Init("kaiming"), "init.scheme=kaiming is invalid; allowed: normal, uniform, lecun, "
                          "xavier, glorot, he"),
        (Init(bias="ones"), "init.bias=ones is invalid; allowed: zero, same"),
    ],
)
def test_bad_initial_weights_settings_raise_the_one_message_before_any_draw(init, message):
    with pytest.raises(ValueError) as error:
        validate_network("relu", "identity", init)
    assert str(error.value) == message


def test_unknown_activation_is_named_with_the_allowed_ones():
    net, x, y = _default_args()
    net.activation = "swish"
    with pytest.raises(ValueError, match=r"activation=swish .*relu"):
        train(net, x, y, TrainConfig(), np.random.default_rng(0))


@pytest.mark.parametrize(
    ("x_change", "y_change", "needle"),
    [
        (lambda x: x[:, [0, 0]], None, "x=shape (64, 2)"),
        (None, lambda y: y[:10], "y=10 rows"),
        (lambda x: np.where(x > 0.5, np.inf, x), None, "x=non-finite"),
        (None, lambda y: np.where(y > 0.9, np.nan, y), "y=non-finite"),
        (None, lambda y: y[:, :1], "y=shape (64, 1)"),
    ],
)
def test_bad_data_raises_one_line_naming_it(x_change, y_change, needle):
    net, x, y = _default_args()
    x = x_change(x) if x_change else x
    y = y_change(y) if y_change else y
    with pytest.raises(ValueError, match="allowed") as error:
        train(net, x, y, TrainConfig(), np.random.default_rng(0))
    assert needle in str(error.value)


def test_engine_and_data_import_neither_hydra_nor_mlflow():
    code = (
        "import sys, nnlab.engine, nnlab.data; "
        "print(sorted(m for m in ('hydra', 'mlflow', 'omegaconf', 'sklearn', 'pandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
