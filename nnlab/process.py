"""Process-level settings, in one place: nnlab calls them where it needs them, never as a side
effect of something else.

- BLAS threads: one per process, so that a run is a function of its config (several threads sum
  some large products in another order) and parallel workers do not oversubscribe the cores.
- The garbage collector: a worker freezes what it has loaded once, and every nnlab process
  freezes it at exit.
- Per-process caches: what a worker keeps from one job to the next.
"""

import atexit
import gc
import os
from typing import Any

# The variables OpenBLAS, MKL and OpenMP read once, when NumPy loads them: set them before
# NumPy is imported (here, or in the parent of the processes that import it). The Slurm
# launcher's preset (conf/hydra/launcher/slurm.yaml) exports the same list.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_state: dict[str, Any] = {"frozen": False, "exit_freeze": False, "caches": {}}


def pin_blas_threads() -> None:
    """One BLAS/OpenMP thread in this process and in every process it starts from now on."""
    for variable in BLAS_THREAD_VARIABLES:
        os.environ[variable] = "1"


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread (threadpoolctl): every run trains in one, so that
    it is a function of its config (on several, OpenBLAS sums some large products in another
    order), whatever process it runs in."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def freeze_gc_at_exit() -> None:
    """Skip the interpreter teardown's garbage collection (~0.7 s once MLflow is loaded): by
    then every file is written and closed, and the OS frees the memory anyway. Atexit handlers
    and flushes still run."""
    if not _state["exit_freeze"]:
        atexit.register(gc.freeze)
        _state["exit_freeze"] = True


def freeze_what_is_loaded() -> None:
    """Leave the objects this process has loaded (MLflow, SQLAlchemy, matplotlib: ~300k) out of
    every later garbage collection, once.

    Without psutil, loky collects garbage in each worker about once a second: a full collection
    over those objects takes ~0.1 s, between every two jobs.
    """
    if not _state["frozen"]:
        gc.collect()
        gc.freeze()
        _state["frozen"] = True
    freeze_gc_at_exit()


def cache(name: str) -> dict[Any, Any]:
    """This process's cache called `name`: a dict kept from one job to the next."""
    return _state["caches"].setdefault(name, {})
