"""Stochastic gradient descent, optionally with (heavy-ball) momentum.

    v <- momentum * v - lr * g;   p <- p + v        (momentum = 0: p <- p - lr * g)

Updates are in place; the gradient buffers are consumed (scaled by -lr) to avoid temporaries.
"""

import numpy as np


def sgd_step(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    lr: float,
    momentum: float,
    velocities: list[np.ndarray] | None,
) -> None:
    for p, g, v in zip(params, grads, velocities or [None] * len(params), strict=True):
        g *= -lr
        if v is None:
            p += g
        else:
            v *= momentum
            v += g
            p += v
