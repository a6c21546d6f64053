"""Learning-rate schedules (annealing), keyed by the names users type in the config.

With t the optimizer step:
  constant     lr_t = lr
  exponential  lr_t = lr * decay_rate ** (t / decay_steps)
  inverse      lr_t = lr / (1 + decay_rate * t / decay_steps)     (inverse-time decay)
The whole schedule is computed once, as an array, before training starts.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Schedule:
    name: str = "constant"
    decay_rate: float = 0.5
    decay_steps: int = 1000


SCHEDULES = ("constant", "exponential", "inverse")


def learning_rates(schedule: Schedule, lr: float, n_steps: int) -> np.ndarray:
    """The learning rate of every step 0..n_steps-1."""
    t = np.arange(n_steps, dtype=np.float64) / schedule.decay_steps
    if schedule.name == "exponential":
        return lr * schedule.decay_rate**t
    if schedule.name == "inverse":
        return lr / (1.0 + schedule.decay_rate * t)
    return np.full(n_steps, lr)
