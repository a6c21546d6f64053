"""Activation functions and their derivatives, keyed by the names users type in the config.

Every activation works in place on the pre-activation array it is given (the forward pass owns
preallocated buffers). Every derivative is written in terms of the activation's *output*, which
is what the forward pass keeps, and multiplies the back-propagated delta in place, with a
scratch buffer shaped like it for f'(z): a step allocates no temporary.
"""

import functools

import numpy as np

LEAKY_RELU_SLOPE = 0.01

# Zero and one as 0-d arrays of each float type: NumPy resolves a Python scalar operand anew
# at every call, which costs a tiny net's ufunc call a third of its time; a 0-d array of the
# operand's own type costs nothing to resolve and changes no bit.
_FLOATS = (np.float16, np.float32, np.float64)
_ZERO = {np.dtype(t): np.zeros((), t) for t in _FLOATS}
_ONE = {np.dtype(t): np.ones((), t) for t in _FLOATS}


def identity(z: np.ndarray) -> None:
    """f(z) = z."""


def relu(z: np.ndarray) -> None:
    """f(z) = max(z, 0)."""
    np.maximum(z, _ZERO[z.dtype], out=z)


def leaky_relu(z: np.ndarray) -> None:
    """f(z) = z for z > 0, slope * z otherwise."""
    np.maximum(z, LEAKY_RELU_SLOPE * z, out=z)


def sigmoid(z: np.ndarray) -> None:
    """f(z) = 1 / (1 + exp(-z))."""
    # 1/(1+exp(-z)) == (1 + tanh(z/2)) / 2, and tanh never overflows, whatever |z|.
    z *= 0.5
    np.tanh(z, out=z)
    z += 1
    z *= 0.5


def tanh(z: np.ndarray) -> None:
    """f(z) = tanh(z)."""
    np.tanh(z, out=z)


def softmax(z: np.ndarray) -> None:
    """f(z)_k = exp(z_k) / sum_j exp(z_j), column by column: a column is a sample (output
    layer only)."""
    # Shifting each column by its max leaves softmax unchanged and keeps exp from overflowing.
    # The max is taken as elementwise maxima of whole rows (a max is exact in any order): NumPy's
    # reduction over the first axis is several times slower on a few rows.
    column_stat = z[0].copy()
    for k in range(1, z.shape[0]):
        np.maximum(column_stat, z[k], out=column_stat)
    z -= column_stat
    np.exp(z, out=z)
    # The column sums as a product with ones, into the same buffer, for the same reason; BLAS
    # may add a column's terms in another order than np.sum, which can change its last bit.
    z /= np.dot(_ones(z.shape[0], z.dtype), z, out=column_stat)


@functools.cache
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def identity_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    """f'(z) = 1."""


def relu_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    """f'(z) = 1 where the unit is active (a > 0), else 0."""
    # A ReLU's output is never negative, so f' is sign(a): a 0/1 mask in the delta's own type,
    # which multiplies several times faster than a masked assignment or a boolean mask.
    np.sign(a, out=scratch)
    delta *= scratch


def leaky_relu_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    """f'(z) = 1 where a > 0, else slope (a keeps the sign of z)."""
    delta[a <= 0] *= LEAKY_RELU_SLOPE


def sigmoid_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    """f'(z) = a (1 - a)."""
    np.subtract(_ONE[a.dtype], a, out=scratch)
    delta *= a
    delta *= scratch


def tanh_derivative(a: np.ndarray, delta: np.ndarray, scratch: np.ndarray) -> None:
    """f'(z) = 1 - a^2."""
    np.multiply(a, a, out=scratch)
    np.subtract(_ONE[a.dtype], scratch, out=scratch)
    delta *= scratch


ACTIVATIONS = {
    "identity": identity,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
}

# softmax has no entry: its Jacobian is not diagonal, so it is only used fused with
# cross-entropy, whose gradient with respect to the logits is simply p - y (see losses.py).
DERIVATIVES = {
    "identity": identity_derivative,
    "relu": relu_derivative,
    "leaky_relu": leaky_relu_derivative,
    "sigmoid": sigmoid_derivative,
    "tanh": tanh_derivative,
}

HIDDEN_ACTIVATIONS = tuple(DERIVATIVES)
OUTPUT_ACTIVATIONS = ("identity", "relu", "sigmoid", "softmax")
