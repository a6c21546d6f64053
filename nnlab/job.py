"""One run, from a config to its numbers and files, with no Hydra and no MLflow in sight:
check, build, train, evaluate, write the artifacts.

Every random draw of a run comes from its seed, split into independent streams for the data,
the initial weights and the shuffling: changing how one is used (say, n_train) leaves the others
as they were, and runs that differ only in e.g. the activation share data and initial weights,
which is what makes a paired comparison across seeds fair.
"""

import hashlib
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from nnlab import contract, process
from nnlab.constraints import (
    Interval,
    ListOf,
    NonBlank,
    NoneOr,
    Options,
    check_values,
    invalid,
    require,
)
from nnlab.data import Dataset, load_dataset
from nnlab.engine import (
    Init,
    Network,
    Schedule,
    TrainConfig,
    classification_metrics,
    dead_outputs_frac,
    dead_units_frac,
    init_network,
    mean_cost,
    regression_metrics,
    train,
    validate_network,
)
from nnlab.engine.losses import CLASSIFICATION_LOSSES
from nnlab.engine.training import validate
from nnlab.schema import RunConfig

DTYPES = ("float64", "float32")
ENGINES = ("numpy",)

# The run's own settings; the engine and the datasets declare theirs beside what they constrain.
RUN_CONSTRAINTS = {
    "seed": Interval(Integral, 0, None),
    "experiment_name": NonBlank(),
    "hidden": ListOf(Interval(Integral, 1, None), "e.g. [16]; [] for no hidden layer"),
    "log_every": Interval(Integral, 1, None),
    "loss_threshold": NoneOr(Interval(Real, 0, None, closed="neither")),
}
ENGINE_CONSTRAINTS = {"name": Options(ENGINES), "dtype": Options(DTYPES)}


@dataclass
class RunInputs:
    """What a run trains: its data, its initial network, its training settings."""

    data: Dataset
    net: Network
    train_config: TrainConfig
    shuffle_rng: np.random.Generator


@dataclass
class RunResult:
    metrics: dict[str, float]
    steps: np.ndarray  # the logged steps of the train_loss series
    train_loss: np.ndarray
    data: Dataset  # what the run trained and was tested on
    diverged_at: int | None = None  # the step at which the loss left the floats
    files: list[str] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        """The human message of a diverged run; None for one that trained to the end."""
        return None if self.diverged_at is None else contract.failure_message(self.diverged_at)


def dataset_digest(data: Dataset) -> str:
    """A digest of a run's data: its four arrays, their shapes and types. Two runs show the same
    one exactly when they trained and were tested on the same numbers."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()[:10]


def random_streams(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for the data, the initial weights and the shuffling."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))


def _dataset_options(config: RunConfig) -> dict:
    options = {
        "n_samples": config.dataset.n_samples,
        "n_test": config.dataset.n_test,
        "noise": config.dataset.noise,
        "target_noise": config.dataset.target_noise,
        "train_fraction": config.dataset.train_fraction,
    }
    return {key: value for key, value in options.items() if value is not None}


def _output_width(config: RunConfig, data: Dataset) -> int:
    if data.task == "regression":
        require(config.loss not in CLASSIFICATION_LOSSES, "loss", config.loss,
              f"squared or absolute for the regression dataset {data.name}")
        return data.n_outputs
    if config.loss == "logloss":
        # logloss is binary: one sigmoid unit gives P(class 1).
        require(data.n_classes == 2, "loss", config.loss,
              f"cross_entropy (or squared, absolute) for {data.n_classes}-class {data.name}")
        return 1
    assert data.n_classes is not None  # a classification dataset
    return data.n_classes


def check(config: RunConfig) -> None:
    """Every check of a run's config, the engine's own on the real data and network included;
    raises ConfigError (one line naming the key, the value and what is allowed)."""
    check_settings(config)
    inputs = build(config)
    validate(inputs.net, inputs.data.x_train, inputs.data.y_train, inputs.train_config)


def check_settings(config: RunConfig) -> None:
    """The checks that need no data: the run's own settings (the seed among them)."""
    check_values(RUN_CONSTRAINTS, vars(config))
    check_values(ENGINE_CONSTRAINTS, vars(config.engine), prefix="engine.")


def check_seed(seed: object, as_written: str | None = None) -> None:
    """A seed is what RUN_CONSTRAINTS says (an int >= 0, as NumPy's SeedSequence takes it);
    `as_written` is the value as the command line wrote it, for the message."""
    if not RUN_CONSTRAINTS["seed"].is_satisfied_by(seed):
        raise invalid("seed", seed if as_written is None else as_written,
                      str(RUN_CONSTRAINTS["seed"]))


def build(config: RunConfig) -> RunInputs:
    """Data, network and training settings of a run, drawn from its seed."""
    data_rng, init_rng, shuffle_rng = random_streams(config.seed)
    data = load_dataset(config.dataset.name, data_rng, config.dataset.n_train,
                        **_dataset_options(config))
    init = Init(**vars(config.init))
    validate_network(config.activation, config.output, init)
    sizes = [data.n_features, *config.hidden, _output_width(config, data)]
    net = init_network(sizes, config.activation, config.output, init, init_rng,
                       np.dtype(config.engine.dtype))
    train_config = TrainConfig(
        loss=config.loss,
        lr=config.lr,
        epochs=config.epochs,
        steps=config.steps,
        batch_size=config.batch_size,
        reduction=config.reduction,
        l1=config.l1,
        l2=config.l2,
        momentum=config.momentum,
        schedule=Schedule(config.lr_schedule, config.lr_decay_rate, config.lr_decay_steps),
    )
    return RunInputs(data, net, train_config, shuffle_rng)


def dead_units(net: Network, x: np.ndarray) -> dict[str, float]:
    """The fractions of dead ReLUs on inputs x: `dead_units_frac` for ReLU hidden layers,
    `dead_outputs_frac` for a ReLU output layer. Other activations have none: only a ReLU's
    gradient is 0 wherever it is silent, so that a unit silent on every input learns nothing."""
    fractions: dict[str, float] = {}
    if net.activation == "relu" and len(net.weights) > 1:
        fractions["dead_units_frac"] = dead_units_frac(net, x)
    if net.output == "relu":
        fractions["dead_outputs_frac"] = dead_outputs_frac(net, x)
    return fractions


def evaluate(net: Network, data: Dataset, loss: str) -> dict[str, float]:
    """The cost on both splits, the yardsticks that do not depend on the cost, and the dead
    units on the training inputs."""
    metrics = {
        "final_train_loss": mean_cost(net, data.x_train, data.y_train, loss),
        "test_loss": mean_cost(net, data.x_test, data.y_test, loss),
    }
    if data.task == "regression":
        test = regression_metrics(net, data.x_test, data.y_test)
        metrics |= {"test_mse": test["mse"], "test_mae": test["mae"]}
    else:
        train_scores = classification_metrics(net, data.x_train, data.y_train)
        test = classification_metrics(net, data.x_test, data.y_test)
        metrics |= {"train_accuracy": train_scores["accuracy"],
                    "test_accuracy": test["accuracy"], "test_logloss": test["logloss"]}
    return metrics | dead_units(net, data.x_train)


def save_weights(net: Network, path: Path) -> None:
    """Weights as .npz (W0, b0, W1, b1, ...; activation names as strings): no pickle."""
    # Any: a keyword of np.savez's own (allow_pickle) would otherwise seem to be among them.
    arrays: dict[str, Any] = {f"W{i}": w for i, w in enumerate(net.weights)}
    arrays |= {f"b{i}": b for i, b in enumerate(net.biases)}
    arrays |= {"activation": np.array(net.activation), "output": np.array(net.output)}
    np.savez(path, **arrays)


def load_weights(path: Path) -> Network:
    with np.load(path, allow_pickle=False) as archive:
        n_layers = sum(1 for key in archive.files if key.startswith("W"))
        return Network([archive[f"W{i}"] for i in range(n_layers)],
                       [archive[f"b{i}"] for i in range(n_layers)],
                       str(archive["activation"]), str(archive["output"]))


def execute(config: RunConfig, resolved_yaml: str, out_dir: Path, title: str) -> RunResult:
    """Train the run and write its artifacts (config, weights, figures) into out_dir."""
    # Imported here: matplotlib costs a second, and checking a config must stay instant.
    from nnlab import figures

    inputs = build(config)
    with process.one_blas_thread():
        # Before train, which updates the network in place.
        at_init = {f"{name}_at_init": value
                   for name, value in dead_units(inputs.net, inputs.data.x_train).items()}
        result = train(inputs.net, inputs.data.x_train, inputs.data.y_train, inputs.train_config,
                       inputs.shuffle_rng)
        metrics = evaluate(inputs.net, inputs.data, config.loss) | at_init
    metrics |= {"train_time_s": result.train_time_s, "steps": float(result.steps)}
    if result.steps:
        metrics["time_per_step_ms"] = 1000 * result.train_time_s / result.steps
    if config.loss_threshold is not None:
        reached = np.flatnonzero(result.loss_history <= config.loss_threshold)
        if len(reached):
            metrics["steps_to_threshold"] = float(reached[0] + 1)
    logged = np.arange(0, len(result.loss_history), config.log_every)
    if len(result.loss_history) and logged[-1] != len(result.loss_history) - 1:
        logged = np.append(logged, len(result.loss_history) - 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(resolved_yaml)
    save_weights(inputs.net, out_dir / "weights.npz")
    if result.diverged_at is None:
        figures.fit(inputs.net, inputs.data, out_dir / "fit.png", title)
    return RunResult(metrics, logged, result.loss_history[logged], inputs.data,
                     result.diverged_at, sorted(p.name for p in out_dir.iterdir()))
