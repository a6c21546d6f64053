"""nnlab's engine: a multilayer perceptron and its training loop in plain NumPy.

Usable on its own, from a notebook: it imports NumPy and the standard library, nothing else.
"""

from nnlab.engine.activations import (
    ACTIVATIONS,
    DERIVATIVES,
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
)
from nnlab.engine.initializers import INITIALIZERS, Init
from nnlab.engine.losses import LOSSES
from nnlab.engine.metrics import (
    class_probabilities,
    classification_metrics,
    dead_outputs_frac,
    dead_units_frac,
    mean_cost,
    regression_metrics,
)
from nnlab.engine.network import Network, init_network, predict
from nnlab.engine.schedules import SCHEDULES, Schedule
from nnlab.engine.training import (
    TrainConfig,
    TrainResult,
    objective_and_gradients,
    train,
    validate_network,
)

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVES",
    "HIDDEN_ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "OUTPUT_ACTIVATIONS",
    "SCHEDULES",
    "Init",
    "Network",
    "Schedule",
    "TrainConfig",
    "TrainResult",
    "class_probabilities",
    "classification_metrics",
    "dead_outputs_frac",
    "dead_units_frac",
    "init_network",
    "mean_cost",
    "objective_and_gradients",
    "predict",
    "regression_metrics",
    "train",
    "validate_network",
]
