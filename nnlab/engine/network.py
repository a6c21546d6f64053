"""A dense multilayer perceptron: its parameters, and the forward and backward passes.

Layer i maps a_i (rows x sizes[i]) to a_{i+1} = f(a_i W_i + b_i). The hidden layers share one
activation f; the last layer uses the output activation.

Inside the passes one sample is one column: A_i = a_i^T is sizes[i] x rows, and

    Z_{i+1} = [W_i; b_i]^T [A_i; 1],    A_{i+1} = f(Z_{i+1}).

The bias is the weight of a constant input: every layer's input carries a last row of ones, so
that the affine map is one matrix product, and the bias gradient comes out of the weight
gradient's product as its last row. Laid out so, each row of a layer's buffer holds one unit for
every sample of the batch: elementwise work runs along rows as long as the batch, where a
sample per row would give tiny nets rows of two or three units, which NumPy pays for one by one.

Both passes write into preallocated buffers (`Buffers`), so that a training step allocates
nothing but a softmax's column statistics. For training, the parameters live in one flat buffer
of layer blocks [W_i; b_i] (`pack_parameters`), and so do their gradients, laid out alike: the
update is one call whatever the number of layers.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nnlab.constraints import Options
from nnlab.engine.activations import (
    ACTIVATIONS,
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


def _packed_size(sizes: list[int]) -> int:
    """The number of parameters of a net with layer widths `sizes`: its blocks' entries."""
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:],
                                                                  strict=True))


def layer_blocks(flat: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Consecutive views of `flat`, one (sizes[i] + 1, sizes[i+1]) block [W_i; b_i] per layer."""
    blocks, start = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        size = (fan_in + 1) * fan_out
        blocks.append(flat[start:start + size].reshape(fan_in + 1, fan_out))
        start += size
    return blocks


def pack_parameters(net: Network) -> tuple[np.ndarray, list[np.ndarray]]:
    """Move the network's parameters into one flat buffer of layer blocks [W_i; b_i], returned
    with the blocks; net.weights and net.biases become views of it (W_i the block's first rows,
    b_i its last). The update of all parameters is then one ufunc call."""
    flat = np.empty(_packed_size(net.sizes), net.dtype)
    blocks = layer_blocks(flat, net.sizes)
    for block, w, b in zip(blocks, net.weights, net.biases, strict=True):
        block[:-1], block[-1] = w, b
    net.weights[:] = [block[:-1] for block in blocks]
    net.biases[:] = [block[-1] for block in blocks]
    return flat, blocks


def weight_mask(sizes: list[int], dtype: npt.DTypeLike) -> np.ndarray:
    """1 at every weight and 0 at every bias of pack_parameters' flat layout: the penalties
    reach the weights only."""
    mask = np.ones(_packed_size(sizes), dtype)
    for block in layer_blocks(mask, sizes):
        block[-1] = 0
    return mask


def with_ones(x: np.ndarray) -> np.ndarray:
    """The rows of x with a last column of ones (the constant input of the bias)."""
    rows, features = x.shape
    out = np.empty((rows, features + 1), x.dtype)
    out[:, :features] = x
    out[:, features] = 1
    return out


def layer_functions(net: Network) -> list[Callable[[np.ndarray], None]]:
    """Each layer's activation function, looked up once rather than at every step."""
    return [ACTIVATIONS[net.layer_activation(i)] for i in range(len(net.weights))]


@dataclass
class Buffers:
    """Every array one step on a batch of `rows` samples writes (a sample per column)."""

    hidden_inputs: list[np.ndarray]  # [A_i; 1] of the hidden layers i = 1 .. L-1
    outputs: list[np.ndarray]  # A_1 .. A_L: the hidden ones are the first rows of hidden_inputs
    deltas: list[np.ndarray]  # dCost/dZ_i, shaped like outputs[i]
    deltas_t: list[np.ndarray]  # their transposes (views made once)
    derivatives: list[np.ndarray]  # scratch for f'(Z_i) of the hidden layers
    loss_scratch: np.ndarray  # shaped like the output
    inverse_rows: np.ndarray  # 1 / rows, 0-d, of the network's type

    def inputs(self, x_t: np.ndarray) -> list[np.ndarray]:
        """Every layer's input [A_i; 1], for the batch whose data with ones are x_t."""
        return [x_t, *self.hidden_inputs]


def _layer_buffers(sizes: list[int], rows: int,
                   dtype: npt.DTypeLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """What the forward pass writes for `rows` samples: the hidden layers' inputs [A_i; 1]
    (their row of ones set) and every layer's output (a hidden one: its input's first rows)."""
    widths = sizes[1:]
    hidden_inputs = [np.empty((w + 1, rows), dtype) for w in widths[:-1]]
    for a in hidden_inputs:
        a[-1] = 1
    outputs = [a[:-1] for a in hidden_inputs] + [np.empty((widths[-1], rows), dtype)]
    return hidden_inputs, outputs


def allocate_buffers(sizes: list[int], rows: int, dtype: npt.DTypeLike) -> Buffers:
    widths = sizes[1:]
    hidden_inputs, outputs = _layer_buffers(sizes, rows, dtype)
    deltas = [np.empty((w, rows), dtype) for w in widths]
    return Buffers(
        hidden_inputs=hidden_inputs,
        outputs=outputs,
        deltas=deltas,
        deltas_t=[d.T for d in deltas],
        derivatives=[np.empty((w, rows), dtype) for w in widths[:-1]],
        loss_scratch=np.empty((widths[-1], rows), dtype),
        # NumPy resolves a Python scalar operand anew at every call; a 0-d array of the
        # operand's own type it does not, and rounds the same.
        inverse_rows=np.array(1.0 / rows, dtype),
    )


def forward_pass(blocks_t: list[np.ndarray], inputs: list[np.ndarray],
                 outputs: list[np.ndarray],
                 functions: list[Callable[[np.ndarray], None]]) -> np.ndarray:
    """Z_{i+1} = [W_i; b_i]^T [A_i; 1], A_{i+1} = f(Z_{i+1}), layer by layer (`blocks_t`: the
    blocks' transposes); returns the output A_L. A hidden layer's output is the first rows of
    the next layer's input: the product writes there."""
    for block_t, a, z, f in zip(blocks_t, inputs, outputs, functions, strict=True):
        np.dot(block_t, a, out=z)
        f(z)
    return outputs[-1]


def backward_pass(
    weights: list[np.ndarray],
    inputs: list[np.ndarray],
    buffers: Buffers,
    gradient_blocks: list[np.ndarray],
    derivative: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
) -> None:
    """Given deltas[-1] = dCost/dZ_L, the chain rule back to the input:
    [dCost/dW_i; dCost/db_i] = [A_i; 1] Delta_i^T (the bias's is the sum over the samples),
    Delta_{i-1} = (W_i Delta_i) * f'(Z_{i-1})."""
    deltas, deltas_t = buffers.deltas, buffers.deltas_t
    outputs, derivatives = buffers.outputs, buffers.derivatives
    for i in range(len(weights) - 1, 0, -1):
        np.dot(inputs[i], deltas_t[i], out=gradient_blocks[i])
        np.dot(weights[i], deltas[i], out=deltas[i - 1])
        derivative(outputs[i - 1], deltas[i - 1], derivatives[i - 1])
    # The input layer passes no delta on: the data take no gradient.
    np.dot(inputs[0], deltas_t[0], out=gradient_blocks[0])


def _forward(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for inputs x, a sample per column (allocates: for evaluation)."""
    x = np.asarray(x, dtype=net.dtype)
    blocks_t = [np.vstack([w, b]).T for w, b in zip(net.weights, net.biases, strict=True)]
    # The forward pass's buffers only: no deltas for an evaluation.
    hidden_inputs, outputs = _layer_buffers(net.sizes, x.shape[0], net.dtype)
    forward_pass(blocks_t, [with_ones(x).T, *hidden_inputs], outputs, layer_functions(net))
    return outputs


def predict(net: Network, x: np.ndarray) -> np.ndarray:
    """The network's (rows, outputs) output for inputs x (allocates: not for the training loop)."""
    return np.ascontiguousarray(_forward(net, x)[-1].T)


def hidden_outputs(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """The (rows, units) output of every hidden layer for inputs x."""
    return [np.ascontiguousarray(a.T) for a in _forward(net, x)[:-1]]
