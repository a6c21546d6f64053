"""The training loop: minibatch SGD on a cost, with divergence detection.

The minimized objective on a batch of m rows is  s * sum_i cost_i + penalty(W),  with s = 1/m
(`reduction="mean"`) or s = 1 (`reduction="sum"`: the moons and iris tutorials take steps on the
summed cost, so their learning rates only make sense that way). The loss recorded for each step is
that objective divided by s * m, i.e. the mean per-sample cost plus the penalty on the same scale.
"""

import math
import time
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from nnlab.constraints import Interval, NoneOr, Options, check_values, require
from nnlab.engine.activations import DERIVATIVES
from nnlab.engine.initializers import INIT_CONSTRAINTS, Init
from nnlab.engine.losses import FUSED_OUTPUT, LOSS_GRADIENTS, LOSSES
from nnlab.engine.network import (
    NETWORK_CONSTRAINTS,
    Network,
    Workspace,
    allocate_workspace,
    backward_pass,
    forward_pass,
)
from nnlab.engine.optimizer import sgd_step
from nnlab.engine.regularizers import add_penalty_gradient, penalty
from nnlab.engine.schedules import SCHEDULES, Schedule, learning_rates

REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "squared"
    lr: float = 0.1
    epochs: int = 1
    batch_size: int | None = None  # None: the full training set
    reduction: str = "mean"
    l1: float = 0.0
    l2: float = 0.0
    momentum: float = 0.0
    schedule: Schedule = field(default_factory=Schedule)


# Keyed by the names users type: the schedule's fields are lr_schedule and lr_decay_* there.
TRAIN_CONSTRAINTS = {
    "loss": Options(LOSSES),
    "lr": Interval(Real, 0, None, closed="neither"),
    "epochs": Interval(Integral, 1, None),
    "batch_size": NoneOr(Interval(Integral, 1, None), "the full batch"),
    "reduction": Options(REDUCTIONS),
    "l1": Interval(Real, 0, None),
    "l2": Interval(Real, 0, None),
    "momentum": Interval(Real, 0, 1, closed="left"),
    "lr_schedule": Options(SCHEDULES),
    "lr_decay_rate": Interval(Real, 0, None, closed="neither"),
    "lr_decay_steps": Interval(Integral, 1, None),
}


def _settings(config: TrainConfig) -> dict[str, object]:
    """`config` as the settings TRAIN_CONSTRAINTS names."""
    schedule = config.schedule
    return {**vars(config), "lr_schedule": schedule.name, "lr_decay_rate": schedule.decay_rate,
            "lr_decay_steps": schedule.decay_steps}


@dataclass(frozen=True)
class TrainResult:
    loss_history: np.ndarray  # the recorded loss of every step taken, before its update
    steps: int  # optimizer updates performed
    diverged_at: int | None  # the step whose loss (or resulting weights) was not finite
    train_time_s: float  # wall time of the loop alone


def encode_targets(y: np.ndarray, n_outputs: int, dtype: np.dtype) -> np.ndarray:
    """Targets as a (rows, n_outputs) matrix: integer labels become a 0/1 column (one output)
    or one-hot rows (several outputs); a matrix passes through."""
    y = np.asarray(y)
    if y.ndim == 1:
        if n_outputs == 1:
            return y.astype(dtype)[:, None]
        require(
            np.issubdtype(y.dtype, np.integer) and y.min() >= 0 and y.max() < n_outputs,
            "y", f"labels {sorted(set(y.tolist()))[:10]}", f"integer labels 0..{n_outputs - 1}",
        )
        return np.eye(n_outputs, dtype=dtype)[y]
    require(y.ndim == 2 and y.shape[1] == n_outputs, "y", f"shape {y.shape}",
          f"(rows,) labels or (rows, {n_outputs}) targets")
    return y.astype(dtype)


def validate(net: Network, x: np.ndarray, y: np.ndarray, config: TrainConfig) -> None:
    """Check everything once, at the edge, so that the loop can trust its inputs."""
    check_values(NETWORK_CONSTRAINTS, vars(net))
    check_values(TRAIN_CONSTRAINTS, _settings(config))
    fused_output = FUSED_OUTPUT.get(config.loss)
    if fused_output is not None:
        require(net.output == fused_output, "output", net.output,
              f"{fused_output} (the only output {config.loss} is defined on)")
    else:
        require(net.output in DERIVATIVES, "output", net.output,
              f"one of {sorted(DERIVATIVES)} with loss={config.loss}")
    require(x.ndim == 2 and x.shape[0] >= 1 and x.shape[1] == net.sizes[0], "x",
          f"shape {x.shape}", f"(rows >= 1, {net.sizes[0]}) for this network")
    require(y.shape[0] == x.shape[0], "y", f"{y.shape[0]} rows", f"{x.shape[0]} rows, as x")
    require(bool(np.isfinite(x).all()), "x", "non-finite values", "finite inputs")
    require(bool(np.isfinite(y).all()), "y", "non-finite values", "finite targets")


def validate_network(activation: str, output: str, init: Init) -> None:
    """Check a network's settings before it is drawn (`init_network` trusts them)."""
    check_values(NETWORK_CONSTRAINTS, {"activation": activation, "output": output})
    check_values(INIT_CONSTRAINTS, vars(init), prefix="init.")
    require(init.high >= init.low, "init.high", init.high, f"a float >= init.low ({init.low})")


def _gradient_step(
    net: Network, ws: Workspace, x: np.ndarray, targets: np.ndarray, config: TrainConfig
) -> float:
    """Forward, cost and backward on one batch; returns the recorded loss (see module doc).
    The gradients of the objective are left in ws.weight_grads and ws.bias_grads."""
    rows = x.shape[0]
    activations, deltas, loss_scratch, ones = ws.rows(rows)
    scale = 1.0 / rows if config.reduction == "mean" else 1.0
    output = forward_pass(net, x, activations)
    data_cost = LOSSES[config.loss](output, targets, loss_scratch)
    LOSS_GRADIENTS[config.loss](output, targets, deltas[-1])
    if config.loss not in FUSED_OUTPUT:
        DERIVATIVES[net.output](output, deltas[-1])
    deltas[-1] *= scale
    backward_pass(net, x, activations, deltas, ws.weight_grads, ws.bias_grads, ones)
    reg_cost = 0.0
    if config.l1 or config.l2:
        reg_cost = penalty(net.weights, config.l1, config.l2)
        add_penalty_gradient(net.weights, ws.weight_grads, config.l1, config.l2,
                             ws.weight_scratch)
    return (scale * data_cost + reg_cost) / (scale * rows)


def objective_and_gradients(
    net: Network, x: np.ndarray, y: np.ndarray, config: TrainConfig
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """The objective minimized on the batch (x, y) and its exact gradients (for checking)."""
    targets = encode_targets(y, net.sizes[-1], net.dtype)
    ws = allocate_workspace(net, x.shape[0])
    recorded = _gradient_step(net, ws, np.asarray(x, net.dtype), targets, config)
    scale = 1.0 / x.shape[0] if config.reduction == "mean" else 1.0
    return recorded * scale * x.shape[0], ws.weight_grads, ws.bias_grads


def train(
    net: Network, x: np.ndarray, y: np.ndarray, config: TrainConfig, rng: np.random.Generator
) -> TrainResult:
    """Train `net` in place; shuffling (per epoch, minibatches only) draws from `rng`."""
    x = np.asarray(x)
    y = np.asarray(y)
    validate(net, x, y, config)
    x = np.asarray(x, dtype=net.dtype)  # only read: no copy when the dtype already matches
    targets = encode_targets(y, net.sizes[-1], net.dtype)
    n = x.shape[0]
    batch = n if config.batch_size is None else min(config.batch_size, n)
    steps_per_epoch = math.ceil(n / batch)
    n_steps = steps_per_epoch * config.epochs
    lrs = learning_rates(config.schedule, config.lr, n_steps).tolist()
    history = np.full(n_steps, np.nan)
    ws = allocate_workspace(net, batch)
    params = net.weights + net.biases
    grads = ws.weight_grads + ws.bias_grads
    velocities = [np.zeros_like(p) for p in params] if config.momentum else None
    shuffle = batch < n
    x_epoch, t_epoch = (np.empty_like(x), np.empty_like(targets)) if shuffle else (x, targets)
    bounds = [(start, min(start + batch, n)) for start in range(0, n, batch)]

    step, diverged_at = 0, None
    start_time = time.perf_counter()
    # Overflow on the way to a divergence is expected; it is detected and reported below.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(config.epochs):
            if shuffle:
                order = rng.permutation(n)
                # mode="clip" lets take write straight into `out` (with the default "raise" it
                # buffers); a permutation has no index to clip.
                np.take(x, order, axis=0, out=x_epoch, mode="clip")
                np.take(targets, order, axis=0, out=t_epoch, mode="clip")
            for lo, hi in bounds:
                loss = _gradient_step(net, ws, x_epoch[lo:hi], t_epoch[lo:hi], config)
                history[step] = loss
                if not math.isfinite(loss):
                    diverged_at = step
                    break
                sgd_step(params, grads, lrs[step], config.momentum, velocities)
                step += 1
            if diverged_at is not None:
                break
    train_time_s = time.perf_counter() - start_time
    # A divergence inside the loop recorded its non-finite loss; after the loop there is none.
    recorded = step + 1 if diverged_at is not None else step
    if diverged_at is None and not all(np.isfinite(p).all() for p in params):
        diverged_at = step
    return TrainResult(history[:recorded], step, diverged_at, train_time_s)
