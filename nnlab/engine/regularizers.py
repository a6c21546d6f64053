"""L1 and L2 penalties on the weights (never the biases), with their gradients.

penalty = l1 * sum |W| + l2 / 2 * sum W^2 over every weight matrix; the 1/2 makes the L2
gradient l2 * W, the convention of the moons tutorial (its `reg_lambda`).
"""

import numpy as np


def penalty(weights: list[np.ndarray], l1: float, l2: float) -> float:
    """The regularization term added to the cost."""
    total = 0.0
    for w in weights:
        if l1:
            total += l1 * float(np.abs(w).sum())
        if l2:
            total += 0.5 * l2 * float(np.vdot(w, w))
    return total


def add_penalty_gradient(
    weights: list[np.ndarray],
    weight_grads: list[np.ndarray],
    l1: float,
    l2: float,
    scratch: list[np.ndarray],
) -> None:
    """weight_grads += l1 * sign(W) + l2 * W, using `scratch` (shaped like the weights)."""
    for w, grad, tmp in zip(weights, weight_grads, scratch, strict=True):
        if l1:
            np.sign(w, out=tmp)
            tmp *= l1
            grad += tmp
        if l2:
            np.multiply(w, l2, out=tmp)
            grad += tmp
