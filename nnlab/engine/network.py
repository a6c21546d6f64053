"""A dense multilayer perceptron: its parameters, and the forward and backward passes.

Layer i maps a_i (rows x sizes[i]) to a_{i+1} = f(a_i W_i + b_i). The hidden layers share one
activation f; the last layer uses the output activation. Both passes write into preallocated
buffers (a `Workspace`), so that a training step allocates nothing but a softmax's row
statistics. For training, the parameters live in one flat buffer (`pack_parameters`), and so do
their gradients, laid out alike: the update is one call whatever the number of layers.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from nnlab.constraints import Options
from nnlab.engine.activations import (
    ACTIVATIONS,
    DERIVATIVES,
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
)
from nnlab.engine.initializers import Init, init_parameters


@dataclass
class Network:
    weights: list[np.ndarray]  # W_i: (sizes[i], sizes[i+1])
    biases: list[np.ndarray]  # b_i: (sizes[i+1],)
    activation: str  # hidden layers
    output: str  # last layer

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[0]] + [w.shape[1] for w in self.weights]

    @property
    def dtype(self) -> np.dtype:
        return self.weights[0].dtype

    def layer_activation(self, i: int) -> str:
        return self.output if i == len(self.weights) - 1 else self.activation


NETWORK_CONSTRAINTS = {
    "activation": Options(HIDDEN_ACTIVATIONS),
    "output": Options(OUTPUT_ACTIVATIONS),
}


def init_network(
    sizes: list[int],
    activation: str,
    output: str,
    init: Init,
    rng: np.random.Generator,
    dtype: npt.DTypeLike = np.float64,
) -> Network:
    """A network with layer widths `sizes` (input first, output last) and fresh weights."""
    weights, biases = init_parameters(sizes, init, rng, np.dtype(dtype))
    return Network(weights, biases, activation, output)


def pack_parameters(net: Network) -> np.ndarray:
    """Move the network's parameters into one flat buffer, every weight matrix first, then every
    bias; net.weights and net.biases become views of it. The update of all parameters is then
    one ufunc call, and the weights (the only parameters a penalty reaches) one slice of it."""
    arrays = net.weights + net.biases
    flat = np.empty(sum(a.size for a in arrays), net.dtype)
    views = _views_of(flat, arrays)
    for view, array in zip(views, arrays, strict=True):
        view[...] = array
    n_layers = len(net.weights)
    net.weights[:], net.biases[:] = views[:n_layers], views[n_layers:]
    return flat


def _views_of(flat: np.ndarray, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Consecutive views of `flat`, shaped like `arrays`."""
    views, start = [], 0
    for array in arrays:
        views.append(flat[start:start + array.size].reshape(array.shape))
        start += array.size
    return views


def layer_functions(net: Network) -> list[Callable[[np.ndarray], None]]:
    """Each layer's activation function, looked up once rather than at every step."""
    return [ACTIVATIONS[net.layer_activation(i)] for i in range(len(net.weights))]


@dataclass
class Workspace:
    """Every array one training step writes, allocated once for batches of up to `rows` rows."""

    activations: list[np.ndarray]  # a_1 .. a_L (the input a_0 is a view of the data)
    deltas: list[np.ndarray]  # dCost/dz_i, shaped like activations[i]
    derivatives: list[np.ndarray]  # f'(z_i) of the hidden layers, shaped like activations[i]
    gradients: np.ndarray  # flat, laid out like pack_parameters' buffer
    weight_grads: list[np.ndarray]  # views of gradients
    bias_grads: list[np.ndarray]  # views of gradients
    penalty_scratch: np.ndarray  # shaped like the weights' part of gradients
    loss_scratch: np.ndarray
    ones: np.ndarray  # sums over a batch's rows as a product: faster than np.sum(axis=0)
    functions: list[Callable[[np.ndarray], None]]  # each layer's activation
    derivative: Callable[[np.ndarray, np.ndarray, np.ndarray], None]  # the hidden layers'
    _row_views: dict = field(default_factory=dict)

    @property
    def weight_gradients(self) -> np.ndarray:
        """The weights' part of the flat gradients (they come first)."""
        return self.gradients[: self.penalty_scratch.size]

    def rows(self, n: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray],
                                    np.ndarray, np.ndarray, np.ndarray]:
        """Views of the buffers for a batch of n rows, and 1/n as a 0-d array of the network's
        type (cached: the last batch may be short)."""
        if n not in self._row_views:
            self._row_views[n] = (
                [a[:n] for a in self.activations],
                [d[:n] for d in self.deltas],
                [d[:n] for d in self.derivatives],
                self.loss_scratch[:n],
                self.ones[:n],
                # NumPy resolves a Python scalar operand anew at every call; a 0-d array of the
                # operand's own type it does not, and rounds the same.
                np.array(1.0 / n, self.ones.dtype),
            )
        return self._row_views[n]


def allocate_workspace(net: Network, rows: int) -> Workspace:
    widths = net.sizes[1:]
    gradients = np.empty(sum(p.size for p in net.weights + net.biases), net.dtype)
    grads = _views_of(gradients, net.weights + net.biases)
    n_layers = len(net.weights)
    return Workspace(
        activations=[np.empty((rows, w), net.dtype) for w in widths],
        deltas=[np.empty((rows, w), net.dtype) for w in widths],
        derivatives=[np.empty((rows, w), net.dtype) for w in widths[:-1]],
        gradients=gradients,
        weight_grads=grads[:n_layers],
        bias_grads=grads[n_layers:],
        penalty_scratch=np.empty(sum(w.size for w in net.weights), net.dtype),
        loss_scratch=np.empty((rows, widths[-1]), net.dtype),
        ones=np.ones(rows, net.dtype),
        functions=layer_functions(net),
        derivative=DERIVATIVES[net.activation],
    )


def forward_pass(net: Network, x: np.ndarray, activations: list[np.ndarray],
                 functions: list[Callable[[np.ndarray], None]]) -> np.ndarray:
    """z_i = a_i W_i + b_i, a_{i+1} = f(z_i), layer by layer; returns the output a_L."""
    a = x
    for w, b, z, f in zip(net.weights, net.biases, activations, functions, strict=True):
        np.dot(a, w, out=z)  # np.dot: less per-call overhead than matmul on 2-D
        z += b
        f(z)
        a = z
    return a


def backward_pass(
    net: Network,
    x: np.ndarray,
    activations: list[np.ndarray],
    deltas: list[np.ndarray],
    derivatives: list[np.ndarray],
    ws: Workspace,
    ones: np.ndarray,
) -> None:
    """Given deltas[-1] = dCost/dz_L, the chain rule back to the input:
    dCost/dW_i = a_i^T delta_i, dCost/db_i = sum_rows delta_i,
    delta_{i-1} = (delta_i W_i^T) * f'(z_{i-1})."""
    weight_grads, bias_grads, derivative = ws.weight_grads, ws.bias_grads, ws.derivative
    for i in range(len(net.weights) - 1, 0, -1):
        np.dot(activations[i - 1].T, deltas[i], out=weight_grads[i])
        np.dot(ones, deltas[i], out=bias_grads[i])
        np.dot(deltas[i], net.weights[i].T, out=deltas[i - 1])
        derivative(activations[i - 1], deltas[i - 1], derivatives[i - 1])
    # The input layer passes no delta on: the data take no gradient.
    np.dot(x.T, deltas[0], out=weight_grads[0])
    np.dot(ones, deltas[0], out=bias_grads[0])


def predict(net: Network, x: np.ndarray) -> np.ndarray:
    """The network's output for inputs x (allocates: for evaluation, not the training loop)."""
    x = np.asarray(x, dtype=net.dtype)
    buffers = [np.empty((x.shape[0], w), net.dtype) for w in net.sizes[1:]]
    return forward_pass(net, x, buffers, layer_functions(net))


def hidden_outputs(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """The output of every hidden layer for inputs x."""
    x = np.asarray(x, dtype=net.dtype)
    buffers = [np.empty((x.shape[0], w), net.dtype) for w in net.sizes[1:]]
    forward_pass(net, x, buffers, layer_functions(net))
    return buffers[:-1]
