"""Every arm at its own best value of one setting: the `tune` declaration and the choice.

A comparison at one arm's learning rate favours that arm. An experiment's analysis block may
declare `tune: {key, values, select_on, seeds}`: each arm runs every value on the tuning seeds,
and is then compared, on the other seeds, both at the config's own value (the tutorial's) and at
the value its tuning runs chose. The sweep (nnlab.harness) and the report (nnlab.report) both
choose with `choose`, so that they cannot disagree. Standard library only.
"""

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KEYS = ("key", "values", "select_on", "seeds")
_RANGE = re.compile(r"^range\(\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(-?\d+)\s*)?\)$")


class TuneError(ValueError):
    """A `tune` declaration that cannot be run or reported: one line naming what is wrong."""


@dataclass(frozen=True)
class Tune:
    key: str  # a config key, e.g. lr
    values: tuple[float, ...]  # the grid, sorted
    select_on: str  # the metric the choice is made on
    seeds: tuple[int, ...]  # the tuning seeds: their runs choose, the other seeds compare
    lower_is_better: bool

    def describe(self) -> str:
        """`lr in {0.003, 0.01, 0.03}, on the median test_loss of seeds 100-104`."""
        grid = ", ".join(f"{value:g}" for value in self.values)
        return (f"{self.key} in {{{grid}}}, by the median {self.select_on} "
                f"({'lower' if self.lower_is_better else 'higher'} is better) over seeds "
                f"{seeds_text(self.seeds)}; a failed run counts as the worst value")


def seeds_text(seeds: Sequence[int]) -> str:
    """`100–104`, or `1, 5, 9`."""
    seeds = sorted(set(seeds))
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def parse_seeds(value: Any, where: str) -> tuple[int, ...]:
    """Seeds as a list of ints, a Hydra sweep `range(100,105)`, `0,1,2`, or one int."""
    if isinstance(value, bool):
        raise TuneError(f"{where}: {value!r} is not a list of seeds or range(A,B)")
    if isinstance(value, int):
        return (value,)
    if isinstance(value, str):
        text = value.strip()
        match = _RANGE.match(text)
        if match:
            bounds = [int(part) for part in match.groups() if part is not None]
            return tuple(range(*bounds))
        parts = [part.strip() for part in text.split(",")]
        if all(re.fullmatch(r"-?\d+", part) for part in parts):
            return tuple(int(part) for part in parts)
    elif isinstance(value, Sequence) and all(isinstance(s, int) and not isinstance(s, bool)
                                             for s in value):
        return tuple(value)
    raise TuneError(f"{where}: {value!r} is not a list of seeds or range(A,B)")


def lower_is_better(metric: str) -> bool:
    """The default direction: accuracies go up, everything else (losses, times) goes down."""
    return "accuracy" not in metric


def _direction(metric: str, metrics: Sequence[Any] | None) -> bool:
    """select_on's direction: as the analysis block's metrics declare it, else the default."""
    for entry in metrics or ():
        if isinstance(entry, Mapping) and entry.get("name") == metric \
                and "lower_is_better" in entry:
            return bool(entry["lower_is_better"])
    return lower_is_better(metric)


def parse_tune(block: Any, metrics: Sequence[Any] | None = None) -> Tune:
    """Check a `tune` block (metrics: the analysis block's, as written, for select_on's
    direction); TuneError names the first thing wrong."""
    if not isinstance(block, Mapping):
        raise TuneError(f"analysis.tune: {block!r} is not a mapping (keys: {', '.join(KEYS)})")
    unknown = sorted(set(block) - set(KEYS))
    if unknown:
        raise TuneError(f"analysis.tune: unknown key {', '.join(map(str, unknown))} "
                        f"(allowed: {', '.join(KEYS)})")
    missing = [key for key in KEYS if key not in block]
    if missing:
        raise TuneError(f"analysis.tune: {', '.join(missing)} missing (keys: {', '.join(KEYS)})")
    key = block["key"]
    if not isinstance(key, str) or not key or key == "seed":
        raise TuneError(f"analysis.tune.key: {key!r} is not a config key (e.g. lr)")
    values = block["values"]
    if (not isinstance(values, Sequence) or isinstance(values, str) or not values
            or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and math.isfinite(v) for v in values)):
        raise TuneError(f"analysis.tune.values: {values!r} is not a non-empty list of numbers")
    if len(set(values)) != len(values):
        raise TuneError(f"analysis.tune.values: {list(values)!r} repeats a value")
    select_on = block["select_on"]
    if not isinstance(select_on, str) or not select_on:
        raise TuneError(f"analysis.tune.select_on: {select_on!r} is not a metric name "
                        "(e.g. test_loss)")
    seeds = parse_seeds(block["seeds"], "analysis.tune.seeds")
    if not seeds or len(set(seeds)) != len(seeds):
        raise TuneError(f"analysis.tune.seeds: {block['seeds']!r} is empty or repeats a seed")
    return Tune(key, tuple(sorted(values)), select_on, seeds, _direction(select_on, metrics))


def check_seeds_apart(tune: Tune, comparison_seeds: Sequence[int]) -> None:
    """The tuning seeds must not be compared: a value chosen on a seed favours it there."""
    shared = sorted(set(tune.seeds) & set(comparison_seeds))
    if shared:
        raise TuneError(f"analysis.tune.seeds: {seeds_text(shared)} also among the compared "
                        f"seeds ({seeds_text(comparison_seeds)}); allowed: seeds disjoint from "
                        "them")


def statistic(results: Sequence[float | None], lower_is_better: bool) -> float:
    """The median of a value's tuning runs, a failed run (None, or not a finite number) counting
    as the worst possible value: a value that diverges on some seeds must not win because its
    survivors look good. +inf or -inf (the worst) when half the runs or more failed; NaN for no
    runs."""
    if not results:
        return math.nan
    worst = math.inf if lower_is_better else -math.inf
    return statistics.median(r if r is not None and math.isfinite(r) else worst
                             for r in results)


def failures(results: Sequence[float | None]) -> int:
    return sum(r is None or not math.isfinite(r) for r in results)


def choose(results: Mapping[float, Sequence[float | None]], lower_is_better: bool,
           default: float) -> float:
    """The value whose tuning runs have the best statistic. Ties go to `default` (the
    config's own value), then to the smaller value; a value without runs never wins."""
    scored = {value: statistic(runs, lower_is_better) for value, runs in results.items()
              if runs}
    if not scored:
        raise TuneError("no tuning runs to choose from")
    sign = 1 if lower_is_better else -1
    return min(scored, key=lambda value: (sign * scored[value], value != default, value))
