"""A tuned sweep: each arm at its own best value of one key, chosen in a first stage.

An experiment whose analysis block declares `tune` (nnlab.tuning) runs in two stages of one
sweep (one sweep id, one parent run per experiment):

1. tuning: every arm x every value of `tune.values` x the tuning seeds (`tune.seeds` in place
   of the sweep's own seeds);
2. comparison: every arm x {the config's own value (the tutorial's), the arm's chosen value} x
   the sweep's own seeds.

Between them the launching process reads the tuning runs back from the store and chooses each
arm's value with `nnlab.tuning.choose`, the rule the report applies too. Resume works for both
stages: each job whose config finished before is skipped, so that the same command after a crash
(or a change to the tuning stage) runs what is missing and chooses again from what is there.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from nnlab import contract, schema, tuning
from nnlab.constraints import ConfigError
from nnlab.harness import sweep
from nnlab.tracking.records import RunRecord
from nnlab.tuning import Tune, TuneError


def declared(config: DictConfig) -> Tune | None:
    """The composed config's `analysis.tune`, checked; None if it declares none."""
    block = OmegaConf.select(config, "analysis.tune")
    if block is None:
        return None
    metrics = OmegaConf.select(config, "analysis.metrics")
    metrics = OmegaConf.to_container(metrics) if metrics is not None else None
    try:
        return tuning.parse_tune(OmegaConf.to_container(block, resolve=True),
                                 metrics if isinstance(metrics, list) else None)
    except TuneError as error:
        raise ConfigError(str(error)) from None


@dataclass(frozen=True)
class Arm:
    overrides: tuple[str, ...]  # the jobs' overrides, the seed and the tuned key aside
    name: str  # as the sweep's arms are named (`activation=relu`)
    seeds: tuple[int | None, ...]  # its jobs' seeds; None: the job sets none (the config's)


def arms_of(jobs: list[list[str]], tune: Tune) -> list[Arm]:
    """The sweep's arms, each with its seeds; ConfigError if the sweep varies the tuned key (it
    would be an arm key too) or its seeds overlap the tuning seeds."""
    names = dict(zip(map(tuple, jobs), sweep.arms(jobs), strict=True))
    grouped: dict[tuple[str, ...], list[int | None]] = {}
    set_key: set[str] = set()
    arm_names: dict[tuple[str, ...], str] = {}
    for overrides in jobs:
        kept, seed = [], None
        for text, override in zip(overrides, sweep.parse(overrides), strict=True):
            key = sweep.override_key(override)
            if key == "seed":
                seed = int(override.get_value_element_as_str())
            elif key == tune.key:
                set_key.add(override.get_value_element_as_str())
            else:
                kept.append(text)
        grouped.setdefault(tuple(kept), []).append(seed)
        arm_names.setdefault(tuple(kept), names[tuple(overrides)])
    if len(set_key) > 1:
        raise ConfigError(f"{tune.key}={','.join(sorted(set_key))} is invalid; allowed: one "
                          f"value (analysis.tune tunes {tune.key} for every arm, so the sweep "
                          "cannot also vary it)")
    seeds = [seed for group in grouped.values() for seed in group if seed is not None]
    try:
        tuning.check_seeds_apart(tune, seeds)
    except TuneError as error:
        raise ConfigError(str(error)) from None
    return [Arm(overrides, arm_names[overrides], tuple(group))
            for overrides, group in grouped.items()]


def _value_text(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _with(arm: Arm, key: str, value: float, seed: int | None) -> list[str]:
    return [*arm.overrides, f"{key}={_value_text(value)}",
            *([f"seed={seed}"] if seed is not None else [])]


def tuning_jobs(arms: list[Arm], tune: Tune) -> list[list[str]]:
    """Stage 1: every arm x value x tuning seed."""
    return [_with(arm, tune.key, value, seed)
            for arm in arms for value in tune.values for seed in tune.seeds]


def comparison_jobs(arms: list[Arm], tune: Tune, default: float,
                    chosen: dict[str, float]) -> list[list[str]]:
    """Stage 2: every arm at the config's own value, then at its chosen value where that
    differs, on the sweep's own seeds."""
    at_default = [_with(arm, tune.key, default, seed) for arm in arms for seed in arm.seeds]
    at_chosen = [_with(arm, tune.key, chosen[arm.name], seed) for arm in arms
                 if chosen[arm.name] != default for seed in arm.seeds]
    return at_default + at_chosen


def default_value(configs: Sequence[schema.RunConfig], tune: Tune) -> float:
    """The tuned key's value in the arms' own configs (the tutorial's): one for every arm."""
    values = {schema.flatten(config).get(tune.key, "") for config in configs}
    try:
        (value,) = {float(value) for value in values}
    except ValueError:
        raise ConfigError(f"analysis.tune.key={tune.key} is invalid; allowed: a config key "
                          "holding a number, the same in every arm's config (here: "
                          f"{', '.join(sorted(values)) or 'unset'})") from None
    return value


def _in_sweep(run: RunRecord, sweep_id: str) -> bool:
    return (run.tags.get(contract.SWEEP_ID_TAG) == sweep_id
            or contract.MEMBER_TAG_PREFIX + sweep_id in run.tags)


def choose_from_store(launch: sweep.Launch, arms: list[Arm], tune: Tune, default: float,
                      configs: Sequence[schema.RunConfig]) -> dict[str, float]:
    """Each arm's value, chosen from the tuning runs of this sweep (`configs`: the tuning jobs'
    configs, in the order of `tuning_jobs`). A config's run is its latest finished one, else
    its latest (the report's rule); a run that did not finish counts as the worst value."""
    from nnlab.tracking import store

    version = contract.code_version(launch.plan.checkout)
    runs: dict[str, list[RunRecord]] = {}
    for name in {config.experiment_name for config in configs}:
        for run in store.find_runs(name):
            if _in_sweep(run, launch.plan.sweep_id):
                runs.setdefault(run.tags.get(contract.CONFIG_HASH_TAG, ""), []).append(run)
    chosen = {}
    per_arm = len(tune.values) * len(tune.seeds)
    for i, arm in enumerate(arms):
        results: dict[float, list[float | None]] = {value: [] for value in tune.values}
        for j, config in enumerate(configs[i * per_arm:(i + 1) * per_arm]):
            found = sorted(runs.get(schema.config_hash(config, version), []),
                           key=lambda run: (run.status == contract.FINISHED, run.start_time))
            run = found[-1] if found else None
            finished = run is not None and run.status == contract.FINISHED
            results[tune.values[j // len(tune.seeds)]].append(
                run.metrics.get(tune.select_on) if finished and run else None)
        chosen[arm.name] = tuning.choose(results, tune.lower_is_better, default)
    return chosen


def choice_line(tune: Tune, default: float, chosen: dict[str, float]) -> str:
    """`nnlab: tuned lr (...): activation=relu -> 0.03, activation=sigmoid -> 1 (the config's)`"""
    own = " (the config's)"
    parts = [f"{arm} -> {value:g}{own if value == default else ''}"
             for arm, value in chosen.items()]
    return f"nnlab: tuned {tune.describe()}: " + ", ".join(parts)


def tag_parent_runs(launch: sweep.Launch, default: float, chosen: dict[str, float]) -> None:
    """The tuned key's own value and each arm's choice, on the parent runs."""
    from nnlab.tracking import store

    store.tag_runs(launch.parent_runs.values(), {
        contract.TUNE_DEFAULT_TAG: _value_text(default),
        contract.TUNE_CHOSEN_TAG: "; ".join(f"{arm}: {_value_text(value)}"
                                            for arm, value in chosen.items())})
