"""Where a run's numbers came from: the Python, the libraries, the BLAS and the machine.

The last bits of a float64 result depend on more than the code: NumPy's version, the BLAS it
calls and the kernel that BLAS picked for this CPU (OpenBLAS chooses one at load time, and
OPENBLAS_CORETYPE overrides it), the threads it sums with. Each run records them as `nnlab.env.*`
tags and an `environment.json` artifact; `python -m nnlab.rerun` compares them with its own.

Computed once per process: nothing here changes under a running process. Cheap (a few ms): the
versions come from the installed packages' metadata (SciPy and MLflow are not imported), the BLAS
from threadpoolctl, which reads the libraries this process has loaded.
"""

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from nnlab import contract, process

ENVIRONMENT_CACHE = "environment"
# The keys of `nnlab.env.*`, in the order the rerun compares them.
KEYS = ("python", "numpy", "scipy", "mlflow", "blas", "blas_version", "blas_kernel",
        "blas_threads", "cpu", "os")


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas(pools: list[dict[str, Any]]) -> dict[str, Any]:
    """The BLAS NumPy calls, among the BLAS libraries this process has loaded (SciPy's wheels
    bring one of their own): the one shipped in NumPy's folder, else the first."""
    blas = [pool for pool in pools if pool.get("user_api") == "blas"]
    site = Path(np.__file__).resolve().parent.parent
    ours = [pool for pool in blas
            if Path(pool.get("filepath", "")).resolve().parent.name.startswith("numpy")
            and Path(pool["filepath"]).resolve().is_relative_to(site)]
    return (ours or blas or [{}])[0]


def describe() -> dict[str, Any]:
    """This process's environment: `KEYS` as strings, and every thread pool threadpoolctl sees.

    The BLAS threads are counted under the one-thread limit every run trains with
    (`process.one_blas_thread`): what the training used, whatever launched the process.
    """
    with process.one_blas_thread():
        pools = threadpool_info()
    blas = _numpy_blas(pools)
    flat = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "scipy": _installed("scipy"),
        "mlflow": _installed("mlflow"),
        "blas": str(blas.get("internal_api", "unknown")),
        "blas_version": str(blas.get("version", "unknown")),
        "blas_kernel": str(blas.get("architecture", "unknown")),
        "blas_threads": str(blas.get("num_threads", "unknown")),
        "cpu": _cpu_model(),
        "os": platform.platform(),
    }
    return flat | {"threadpools": pools}


def current() -> dict[str, Any]:
    """`describe()`, computed once per process."""
    cache = process.cache(ENVIRONMENT_CACHE)
    if "environment" not in cache:
        cache["environment"] = describe()
    return cache["environment"]


def tags(environment: dict[str, Any]) -> dict[str, str]:
    """The environment as run tags: `nnlab.env.numpy`, ..."""
    return {contract.ENV_TAG_PREFIX + key: str(environment[key]) for key in KEYS}


def from_tags(run_tags: dict[str, str]) -> dict[str, str]:
    """The environment a run logged, read back from its tags ({} for runs from before)."""
    return {key: run_tags[contract.ENV_TAG_PREFIX + key] for key in KEYS
            if contract.ENV_TAG_PREFIX + key in run_tags}


def differences(logged: dict[str, str], here: dict[str, Any]) -> list[str]:
    """`numpy: logged 2.4.5, here 2.4.6` for every key that differs."""
    return [f"{key}: logged {logged[key]}, here {here[key]}" for key in KEYS
            if key in logged and logged[key] != str(here[key])]
