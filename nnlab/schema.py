"""The run config: typed dataclasses (the Hydra app's schema), their flat form, their hash.

A leaf: it imports nothing of nnlab. The Hydra app registers RunConfig as the base of
`conf/config.yaml`; the checks that types cannot make live with the run (`nnlab.job.check`);
the report casts MLflow's string params back by the same types.
"""

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf


@dataclass
class DatasetConfig:
    name: str = "sincos"
    n_train: int | None = None  # shrink the training split (stratified); None: all of it
    n_samples: int | None = None  # options of the generated datasets; None: their default
    n_test: int | None = None
    noise: float | None = None  # input jitter (moons, moons3)
    target_noise: float | None = None  # std of Gaussian noise on the training targets (sincos)
    train_fraction: float | None = None  # iris


@dataclass
class InitConfig:
    scheme: str = "lecun"  # normal | uniform | lecun | xavier | glorot | he
    mean: float = 0.0
    std: float = 1.0
    low: float = 0.0
    high: float = 1.0
    bias: str = "zero"  # zero | same (drawn like the weights)


@dataclass
class EngineConfig:
    name: str = "numpy"
    dtype: str = "float64"


@dataclass
class RunConfig:
    seed: int = 0
    experiment_name: str = "nnlab"
    activation: str = "relu"
    output: str = "identity"
    loss: str = "squared"
    hidden: list[int] = field(default_factory=lambda: [16])
    lr: float = 0.1
    lr_schedule: str = "constant"
    lr_decay_rate: float = 0.5
    lr_decay_steps: int = 1000
    momentum: float = 0.0
    batch_size: int | None = None
    epochs: int = 1
    # The run's length in updates; when set it wins over `epochs`, which a sweep cannot make
    # follow the batch size or n_train (Hydra's sweeps are cartesian products).
    steps: int | None = None
    reduction: str = "mean"  # mean | sum: how the batch cost (and its gradient) is scaled
    l1: float = 0.0
    l2: float = 0.0
    log_every: int = 1
    # A train loss to time the learning by: the run logs steps_to_threshold, the steps taken
    # until the batch loss first falls to it (not logged if it never does).
    loss_threshold: float | None = None
    # A sweep skips every job whose config already has a FINISHED run (false: run them all).
    resume: bool = True
    init: InitConfig = field(default_factory=InitConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    # Read by the report only (experiments/NAME.yaml); does not change a run.
    analysis: dict[str, Any] | None = None


@functools.cache
def _typed_defaults() -> DictConfig:
    # Built once per process: it costs more than the merge, and merge leaves it unchanged.
    return OmegaConf.structured(RunConfig)


def without_hydra(cfg: DictConfig) -> DictConfig:
    """A copy of a composed config less its `hydra` node: a sweep's job config carries it
    before its job fields are set, and it does not resolve then."""
    return OmegaConf.masked_copy(cfg, [str(k) for k in cfg if k != "hydra"])


def to_run_config(cfg: DictConfig | dict) -> RunConfig:
    """The resolved config as plain dataclasses (no Hydra node left in it)."""
    values: Any = cfg
    if isinstance(cfg, DictConfig):
        if "hydra" in cfg:
            cfg = without_hydra(cfg)
        values = OmegaConf.to_container(cfg, resolve=True)
    config = OmegaConf.to_object(OmegaConf.merge(_typed_defaults(), values))
    assert isinstance(config, RunConfig)  # the merge's base is the RunConfig schema
    return config


def _what_runs(config: RunConfig) -> dict[str, Any]:
    """The config less what does not change a run: the report's `analysis` block, `resume`."""
    return {k: v for k, v in dataclasses.asdict(config).items()
            if k not in ("analysis", "resume")}


def flatten(config: RunConfig) -> dict[str, str]:
    """The config as MLflow params: dotted keys, values as strings (lists in YAML flow style)."""
    flat: dict[str, str] = {}

    def visit(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                visit(f"{prefix}{key}.", value)
        else:
            flat[prefix[:-1]] = json.dumps(node) if isinstance(node, list) else str(node)

    visit("", _what_runs(config))
    return flat


def config_hash(config: RunConfig, code_version: str) -> str:
    """A stable id of what a run computes: the resolved config without `hydra`, and the code
    (package version and git commit) that computes it."""
    payload = json.dumps({"config": _what_runs(config), "code": code_version}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
