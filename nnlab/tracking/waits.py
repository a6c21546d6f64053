"""How long nnlab waits for the tracking store: NNLAB_STORE_TIMEOUT seconds per call at most,
retries included (no MLflow import: `store` sets these before it imports MLflow).

MLflow's HTTP client retries a request that gets no answer with an exponential backoff, and
waits for each attempt up to a timeout: by default 7 retries, backoff factor 2, 120 s per
attempt, minutes per call with the server gone. nnlab derives MLflow's four settings from its
one budget instead, so that a call gives up within it whether the server refuses connections
(the backoffs alone: ~7 s of the default 30) or accepts them and never answers (every attempt
waits its timeout). A variable the user set explicitly wins. SQLite's own busy waits are left
as MLflow sets them (20 s per statement): racing sweeps wait their turn there.
"""

import math
import os

from nnlab.contract import STORE_TIMEOUT_ENV, STORE_TIMEOUT_S

# urllib3 waits 0, 2F, 4F, ... seconds (+ up to the jitter) before the 1st, 2nd, 3rd retry.
RETRIES = 3
BACKOFF_FACTOR = 1
BACKOFF_JITTER_S = 0.5
# Below this budget the backoffs are dropped: the timeouts get what there is.
MIN_BUDGET_FOR_BACKOFF_S = 20.0
# The MLflow variables that nnlab set from NNLAB_STORE_TIMEOUT, rather than the user.
DERIVED_ENV = "NNLAB_MLFLOW_HTTP_DERIVED"


def store_timeout() -> float:
    """NNLAB_STORE_TIMEOUT in seconds; ValueError naming it, its value and the allowed values."""
    text = os.environ.get(STORE_TIMEOUT_ENV, "").strip()
    if not text:
        return STORE_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{STORE_TIMEOUT_ENV}={text!r} is not allowed: a number of seconds "
                         "> 0 (default 30)")
    return seconds


def backoffs_s(factor: int, jitter: float, retries: int = RETRIES) -> float:
    """The longest time urllib3 sleeps between the attempts of one request."""
    return sum(factor * 2 ** (k - 1) for k in range(2, retries + 1)) + retries * jitter


def mlflow_http_settings(budget_s: float) -> dict[str, str]:
    """MLflow's retry and timeout variables for a call that gives up within `budget_s` (at
    least RETRIES + 1 seconds: MLflow takes whole seconds per attempt)."""
    factor = BACKOFF_FACTOR if budget_s >= MIN_BUDGET_FOR_BACKOFF_S else 0
    jitter = BACKOFF_JITTER_S if factor else 0.0
    timeout = max(1, int((budget_s - backoffs_s(factor, jitter)) / (RETRIES + 1)))
    return {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(RETRIES),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(factor),
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": str(jitter),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout),
    }


def set_mlflow_defaults() -> None:
    """MLflow's HTTP settings from NNLAB_STORE_TIMEOUT, where the user set none of their own.

    The processes this one starts inherit the variables: DERIVED_ENV names those nnlab set,
    which a process derives again from its own NNLAB_STORE_TIMEOUT."""
    derived = {name for name in os.environ.get(DERIVED_ENV, "").split(",") if name}
    for variable, value in mlflow_http_settings(store_timeout()).items():
        if variable in derived or variable not in os.environ:
            os.environ[variable] = value
            derived.add(variable)
    os.environ[DERIVED_ENV] = ",".join(sorted(derived))
