"""Runs and datasets as plain values, the form in which they leave `store`: no MLflow entity
leaves it, and code that only handles them (the sweep's plan, a worker keeping its run) needs no
MLflow import to name the types."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RunRecord:
    """One run as plain values."""

    run_id: str
    run_name: str
    status: str
    start_time: int  # ms since the epoch
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]  # the last value of each; per-step series: metric_histories


@dataclass(frozen=True)
class DatasetArrays:
    """The arrays a run trained and was tested on, under a name and a digest of their bytes."""

    name: str
    digest: str
    features: dict[str, np.ndarray]  # x_train, x_test
    targets: dict[str, np.ndarray]  # y_train, y_test


class ServerNotAnswering(RuntimeError):
    """The tracking server gave no answer within nnlab's wait (NNLAB_STORE_TIMEOUT), retries
    included. A plain exception with plain arguments: it crosses from a worker to its sweep."""

    def __init__(self, uri: str, seconds: float) -> None:
        super().__init__(uri, seconds)
        self.uri, self.seconds = uri, seconds

    def __str__(self) -> str:
        return (f"the tracking server {self.uri} does not answer (gave up after "
                f"{self.seconds:.0f} s)")
