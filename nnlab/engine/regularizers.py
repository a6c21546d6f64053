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
    params: np.ndarray,
    grads: np.ndarray,
    l1_mask: np.ndarray | None,
    l2_mask: np.ndarray | None,
    scratch: np.ndarray,
) -> float:
    """grads += l1 * sign(W) + l2 * W on the weights of every layer at once, and return the
    penalty. `params` and `grads` are flat (network.pack_parameters); each mask holds its l at
    every weight and 0 at every bias (None: l = 0); `scratch` is shaped like them."""
    total = 0.0
    if l1_mask is not None:
        np.sign(params, out=scratch)
        scratch *= l1_mask
        total += float(np.vdot(scratch, params))  # l1 sign(w) w = l1 |w|
        grads += scratch
    if l2_mask is not None:
        np.multiply(params, l2_mask, out=scratch)
        total += 0.5 * float(np.vdot(scratch, params))
        grads += scratch
    return total
