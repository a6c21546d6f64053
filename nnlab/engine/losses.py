"""Training costs, keyed by the names users type in the config.

A loss is the sum over a batch of the per-sample cost, and each per-sample cost sums over the
output units. `LOSSES[name](y_pred, y_true, scratch)` returns that total without allocating;
`LOSS_GRADIENTS[name](y_pred, y_true, out)` writes the per-sample gradient into `out`, and
`COSTS_AND_GRADIENTS[name](y_pred, y_true, out, scratch)` does both, as a training step needs.

`logloss` and `cross_entropy` are fused with their output activation (sigmoid and softmax): their
"gradient" is taken with respect to the logits, where it is simply p - y, which is both cheaper
and better conditioned than chaining d(log p)/dp with the activation's Jacobian.
"""

from collections.abc import Callable

import numpy as np

# log never sees 0 (nor 1 - p == 0): probabilities are kept one epsilon inside (0, 1).
# The bounds are 0-d arrays of each float type, made once: np.finfo costs as much as a small
# ufunc call, and NumPy resolves a Python scalar operand anew at every call.
_BOUNDS = {
    np.dtype(t): (np.array(np.finfo(t).eps, t), np.array(1 - np.finfo(t).eps, t))
    for t in (np.float16, np.float32, np.float64)
}


def _clip_probabilities(p: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    low, high = _BOUNDS[p.dtype]
    np.maximum(p, low, out=scratch)
    return np.minimum(scratch, high, out=scratch)


def squared(y_pred: np.ndarray, y_true: np.ndarray, scratch: np.ndarray) -> float:
    """1/2 sum_k (y_k - t_k)^2 per sample; the 1/2 makes the gradient y - t."""
    return squared_with_gradient(y_pred, y_true, scratch, scratch)


def absolute(y_pred: np.ndarray, y_true: np.ndarray, scratch: np.ndarray) -> float:
    """sum_k |y_k - t_k| per sample."""
    np.subtract(y_pred, y_true, out=scratch)
    np.abs(scratch, out=scratch)
    return float(scratch.sum())


def logloss(p: np.ndarray, y_true: np.ndarray, scratch: np.ndarray) -> float:
    """Binary cross-entropy -sum_k [t_k log p_k + (1 - t_k) log(1 - p_k)] on sigmoid outputs."""
    log_p = np.log(_clip_probabilities(p, scratch), out=scratch)
    total = -float(np.vdot(y_true, log_p))
    log_1mp = np.log(np.subtract(1, _clip_probabilities(p, scratch), out=scratch), out=scratch)
    # sum (1 - t) log(1 - p) == sum log(1 - p) - sum t log(1 - p), with no (1 - t) temporary.
    return total - float(log_1mp.sum()) + float(np.vdot(y_true, log_1mp))


def cross_entropy(p: np.ndarray, y_true: np.ndarray, scratch: np.ndarray) -> float:
    """Categorical cross-entropy -sum_k t_k log p_k on softmax outputs (one-hot targets)."""
    log_p = np.log(_clip_probabilities(p, scratch), out=scratch)
    return -float(np.vdot(y_true, log_p))


def squared_gradient(y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> None:
    """d/dy = y - t."""
    np.subtract(y_pred, y_true, out=out)


def absolute_gradient(y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> None:
    """d/dy = sign(y - t)."""
    np.subtract(y_pred, y_true, out=out)
    np.sign(out, out=out)


def fused_gradient(p: np.ndarray, y_true: np.ndarray, out: np.ndarray) -> None:
    """d/dz = p - t for sigmoid + logloss and for softmax + cross-entropy (z: the logits)."""
    np.subtract(p, y_true, out=out)


def squared_with_gradient(
    y_pred: np.ndarray, y_true: np.ndarray, gradient: np.ndarray, scratch: np.ndarray
) -> float:
    """The squared cost and its gradient y - t from one subtraction: the gradient is the
    residual, whose half squared norm is the cost."""
    np.subtract(y_pred, y_true, out=gradient)
    return 0.5 * float(np.vdot(gradient, gradient))


def _cost_then_gradient(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                                               float]:
    cost, gradient = LOSSES[name], LOSS_GRADIENTS[name]

    def cost_and_gradient(y_pred: np.ndarray, y_true: np.ndarray, out: np.ndarray,
                          scratch: np.ndarray) -> float:
        total = cost(y_pred, y_true, scratch)
        gradient(y_pred, y_true, out)
        return total

    return cost_and_gradient


LOSSES = {
    "squared": squared,
    "absolute": absolute,
    "logloss": logloss,
    "cross_entropy": cross_entropy,
}

LOSS_GRADIENTS = {
    "squared": squared_gradient,
    "absolute": absolute_gradient,
    "logloss": fused_gradient,
    "cross_entropy": fused_gradient,
}

# What a training step calls: the batch's cost, with its gradient written into `out`.
COSTS_AND_GRADIENTS = {
    name: squared_with_gradient if name == "squared" else _cost_then_gradient(name)
    for name in LOSSES
}

# Losses whose gradient is taken with respect to the logits, and the output each one needs.
FUSED_OUTPUT = {"logloss": "sigmoid", "cross_entropy": "softmax"}

CLASSIFICATION_LOSSES = tuple(FUSED_OUTPUT)
