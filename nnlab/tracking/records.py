"""A run as plain values, the form in which runs leave `store`: no MLflow entity leaves it, and
code that only handles runs (the sweep's plan) needs no MLflow import to name the type."""

from dataclasses import dataclass


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
