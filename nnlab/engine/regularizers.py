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
    weights: np.ndarray, weight_grads: np.ndarray, l1: float, l2: float, scratch: np.ndarray
) -> None:
    """weight_grads += l1 * sign(W) + l2 * W, on the weights of every layer at once (one flat
    buffer each, see network.pack_parameters), using `scratch` shaped like them."""
    if l1:
        np.sign(weights, out=scratch)
        scratch *= l1
        weight_grads += scratch
    if l2:
        np.multiply(weights, l2, out=scratch)
        weight_grads += scratch
