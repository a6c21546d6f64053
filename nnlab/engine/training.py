"""The training loop: minibatch SGD on a cost, with divergence detection.

The objective of a run is the cost over its whole training set of n rows plus the penalty:

    J(W) = sum_i cost_i + penalty(W)          (reduction="sum")
    J(W) = 1/n sum_i cost_i + penalty(W)      (reduction="mean")

The moons and iris tutorials take steps on the summed cost, so their learning rates only make
sense on "sum". A step on a batch B of b of the n rows descends

    J_B(W) = sum_{i in B} cost_i + b/n penalty(W)      (sum)
    J_B(W) = 1/b sum_{i in B} cost_i + penalty(W)      (mean)

an unbiased estimate of b/n J (sum) or of J (mean). Either way the penalty's weight against the
data term does not depend on the batch size: on "sum", the b/n of an epoch's batches add up to
one, so that the penalty of an epoch pulls the weights as far as that of one full-batch step;
on "mean", every step is an estimate of the whole gradient. A full batch descends J itself.

The loss recorded for each step is J_B / b on "sum" and J_B on "mean": the batch's mean cost plus
penalty / n (sum) or penalty (mean), i.e. the whole set's objective per sample (J / n, or J),
estimated on the batch.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from nnlab.constraints import Interval, NoneOr, Options, check_values, require
from nnlab.engine.activations import DERIVATIVES
from nnlab.engine.initializers import INIT_CONSTRAINTS, Init
from nnlab.engine.losses import COSTS_AND_GRADIENTS, FUSED_OUTPUT, LOSSES
from nnlab.engine.network import (
    NETWORK_CONSTRAINTS,
    Buffers,
    Network,
    allocate_buffers,
    backward_pass,
    forward_pass,
    layer_blocks,
    layer_functions,
    pack_parameters,
    weight_mask,
    with_ones,
)
from nnlab.engine.optimizer import sgd_step
from nnlab.engine.regularizers import add_penalty_gradient
from nnlab.engine.schedules import SCHEDULES, Schedule, learning_rates

REDUCTIONS = ("mean", "sum")

# From this size on, a shuffled batch is gathered at each step rather than cut from a shuffled
# copy of the whole training set (see train): moving a batch this large costs much more than the
# two calls its gather adds, while for a tiny net's batch those calls would be a tenth of a step.
GATHER_BATCH_BYTES = 64 * 1024


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "squared"
    lr: float = 0.1
    epochs: int = 1
    steps: int | None = None  # the run's length in updates; None: `epochs` passes
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
    "steps": NoneOr(Interval(Integral, 1, None), "epochs sets the length"),
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
    require(_all_finite(x), "x", "non-finite values", "finite inputs")
    require(_all_finite(y), "y", "non-finite values", "finite targets")


def _all_finite(a: np.ndarray) -> bool:
    """Whether every element of `a` is finite."""
    # NaN and inf propagate into a sum: a finite sum is one pass and no temporary. Only when it
    # is not (a non-finite value, or a sum that overflowed) is every element checked.
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(a.sum())) or bool(np.isfinite(a).all())


def validate_network(activation: str, output: str, init: Init) -> None:
    """Check a network's settings before it is drawn (`init_network` trusts them)."""
    check_values(NETWORK_CONSTRAINTS, {"activation": activation, "output": output})
    check_values(INIT_CONSTRAINTS, vars(init), prefix="init.")
    require(init.high >= init.low, "init.high", init.high, f"a float >= init.low ({init.low})")


def penalty_weight(rows: int, n_train: int, reduction: str) -> float:
    """The penalty's weight in the objective of a batch of `rows` of the `n_train` training rows
    (module doc): rows / n_train on the summed cost, 1 on the averaged one."""
    return rows / n_train if reduction == "sum" else 1.0


@dataclass(frozen=True)
class _Step:
    """What every step of a run uses: the network's views of the packed parameters, their
    gradients' buffer, and the run's rules, each looked up once."""

    params: np.ndarray  # flat (network.pack_parameters)
    blocks_t: list[np.ndarray]  # [W_i; b_i]^T: views of params
    weights: list[np.ndarray]  # W_i: views of params
    gradients: np.ndarray  # flat, laid out like params
    gradient_blocks: list[np.ndarray]  # views of gradients
    functions: list[Callable[[np.ndarray], None]]  # each layer's activation
    derivative: Callable[[np.ndarray, np.ndarray, np.ndarray], None]  # the hidden layers'
    cost_and_gradient: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]
    output_derivative: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None  # None: 1
    mean: bool  # reduction="mean"
    penalized: bool
    penalty_scratch: np.ndarray  # shaped like params


@dataclass(frozen=True)
class _Batch:
    """The views one batch's step reads and writes, made once for the run."""

    inputs: list[np.ndarray]  # every layer's input [A_i; 1], the data's first (a view)
    targets: np.ndarray  # (outputs, rows): a sample per column, as the output
    buffers: Buffers
    scale: float  # of the summed cost in the objective: 1/rows (mean) or 1 (sum)
    rows: int
    l1_mask: np.ndarray | None  # the penalties at the batch's weight (see penalty_weight)
    l2_mask: np.ndarray | None


def _step_of(net: Network, config: TrainConfig) -> _Step:
    """Pack `net`'s parameters (its weights and biases become views of them) for training."""
    params, blocks = pack_parameters(net)
    gradients = np.empty_like(params)
    fused = config.loss in FUSED_OUTPUT
    return _Step(
        params=params,
        blocks_t=[block.T for block in blocks],
        weights=list(net.weights),
        gradients=gradients,
        gradient_blocks=layer_blocks(gradients, net.sizes),
        functions=layer_functions(net),
        derivative=DERIVATIVES[net.activation],
        cost_and_gradient=COSTS_AND_GRADIENTS[config.loss],
        output_derivative=None if fused or net.output == "identity" else DERIVATIVES[net.output],
        mean=config.reduction == "mean",
        penalized=bool(config.l1 or config.l2),
        penalty_scratch=np.empty_like(params),
    )


def _batch_of(step: _Step, x_t: np.ndarray, targets: np.ndarray, buffers: Buffers,
              weight: float, config: TrainConfig, mask: np.ndarray) -> _Batch:
    rows = x_t.shape[1]
    return _Batch(
        inputs=buffers.inputs(x_t),
        targets=targets,
        buffers=buffers,
        scale=1.0 / rows if step.mean else 1.0,
        rows=rows,
        l1_mask=weight * config.l1 * mask if config.l1 else None,
        l2_mask=weight * config.l2 * mask if config.l2 else None,
    )


def _gradient_step(step: _Step, batch: _Batch) -> float:
    """Forward, cost and backward on one batch; returns the recorded loss (see module doc). The
    gradients of the batch's objective are left in step.gradients."""
    buffers = batch.buffers
    output = forward_pass(step.blocks_t, batch.inputs, buffers.outputs, step.functions)
    delta = buffers.deltas[-1]
    data_cost = step.cost_and_gradient(output, batch.targets, delta, buffers.loss_scratch)
    if step.output_derivative is not None:
        step.output_derivative(output, delta, buffers.loss_scratch)
    if step.mean:  # a multiply by 1 changes nothing: on "sum", no call
        delta *= buffers.inverse_rows
    backward_pass(step.weights, batch.inputs, buffers, step.gradient_blocks, step.derivative)
    reg_cost = 0.0
    if step.penalized:
        reg_cost = add_penalty_gradient(step.params, step.gradients, batch.l1_mask,
                                        batch.l2_mask, step.penalty_scratch)
    return (batch.scale * data_cost + reg_cost) / (batch.scale * batch.rows)


def objective_and_gradients(
    net: Network, x: np.ndarray, y: np.ndarray, config: TrainConfig, n_train: int | None = None
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """The objective J_B minimized on the batch (x, y) of a training set of `n_train` rows
    (None: the batch is the whole set) and its exact gradients (for checking); `net` is left
    as it is."""
    rows = x.shape[0]
    weight = penalty_weight(rows, rows if n_train is None else n_train, config.reduction)
    copy = Network([w.copy() for w in net.weights], [b.copy() for b in net.biases],
                   net.activation, net.output)
    step = _step_of(copy, config)
    targets = np.ascontiguousarray(encode_targets(y, net.sizes[-1], net.dtype).T)
    x_t = with_ones(np.asarray(x, net.dtype)).T
    buffers = allocate_buffers(net.sizes, rows, net.dtype)
    batch = _batch_of(step, x_t, targets, buffers, weight, config,
                      weight_mask(net.sizes, net.dtype))
    recorded = _gradient_step(step, batch)
    return (recorded * batch.scale * rows,
            [g[:-1] for g in step.gradient_blocks], [g[-1] for g in step.gradient_blocks])


def train(
    net: Network, x: np.ndarray, y: np.ndarray, config: TrainConfig, rng: np.random.Generator
) -> TrainResult:
    """Train `net` in place for `config.steps` updates, or else `config.epochs` passes; the
    shuffling (per epoch, minibatches only) draws from `rng`, whatever the length."""
    x = np.asarray(x)
    y = np.asarray(y)
    validate(net, x, y, config)
    x = np.asarray(x, dtype=net.dtype)  # only read: no copy when the dtype already matches
    # The targets meet the output elementwise: laid out like it, a sample per column.
    targets = np.ascontiguousarray(encode_targets(y, net.sizes[-1], net.dtype).T)
    n, features = x.shape
    sizes = net.sizes
    batch = n if config.batch_size is None else min(config.batch_size, n)
    batch_bounds = [(start, min(start + batch, n)) for start in range(0, n, batch)]
    steps_per_epoch = len(batch_bounds)
    n_steps = steps_per_epoch * config.epochs if config.steps is None else config.steps
    lrs = learning_rates(config.schedule, config.lr, n_steps).tolist()
    history = np.full(n_steps, np.nan)
    step_parts = _step_of(net, config)
    params = step_parts.params
    velocity = np.zeros_like(params) if config.momentum else None
    shuffle = batch < n
    # A shuffled epoch reaches the steps in one of two ways, with the same rows in the same
    # order. Small batches are views of a shuffled copy of the whole set, made once per epoch:
    # no call per step. Large ones are gathered at each step into one buffer that stays in cache
    # through the forward and backward pass, and the set is never copied whole. The data's rows
    # carry a last column of ones (the bias's input); a batch's transpose is its layers' input.
    gather_each_batch = shuffle and x[:batch].nbytes >= GATHER_BATCH_BYTES
    if gather_each_batch:
        # take writes straight only into a contiguous `out` (else it allocates a temporary per
        # call): the rows are gathered there, then copied beside the ones.
        x_gathered = np.empty_like(x[:batch])
        x_source = with_ones(x[:batch])
        t_sources = {hi - lo: np.empty((targets.shape[0], hi - lo), net.dtype)
                     for lo, hi in batch_bounds}
        views = [(x_source[: hi - lo].T, t_sources[hi - lo]) for lo, hi in batch_bounds]
    else:
        x_rows = with_ones(x)
        x_source, t_source = (np.empty_like(x_rows), np.empty_like(targets)) if shuffle \
            else (x_rows, targets)
        views = [(x_source[lo:hi].T, t_source[:, lo:hi]) for lo, hi in batch_bounds]
    buffers = {hi - lo: allocate_buffers(sizes, hi - lo, net.dtype) for lo, hi in batch_bounds}
    mask = weight_mask(sizes, net.dtype)
    # Views made once: each shuffle or gather rewrites what they show.
    batches = [(lo, hi, _batch_of(step_parts, x_t, t, buffers[hi - lo],
                                  penalty_weight(hi - lo, n, config.reduction), config, mask))
               for (lo, hi), (x_t, t) in zip(batch_bounds, views, strict=True)]

    step, diverged_at = 0, None
    start_time = time.perf_counter()
    # Overflow on the way to a divergence is expected; it is detected and reported below.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(math.ceil(n_steps / steps_per_epoch)):
            if shuffle:
                order = rng.permutation(n)
            if shuffle and not gather_each_batch:
                # mode="clip" lets take write straight into `out` (with the default "raise" it
                # buffers); a permutation has no index to clip.
                np.take(x_rows, order, axis=0, out=x_source, mode="clip")
                np.take(targets, order, axis=1, out=t_source, mode="clip")
            # The last epoch stops after the run's last update, wherever in the pass it falls.
            for lo, hi, batch_views in batches[: n_steps - step]:
                if gather_each_batch:
                    np.take(x, order[lo:hi], axis=0, out=x_gathered[: hi - lo], mode="clip")
                    # Into the rows' first columns: the last stays ones.
                    x_source[: hi - lo, :features] = x_gathered[: hi - lo]
                    np.take(targets, order[lo:hi], axis=1, out=batch_views.targets,
                            mode="clip")
                loss = _gradient_step(step_parts, batch_views)
                history[step] = loss
                if not math.isfinite(loss):
                    diverged_at = step
                    break
                sgd_step(params, step_parts.gradients, lrs[step], config.momentum, velocity)
                step += 1
            if diverged_at is not None:
                break
    train_time_s = time.perf_counter() - start_time
    # A divergence inside the loop recorded its non-finite loss; after the loop there is none.
    recorded = step + 1 if diverged_at is not None else step
    if diverged_at is None and not np.isfinite(params).all():
        diverged_at = step
    return TrainResult(history[:recorded], step, diverged_at, train_time_s)
