"""What a trained network is judged by: its own cost, and yardsticks that do not depend on it.

Regression: mean squared and mean absolute error over every sample and output. Classification:
accuracy and the log-loss of the true class, whatever cost the network was trained with.

A diverged network's outputs are inf or nan, and so are its metrics: a result, not a fault, so
each function computes them with NumPy's overflow and invalid-value warnings off, its forward
pass included.
"""

import numpy as np

from nnlab.engine.losses import LOSSES
from nnlab.engine.network import Network, hidden_outputs, predict
from nnlab.engine.training import encode_targets


def mean_cost(net: Network, x: np.ndarray, y: np.ndarray, loss: str) -> float:
    """The per-sample cost `loss`, averaged over the rows (no regularization penalty)."""
    targets = encode_targets(y, net.sizes[-1], net.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        output = predict(net, x)
        return LOSSES[loss](output, targets, np.empty_like(output)) / x.shape[0]


def regression_metrics(net: Network, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    with np.errstate(over="ignore", invalid="ignore"):
        error = predict(net, x) - y
        return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}


def class_probabilities(net: Network, x: np.ndarray) -> np.ndarray:
    """(rows, classes) probabilities: a single output unit is read as P(class 1)."""
    with np.errstate(over="ignore", invalid="ignore"):
        output = predict(net, x)
    if output.shape[1] == 1:
        return np.hstack([1 - output, output])
    return output


def classification_metrics(net: Network, x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    probabilities = class_probabilities(net, x)
    eps = np.finfo(probabilities.dtype).eps
    with np.errstate(invalid="ignore"):
        p_true = np.clip(probabilities[np.arange(len(labels)), labels], eps, 1 - eps)
        return {
            "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
            "logloss": float(-np.mean(np.log(p_true))),
        }


def _silent_frac(layers: list[np.ndarray]) -> float:
    """Fraction of the units (columns) of `layers` whose output is <= 0 on every row: for a
    ReLU, 0 on every input, so no gradient reaches its weights through the data."""
    if not layers:
        return 0.0
    dead = sum(int(np.sum(np.all(a <= 0, axis=0))) for a in layers)
    return dead / sum(a.shape[1] for a in layers)


def dead_units_frac(net: Network, x: np.ndarray) -> float:
    """Fraction of hidden units whose output is 0 for every row of x (dead ReLUs)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _silent_frac(hidden_outputs(net, x))


def dead_outputs_frac(net: Network, x: np.ndarray) -> float:
    """Fraction of output units whose output is 0 for every row of x (dead ReLU outputs: a
    target such a unit stands for is predicted as 0 whatever the input)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _silent_frac([predict(net, x)])
