"""The sweep machinery's overhead, in two benchmarks.

The headline sweep as a user types it, `python -m nnlab.run -m 'seed=range(20)'
activation=relu,sigmoid` (the default sincos recipe, 40 runs of ~14 ms of training, one worker
per core), into a new store and again into it (resume=false): wall and CPU seconds, where the
wall time goes (the timestamps of its output lines), and two floors measured in the same run:
the 40 trainings one after the other in this process, and a bare `python -c "import
nnlab.engine"`. Targets: new store <= 3.5 s, existing <= 2.5 s, CPU <= 5 s. Hydra's stock joblib
launcher (`hydra/launcher=joblib`) is printed beside it (it runs nnlab's app per job: no target).

The stretched sweep: 40 jobs (20 seeds x relu, sigmoid) of the sincos recipe, stretched to about


with two joblib workers into a fresh MLflow store; against the pure engine time of the same 40
trainings in this process. The target: wall <= 1.2 x (pure compute / 2 workers) + 2 s. Also
reported: the start-up (launch to the first finished job, less that job's own time) and the
overhead per job that remains.
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

import nnlab
from nnlab import contract, job, schema
from nnlab.engine import train
from nnlab.harness.app import register_schema

WORKERS = 2
SECONDS_PER_JOB = 0.5


def _configs(epochs: int | None, seeds: int) -> list[schema.RunConfig]:
    """The sweep's configs; epochs None: the recipe's."""
    register_schema()
    with initialize_config_dir(config_dir=str(Path(nnlab.__file__).parent / "conf"),
                               version_base="1.3"):
        configs = []
        for seed in range(seeds):
            for activation in ("relu", "sigmoid"):
                overrides = [f"seed={seed}", f"activation={activation}"]
                overrides += [] if epochs is None else [f"epochs={epochs}"]
                configs.append(schema.to_run_config(compose("config", overrides=overrides)))
    return configs


def pure_compute(configs: list[schema.RunConfig]) -> float:
    """Seconds to build and train every config, one after the other, in this process."""
    start = time.perf_counter()
    for config in configs:
        inputs = job.build(config)
        train(inputs.net, inputs.data.x_train, inputs.data.y_train, inputs.train_config,
              inputs.shuffle_rng)
    return time.perf_counter() - start


def epochs_for(seconds: float) -> int:
    """The epochs that make one training take `seconds`: per-epoch time from the difference of
    two lengths, since one epoch alone is mostly the fixed cost of building the run."""
    short, long = _configs(1, 1)[:1], _configs(11, 1)[:1]
    pure_compute(short)  # warm-up: imports, caches
    fixed_and_one = statistics.median(pure_compute(short) for _ in range(3))
    per_epoch = (statistics.median(pure_compute(long) for _ in range(3)) - fixed_and_one) / 10
    return max(1, round(1 + (seconds - fixed_and_one) / per_epoch))


def run_sweep(workdir: Path, *arguments: str) -> tuple[list[tuple[float, str]], float]:
    """`python -m nnlab.run -m ARGUMENTS` in workdir, on the store there: each line it printed
    with the seconds from its launch to the line, and its wall seconds."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "nnlab.run", "-m", *arguments],
                               cwd=workdir, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None  # both are pipes
    lines = [(time.perf_counter() - start, line) for line in process.stdout]
    process.wait()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"sweep failed: {process.stderr.read()[-2000:]}")
    return lines, wall


def timed_sweep(epochs: int, seeds: int, workdir: Path) -> tuple[float, float]:
    """Wall seconds of the sweep, and seconds from launch to the end of the first job's
    training-free part (the start-up: imports, store creation, worker start). Every job runs,
    also when the store has its config already."""
    lines, wall = run_sweep(workdir, f"seed=range({seeds})", "activation=relu,sigmoid",
                            f"epochs={epochs}", f"log_every={epochs}",
                            f"hydra.launcher.n_jobs={WORKERS}", "resume=false",
                            f"hydra.sweep.dir={workdir}/multirun")
    # "[1/40] relu-s0 test_loss=... 0.9s": the job's own seconds end the line.
    first_done = next((seconds - float(line.split()[-1].rstrip("s"))
                       for seconds, line in lines if line.startswith("[1/")), float("nan"))
    return wall, first_done


def engine_in_workers(workdir: Path) -> list[float]:
    """Seconds each sweep's runs spent training, as they logged it (train_time_s), in the order
    the sweeps ran: the engine's share of the workers' time, on two busy cores."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    try:
        from nnlab.tracking import store

        runs = store.find_runs("nnlab")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    by_sweep: dict[str, float] = {}
    for run in runs:
        sweep_id = run.tags[contract.SWEEP_ID_TAG]
        by_sweep[sweep_id] = by_sweep.get(sweep_id, 0.0) + run.metrics["train_time_s"]
    return [by_sweep[sweep_id] for sweep_id in sorted(by_sweep)]


STORES = ("new", "existing")
REPEATS = 3  # this machine is shared: one sweep's wall time moves by 20 % from run to run


def main(quick: bool = False) -> list[dict[str, object]]:
    return headline(quick) + stretched(quick)


HEADLINE_TARGETS = {"new": 3.5, "existing": 2.5}  # wall seconds
HEADLINE_CPU_TARGET = 5.0
# Where the wall time goes, from the sweep's output lines: the line that says what runs (the
# store is open, the plan made, the parent run started), the first and the last run's line.
PHASES = ("start-up and store", "to the first run", "the runs", "to the exit")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_headline(workdir: Path, *overrides: str) -> dict[str, float]:
    """One headline sweep in workdir: wall and CPU seconds (the sweep's processes, its workers
    included) and the seconds of each phase."""
    cpu_before = _children_cpu()
    lines, wall = run_sweep(workdir, "seed=range(20)", "activation=relu,sigmoid", *overrides)
    planned = first = last = float("nan")
    for seconds, line in lines:
        if line.startswith("nnlab: ") and " running " in line:
            planned = seconds
        elif line.startswith("[1/"):
            first = seconds
        elif line.startswith("["):
            last = seconds
    phases = (planned, first - planned, last - first, wall - last)
    return {"wall": wall, "cpu": _children_cpu() - cpu_before,
            **dict(zip(PHASES, phases, strict=True))}


def bare_start() -> float:
    """Seconds of `python -c "import nnlab.engine"`: the floor of any process nnlab starts."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import nnlab.engine"], check=True)
    return time.perf_counter() - start


def headline(quick: bool = False) -> list[dict[str, object]]:
    """The headline sweep into a new store, again into it with resume=false, and on Hydra's
    stock joblib launcher into a new store, REPEATS times each, beside the floors; medians."""
    repeats = 1 if quick else REPEATS
    configs = _configs(None, 20)
    pure_compute(configs[:2])  # warm-up: imports, caches
    computes, starts = [], []
    sweeps: dict[str, list[dict[str, float]]] = {"new": [], "existing": [], "stock joblib": []}
    for _ in range(repeats):
        computes.append(pure_compute(configs))
        starts.append(bare_start())
        with tempfile.TemporaryDirectory() as tmp:
            sweeps["new"].append(timed_headline(Path(tmp)))
            sweeps["existing"].append(timed_headline(Path(tmp), "resume=false"))
        with tempfile.TemporaryDirectory() as tmp:
            sweeps["stock joblib"].append(timed_headline(Path(tmp), "hydra/launcher=joblib"))
    compute, start = statistics.median(computes), statistics.median(starts)
    print(f"the headline sweep (40 runs of the sincos recipe, one worker per core, SQLite); "
          f"medians of {repeats}; floors: the 40 trainings in one process {compute:.2f}s, "
          f"python -c 'import nnlab.engine' {start:.2f}s")
    print(f"{'store':>13} {'wall':>6} {'target':>6} {'cpu':>6} {'target':>6}  "
          + "  ".join(PHASES) + "  verdict  [walls]")
    rows: list[dict[str, object]] = []
    for store, runs in sweeps.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        target = HEADLINE_TARGETS.get(store)
        verdict = ("-" if target is None else "PASS" if median["wall"] <= target
                   and median["cpu"] <= HEADLINE_CPU_TARGET else "MISS")
        walls = ", ".join(f"{run['wall']:.1f}" for run in runs)
        phases = "  ".join(f"{median[phase]:{len(phase)}.2f}" for phase in PHASES)
        print(f"{store:>13} {median['wall']:5.1f}s "
              f"{'' if target is None else f'{target:.1f}s':>6} {median['cpu']:5.1f}s "
              f"{'' if target is None else f'{HEADLINE_CPU_TARGET:.1f}s':>6}  {phases}  "
              f"{verdict}  [{walls}]")
        rows.append({"sweep": "headline", "store": store, **median, "walls_s": walls,
                     "compute_s": compute, "bare_start_s": start, "verdict": verdict})
    return rows


def stretched(quick: bool = False) -> list[dict[str, object]]:
    """The sweep into a new store (a user's first), then again into that store (every later
    one: MLflow's import stays, its ~60 schema migrations do not), REPEATS times, with the pure
    compute measured between them; medians."""
    seeds = 4 if quick else 20
    repeats = 1 if quick else REPEATS
    epochs = 1 if quick else epochs_for(SECONDS_PER_JOB)
    configs = _configs(epochs, seeds)
    computes = [pure_compute(configs)]
    sweeps: dict[str, list[tuple[float, float, float]]] = {store: [] for store in STORES}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            timed = [timed_sweep(epochs, seeds, Path(tmp)) for _store in STORES]
            trained = engine_in_workers(Path(tmp))
        for store, (wall, startup), seconds in zip(STORES, timed, trained, strict=True):
            sweeps[store].append((wall, startup, seconds))
        computes.append(pure_compute(configs))
    compute = statistics.median(computes)
    ideal = compute / WORKERS
    target = 1.2 * ideal + 2
    jobs = len(configs)
    print(f"{jobs} jobs of sincos x {epochs} epochs, {WORKERS} workers, SQLite store; pure "
          f"compute {compute:.1f}s, target 1.2 x {ideal:.1f}s + 2s = {target:.1f}s; medians of "
          f"{repeats} sweeps per store (walls in brackets)")
    print(f"{'store':>8} {'wall':>8} {'wall/(c/2)':>10} {'start-up':>8} {'per job':>8} "
          f"{'training':>8} {'machinery':>9}")
    rows = []
    for store in STORES:
        wall, startup, trained = (statistics.median(column)
                                  for column in zip(*sweeps[store], strict=True))
        per_job = (wall - startup - ideal) * WORKERS / jobs
        # What is left once the engine's own time in the workers is taken out: nnlab's machinery
        # (figures, MLflow, Hydra) per job.
        machinery = (wall - startup - trained / WORKERS) * WORKERS / jobs
        verdict = "PASS" if wall <= target else "MISS"
        walls = ", ".join(f"{run[0]:.1f}" for run in sweeps[store])
        rows.append({"store": store, "jobs": jobs, "epochs": epochs, "wall_s": wall,
                     "walls_s": [run[0] for run in sweeps[store]], "compute_s": compute,
                     "ratio": wall / ideal, "target_s": target, "startup_s": startup,
                     "overhead_per_job_s": per_job, "training_in_workers_s": trained,
                     "machinery_per_job_s": machinery, "verdict": verdict})
        print(f"{store:>8} {wall:7.1f}s {wall / ideal:10.2f} {startup:7.1f}s {per_job:7.2f}s "
              f"{trained / compute:7.2f}x {machinery:8.2f}s  {verdict}  [{walls}]")
    print("per job: what a job adds to the wall time beyond its share of the pure compute; "
          "training: the runs' own train_time_s against the pure compute (two busy cores); "
          "machinery: per job, once the runs' own training time is taken out")
    return rows
