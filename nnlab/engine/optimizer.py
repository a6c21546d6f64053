"""Stochastic gradient descent, optionally with (heavy-ball) momentum.

    v <- momentum * v - lr * g;   p <- p + v        (momentum = 0: p <- p - lr * g)

Updates are in place, on every parameter at once: the parameters, their gradients and the
velocities are each one flat buffer (see network.pack_parameters), so that a step costs two
ufunc calls (four with momentum) whatever the number of layers. The gradient buffer is consumed
(scaled by -lr) to avoid a temporary.
"""

import numpy as np


def sgd_step(
    params: np.ndarray,
    grads: np.ndarray,
    lr: float,
    momentum: float,
    velocity: np.ndarray | None,
) -> None:
    grads *= -lr
    if velocity is None:
        params += grads
    else:
        velocity *= momentum
        velocity += grads
        params += velocity
