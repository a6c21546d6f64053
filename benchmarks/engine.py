"""nnlab's engine against scikit-learn's MLP (plain SGD), and against NumPy's own matmul peak.

Each recipe is trained on the same data and shapes by both libraries: nnlab's init_network +
train against scikit-learn's fit (which initializes its own weights), both timed end to end,
alternating in the same process. Reported: the median seconds per epoch and the ratio
sklearn / nnlab (> 1: nnlab is faster). For the large net, nnlab's achieved GFLOP/s (the
matmuls of forward and backward, over the median epoch) is set against the median throughput of
NumPy's matmul on the very shapes and operand layouts of one training step, and against a
1024x1024 square product, both sampled between the training runs.

The libraries do the same arithmetic except where noted:
- sincos: nnlab uses an identity output (the tutorial's is relu), as MLPRegressor must.
- moons: with two classes, MLPClassifier has one logistic output unit where nnlab has a 2-unit
  softmax, and it shuffles every epoch even when a batch is the whole set (nnlab does not).
"""

import functools
import math
import os
import statistics
import sys
import time
import timeit
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_info, threadpool_limits

from nnlab.engine import Init, TrainConfig, init_network, train
from nnlab.engine.training import GATHER_BATCH_BYTES

Row = dict[str, Any]  # one table row: numbers and labels
SklearnModel = MLPClassifier | MLPRegressor

SPEED_TARGET = 1.0  # sklearn time / nnlab time, the tiny nets
LARGE_SPEED_TARGET = 1.2  # the same, the large net (both dtypes)
PEAK_TARGET = 0.7  # nnlab's GFLOP/s / matmul peak on the step's shapes (float32)
LARGE_SIZES = [784, 256, 128, 10]
LARGE_BATCH = 128
SQUARE = 1024


@dataclass(frozen=True)
class Scale:
    """How much work each part does: the full benchmark, or a smoke test (--quick)."""

    sincos_samples: int
    sincos_epochs: int  # per timed run
    moons_epochs: int  # per timed run
    large_samples: int
    repeats: int  # timed runs of each library, small recipes
    large_repeats: int  # the same for the large net; also the number of matmul-peak samples
    seconds_per_peak_sample: float  # each matmul-peak sample runs its products this long


FULL = Scale(9600, 10, 2000, 60_000, repeats=5, large_repeats=3, seconds_per_peak_sample=0.2)
QUICK = Scale(960, 2, 100, 1024, repeats=2, large_repeats=1, seconds_per_peak_sample=0.01)


@dataclass(frozen=True)
class Recipe:
    """One training problem, set up the same way for nnlab and for scikit-learn."""

    name: str
    x: np.ndarray
    y: np.ndarray
    sizes: list[int]
    activation: str
    output: str
    init: Init
    config: TrainConfig  # its epochs is replaced by each run's
    sklearn_model: Callable[[int], SklearnModel]  # epochs -> an unfitted model
    speed_target: float = SPEED_TARGET  # sklearn time / nnlab time
    step_target_s: float | None = None  # the most a step may take (tiny nets)

    @property
    def steps_per_epoch(self) -> int:
        batch = self.config.batch_size or len(self.x)
        return math.ceil(len(self.x) / batch)


def _sgd_params(batch: int, lr: float, alpha: float, epochs: int) -> dict[str, Any]:
    """scikit-learn's MLP as plain minibatch SGD that runs exactly `epochs` epochs."""
    return {
        "solver": "sgd",
        "batch_size": batch,
        "learning_rate_init": lr,
        "learning_rate": "constant",
        "momentum": 0.0,
        "nesterovs_momentum": False,
        "alpha": alpha,
        "early_stopping": False,
        "shuffle": True,
        "tol": 0.0,
        "n_iter_no_change": sys.maxsize,
        "max_iter": epochs,
        "random_state": 0,
    }


def sincos_recipe(n_samples: int, rng: np.random.Generator) -> Recipe:
    x = rng.random((n_samples, 1))
    batch, lr = 32, 1.0
    # Same lr for both: sklearn's squared loss is halved too, and its gradient is (y - t) / rows,
    # exactly nnlab's with reduction="mean".
    return Recipe(
        name="sincos [1,16,2] b=32",
        x=x,
        y=np.hstack([np.sin(x), np.cos(x)]),
        sizes=[1, 16, 2],
        activation="relu",
        output="identity",
        init=Init("normal", std=0.1, bias="same"),
        config=TrainConfig(loss="squared", lr=lr, batch_size=batch, reduction="mean"),
        sklearn_model=lambda epochs: MLPRegressor(
            hidden_layer_sizes=(16,), activation="relu", **_sgd_params(batch, lr, 0.0, epochs)
        ),
        step_target_s=12e-6,
    )


def two_moons(
    rng: np.random.Generator, n_samples: int, noise: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving noisy half circles, alternating labels 0 and 1."""
    labels = np.arange(n_samples) % 2
    t = rng.uniform(0.0, np.pi, n_samples)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    lower = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])
    x = np.where(labels[:, None] == 0, upper, lower) + rng.normal(scale=noise, size=(n_samples, 2))
    return x, labels


def moons_recipe(rng: np.random.Generator) -> Recipe:
    n_samples = 200
    x, y = two_moons(rng, n_samples)
    lr, l2 = 0.01, 0.01  # the tutorial's epsilon and reg_lambda, on the summed cost
    # sklearn averages the cost and adds alpha * W / rows to the gradient: the update of nnlab's
    # summed objective is sklearn's with lr * rows and alpha = l2.
    return Recipe(
        name="moons [2,3,2] b=200 (full)",
        x=x,
        y=y,
        sizes=[2, 3, 2],
        activation="tanh",
        output="softmax",
        init=Init("lecun"),
        config=TrainConfig(
            loss="cross_entropy", lr=lr, batch_size=n_samples, reduction="sum", l2=l2
        ),
        sklearn_model=lambda epochs: MLPClassifier(
            hidden_layer_sizes=(3,),
            activation="tanh",
            **_sgd_params(n_samples, lr * n_samples, l2, epochs),
        ),
        step_target_s=25e-6,
    )


def large_recipe(x: np.ndarray, y: np.ndarray) -> Recipe:
    lr = 0.01
    return Recipe(
        name="large [784,256,128,10] b=128",
        x=x,
        y=y,
        sizes=LARGE_SIZES,
        activation="relu",
        output="softmax",
        # sklearn's own initialization: Glorot uniform, biases included.
        init=Init("xavier", bias="same"),
        config=TrainConfig(loss="cross_entropy", lr=lr, batch_size=LARGE_BATCH),
        sklearn_model=lambda epochs: MLPClassifier(
            hidden_layer_sizes=tuple(LARGE_SIZES[1:-1]),
            activation="relu",
            **_sgd_params(LARGE_BATCH, lr, 0.0, epochs),
        ),
        speed_target=LARGE_SPEED_TARGET,
    )


def run_nnlab(recipe: Recipe, epochs: int) -> None:
    net = init_network(recipe.sizes, recipe.activation, recipe.output, recipe.init,
                       np.random.default_rng(1), dtype=recipe.x.dtype.type)
    result = train(net, recipe.x, recipe.y, replace(recipe.config, epochs=epochs),
                   np.random.default_rng(2))
    # A run that stopped early would time less work than sklearn's: refuse to report it.
    if result.diverged_at is not None or result.steps != epochs * recipe.steps_per_epoch:
        raise RuntimeError(f"{recipe.name}: nnlab stopped at step {result.steps} "
                           f"(diverged_at={result.diverged_at})")


def run_sklearn(recipe: Recipe, epochs: int) -> str:
    """Fit, and return the dtype sklearn trained in (it may upcast float32)."""
    model = recipe.sklearn_model(epochs)
    with warnings.catch_warnings():
        # Running out of epochs is the point here, not a problem.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(recipe.x, recipe.y)
    if model.n_iter_ != epochs or not np.isfinite(model.loss_):
        raise RuntimeError(f"{recipe.name}: sklearn ran {model.n_iter_} of {epochs} epochs, "
                           f"loss {model.loss_}")
    return model.coefs_[0].dtype.name


@dataclass
class Timings:
    """Seconds of the repeated runs of one thing: wall clock, and this process's CPU time."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def time_alternating(
    runs: list[Callable[[], object]], repeats: int, between: Callable[[], object] | None = None
) -> list[Timings]:
    """Time each run `repeats` times, interleaved in the same process; `between` (untimed here)
    follows each round, so that what it measures sees the same conditions as the runs."""
    timings = [Timings() for _ in runs]
    for repeat in range(repeats):
        # Who goes first alternates, so that a busy spell of the shared machine hits both.
        order = range(len(runs)) if repeat % 2 == 0 else reversed(range(len(runs)))
        for i in order:
            wall, cpu = time.perf_counter(), time.process_time()
            runs[i]()
            timings[i].wall.append(time.perf_counter() - wall)
            timings[i].cpu.append(time.process_time() - cpu)
        if between is not None:
            between()
    return timings


def compare(recipe: Recipe, epochs: int, repeats: int, warm_up: bool = True,
            between: Callable[[], object] | None = None) -> Row:
    """nnlab against sklearn on one recipe: median seconds per epoch and their ratio."""
    if warm_up:
        # First calls pay for lazy imports and cold caches, which are not per-epoch costs.
        run_nnlab(recipe, 1)
        run_sklearn(recipe, 1)
    sklearn_dtypes: set[str] = set()
    nnlab_times, sklearn_times = time_alternating(
        [lambda: run_nnlab(recipe, epochs),
         lambda: sklearn_dtypes.add(run_sklearn(recipe, epochs))],
        repeats,
        between,
    )
    nnlab_s = statistics.median(nnlab_times.wall) / epochs
    sklearn_s = statistics.median(sklearn_times.wall) / epochs
    ratio = sklearn_s / nnlab_s
    return {
        "benchmark": recipe.name,
        "dtype": recipe.x.dtype.name,
        "sklearn_dtype": "/".join(sorted(sklearn_dtypes)),
        "samples": len(recipe.x),
        "epochs": epochs,
        "repeats": repeats,
        "nnlab_s_per_epoch": nnlab_s,
        "nnlab_cpu_s_per_epoch": statistics.median(nnlab_times.cpu) / epochs,
        "sklearn_s_per_epoch": sklearn_s,
        "ratio": ratio,
        # With one BLAS thread, CPU time leaves out the time other jobs took the core: on a
        # loaded machine, its ratio is the steadier of the two.
        "cpu_ratio": statistics.median(sklearn_times.cpu) / statistics.median(nnlab_times.cpu),
        "target": f"ratio >= {recipe.speed_target:g}",
        "passed": ratio >= recipe.speed_target,
    }


# NumPy calls of nnlab's training step, by what makes them, as nnlab/engine's code makes them
# (counted by reading it: keep these in step with the engine).
ACTIVATION_CALLS = {"identity": 0, "relu": 1, "leaky_relu": 1, "tanh": 1, "sigmoid": 4}
DERIVATIVE_CALLS = {"identity": 0, "relu": 2, "leaky_relu": 3, "tanh": 3, "sigmoid": 3}
# (products, other calls): cost and gradient together; cross-entropy clips, logs, and subtracts.
COST_CALLS = {"squared": (1, 1), "cross_entropy": (1, 4)}


def numpy_calls_per_step(recipe: Recipe) -> tuple[int, int]:
    """(BLAS products: np.dot and np.vdot, every other NumPy call) of one training step."""
    sizes, config = recipe.sizes, recipe.config
    layers, width = len(sizes) - 1, sizes[-1]
    # forward; the weight-and-bias gradient of every layer; the deltas passed back
    products = layers + layers + (layers - 1)
    other = (layers - 1) * ACTIVATION_CALLS[recipe.activation]  # hidden f
    if recipe.output == "softmax":
        # column max: a copy and width - 1 maxima; shift, exp, divide; the column sums' product
        products += 1
        other += width + 2
    else:
        other += ACTIVATION_CALLS[recipe.output] + DERIVATIVE_CALLS[recipe.output]
    cost_products, cost_other = COST_CALLS[config.loss]
    products += cost_products
    other += cost_other + (config.reduction == "mean")  # the 1/rows scaling
    other += (layers - 1) * DERIVATIVE_CALLS[recipe.activation]
    if config.l2:
        products += 1  # the penalty's vdot, on all parameters at once
        other += 2  # its gradient: a product with the weights' mask, added
    if config.l1:
        products += 1
        other += 3  # signs, times the mask, added
    other += 2 + 2 * bool(config.momentum)  # the update, on all parameters at once
    other += 1  # the loss's entry in the history
    batch = config.batch_size or len(recipe.x)
    if batch < len(recipe.x) and recipe.x[:batch].nbytes >= GATHER_BATCH_BYTES:
        other += 2  # the batch's rows gathered from the permutation
    return products, other


def per_call_floor(recipe: Recipe) -> tuple[float, float]:
    """Median seconds of one ufunc call (np.add with out=) and one product (np.dot with out=) on
    the first layer's shapes of `recipe`, laid out as the engine lays them (a sample per column,
    the bias's row of ones): what any call of its step costs at least."""
    batch = recipe.config.batch_size or len(recipe.x)
    fan_in, fan_out = recipe.sizes[:2]
    a, w = np.ones((batch, fan_in + 1)).T, np.ones((fan_in + 1, fan_out)).T
    z, out = np.ones((fan_out, batch)), np.empty((fan_out, batch))
    number = 2000
    ufunc = timeit.repeat(lambda: np.add(z, z, out=out), number=number, repeat=7)
    product = timeit.repeat(lambda: np.dot(w, a, out=out), number=number, repeat=7)
    return statistics.median(ufunc) / number, statistics.median(product) / number


def step_row(recipe: Recipe, row: Row) -> Row:
    """One tiny recipe's time per step (its `compare` row) against its calls and their floor."""
    steps = recipe.steps_per_epoch
    step_s = float(row["nnlab_s_per_epoch"]) / steps
    products, other = numpy_calls_per_step(recipe)
    ufunc_s, product_s = per_call_floor(recipe)
    floor_s = products * product_s + other * ufunc_s
    assert recipe.step_target_s is not None
    return {
        "benchmark": recipe.name,
        "step_s": step_s,
        "step_cpu_s": float(row["nnlab_cpu_s_per_epoch"]) / steps,
        "calls": products + other,
        "products": products,
        "ufunc_floor_s": ufunc_s,
        "product_floor_s": product_s,
        "floor_s": floor_s,
        "floor_ratio": step_s / floor_s,
        "target": f"step <= {format_seconds(recipe.step_target_s)}",
        "passed": step_s <= recipe.step_target_s,
    }


def step_matmuls(sizes: list[int], batch: int, dtype: type,
                 rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(a, b, out) of every matmul in one training step, with the engine's operand layouts (a
    sample per column, the bias's row of ones): forward [W_i; b_i]^T @ [A_i; 1], weight-and-bias
    gradients [A_i; 1] @ Delta_i^T, deltas W_i @ Delta_i (i >= 1). The data's rows are gathered
    with their ones: the first layer's input is their transpose."""
    def draw(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)

    products = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        block, delta = draw(fan_in + 1, fan_out), draw(fan_out, batch)
        a = draw(batch, fan_in + 1).T if i == 0 else draw(fan_in + 1, batch)
        products.append((block.T, a, np.empty((fan_out, batch), dtype)))
        products.append((a, delta.T, np.empty((fan_in + 1, fan_out), dtype)))
        if i > 0:
            products.append((block[:-1], delta, np.empty((fan_in, batch), dtype)))
    return products


def flops(products: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> int:
    return sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in products)


@dataclass
class MatmulMeter:
    """NumPy's matmul throughput on fixed products, sampled at each call to `measure`."""

    products: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    seconds_per_sample: float
    samples: list[float] = field(default_factory=list)  # GFLOP/s
    loops: int = 0  # products run per sample, set by the first measure

    def run_once(self) -> None:
        for a, b, out in self.products:
            np.matmul(a, b, out=out)

    def measure(self) -> None:
        if not self.loops:
            start = time.perf_counter()
            self.run_once()  # also the warm-up
            self.loops = max(1, round(self.seconds_per_sample / (time.perf_counter() - start)))
        start = time.perf_counter()
        for _ in range(self.loops):
            self.run_once()
        seconds = (time.perf_counter() - start) / self.loops
        self.samples.append(flops(self.products) / seconds / 1e9)

    @property
    def gflops(self) -> float:
        return statistics.median(self.samples)


def square_product(dtype: type) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    shape = (SQUARE, SQUARE)
    return [(np.ones(shape, dtype), np.ones(shape, dtype), np.empty(shape, dtype))]


def measure_all(meters: list[MatmulMeter]) -> None:
    for meter in meters:
        meter.measure()


def throughput(row: Row, step: MatmulMeter, square: MatmulMeter) -> Row:
    """nnlab's achieved GFLOP/s on the large recipe (its `compare` row) against NumPy's matmul on
    one step's products and on a square product."""
    # Every product's flops are linear in the rows, so one sample costs 1/batch of a step.
    epoch_gflop = flops(step.products) / LARGE_BATCH * int(row["samples"]) / 1e9
    nnlab = epoch_gflop / float(row["nnlab_s_per_epoch"])
    ratio = nnlab / step.gflops
    is_target = row["dtype"] == "float32"
    return {
        "benchmark": row["benchmark"],
        "dtype": row["dtype"],
        "nnlab_gflops": nnlab,
        "sklearn_gflops": epoch_gflop / float(row["sklearn_s_per_epoch"]),
        "peak_gflops": step.gflops,
        "square_gflops": square.gflops,
        "ratio": ratio,
        "square_ratio": nnlab / square.gflops,
        "target": f"ratio >= {PEAK_TARGET:.0%}" if is_target else "(info)",
        "passed": ratio >= PEAK_TARGET if is_target else None,
    }


def format_seconds(seconds: float) -> str:
    """Three significant digits, in the largest unit that keeps the number >= 1."""
    if seconds >= 1:
        value, unit = seconds, "s"
    elif seconds >= 1e-3:
        value, unit = seconds * 1e3, "ms"
    else:
        value, unit = seconds * 1e6, "us"
    decimals = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{decimals}f} {unit}"


def verdict(passed: object) -> str:
    return "-" if passed is None else "PASS" if passed else "MISS"


def print_table(title: str, notes: list[str], header: list[str], lines: list[list[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    print(f"\n{title}")
    for note in notes:
        print(f"  {note}")
    for cells in [header, ["-" * w for w in widths], *lines]:
        print("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip())


def print_environment() -> None:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}; {cpu}, {cpus} CPUs; load average {load:.2f}"
          f"{' (more than the CPUs: expect noisy wall times)' if load > cpus else ''}")
    for pool in threadpool_info():
        # The folder tells whose copy it is: numpy.libs, scipy.libs, scikit_learn.libs.
        owner = os.path.basename(os.path.dirname(pool["filepath"]))
        details = " ".join(str(pool[key]) for key in ("internal_api", "version", "architecture")
                           if pool.get(key))
        print(f"  {pool['user_api']} ({owner}): {details}, threads: {pool['num_threads']}")


def main(quick: bool = False) -> list[Row]:
    """Run the benchmark, print its two tables, and return their rows."""
    scale = QUICK if quick else FULL
    rng = np.random.default_rng(0)
    # Also pins BLAS when called from a process that imported NumPy unpinned (a test, say).
    with threadpool_limits(limits=1):
        print_environment()
        print(f"median of {scale.repeats} repeats ({scale.large_repeats} for the large net), "
              "nnlab and sklearn alternating in one process; times are per epoch, end to end "
              "(nnlab: init_network + train, sklearn: fit); matmul peaks sampled between the "
              "large-net runs")
        tiny = [sincos_recipe(scale.sincos_samples, rng), moons_recipe(rng)]
        rows = [compare(tiny[0], scale.sincos_epochs, scale.repeats),
                compare(tiny[1], scale.moons_epochs, scale.repeats)]
        step_rows = [step_row(recipe, row) for recipe, row in zip(tiny, rows, strict=True)]
        x_large = rng.standard_normal((scale.large_samples, LARGE_SIZES[0]))
        y_large = rng.integers(0, LARGE_SIZES[-1], scale.large_samples)
        throughput_rows = []
        for dtype in (np.float64, np.float32):
            recipe = large_recipe(x_large.astype(dtype, copy=False), y_large)
            meters = [MatmulMeter(step_matmuls(LARGE_SIZES, LARGE_BATCH, dtype, rng),
                                  scale.seconds_per_peak_sample),
                      MatmulMeter(square_product(dtype), scale.seconds_per_peak_sample)]
            # The peaks are sampled between the training runs: the machine's load, and whatever
            # shares the core's vector units, change within minutes. An epoch is long enough
            # that first-call costs vanish in it: no warm-up.
            rows.append(compare(recipe, 1, scale.large_repeats, warm_up=False,
                                between=functools.partial(measure_all, meters)))
            throughput_rows.append(throughput(rows[-1], *meters))

    print_table(
        "nnlab vs scikit-learn MLP (plain SGD): time per epoch, median",
        ["ratio = sklearn / nnlab (> 1: nnlab faster); targets: tiny nets at least as fast as "
         f"sklearn, the large net {LARGE_SPEED_TARGET:g} x as fast in both dtypes",
         "cpu ratio: the same from process CPU time, steadier than wall time on a busy machine",
         "sincos: relu hidden, identity output in both; squared loss, lr 1.0, mean reduction",
         "moons: tanh, cross-entropy (sklearn: 1 logistic output unit), summed cost + L2 0.01",
         "large: relu, softmax, cross-entropy, lr 0.01; random inputs and labels"],
        ["benchmark", "dtype", "sklearn dtype", "epochs x repeats", "nnlab", "sklearn",
         "ratio", "cpu ratio", "target", "result"],
        [[str(r["benchmark"]), str(r["dtype"]), str(r["sklearn_dtype"]),
          f"{r['epochs']} x {r['repeats']}", format_seconds(float(r["nnlab_s_per_epoch"])),
          format_seconds(float(r["sklearn_s_per_epoch"])), f"{r['ratio']:.2f}",
          f"{r['cpu_ratio']:.2f}", str(r["target"]), verdict(r["passed"])] for r in rows],
    )
    print_table(
        "Tiny nets: time per training step against NumPy's per-call floor",
        ["step: the median epoch's wall time (cpu: its process CPU time) over its steps",
         "calls: NumPy calls per step (of them BLAS products, np.dot / np.vdot), as the engine's "
         "code makes them",
         "floor: one call's median time on the first layer's shapes (np.add and np.dot, out=); "
         "per step: products x dot + the rest x add",
         "targets: sincos step <= 12 us, moons step <= 25 us (wall)"],
        ["benchmark", "step", "step (cpu)", "calls (products)", "floor: add", "dot",
         "floor per step", "step / floor", "target", "result"],
        [[str(r["benchmark"]), format_seconds(float(r["step_s"])),
          format_seconds(float(r["step_cpu_s"])), f"{r['calls']} ({r['products']})",
          format_seconds(float(r["ufunc_floor_s"])), format_seconds(float(r["product_floor_s"])),
          format_seconds(float(r["floor_s"])), f"{r['floor_ratio']:.2f}", str(r["target"]),
          verdict(r["passed"])] for r in step_rows],
    )
    print_table(
        "Large net throughput: GFLOP/s of forward + backward matmuls over the median epoch",
        ["peak = NumPy matmul on one step's 8 products, same shapes and operand layouts",
         f"ratio = nnlab / peak; {SQUARE}^2: a square product, for reference; "
         f"target: float32 >= {PEAK_TARGET:.0%} of the step-shape peak"],
        ["benchmark", "dtype", "nnlab", "sklearn", "peak (step shapes)", "ratio",
         f"peak ({SQUARE}^2)", "ratio", "target", "result"],
        [[str(r["benchmark"]), str(r["dtype"]), f"{r['nnlab_gflops']:.1f}",
          f"{r['sklearn_gflops']:.1f}", f"{r['peak_gflops']:.1f}", f"{r['ratio']:.0%}",
          f"{r['square_gflops']:.1f}", f"{r['square_ratio']:.0%}", str(r["target"]),
          verdict(r["passed"])] for r in throughput_rows],
    )
    return rows + step_rows + throughput_rows
