"""Arms, their statistics over seeds and the paired comparison with the baseline: numbers only
(the sentences that state them are nnlab.report.verdict's).

Runs with the same seed share their data (and, where the arms have the same layer sizes and
init, their initial weights), so arms are compared seed by seed; with a facet (say
dataset.n_train), within each facet value: every table and Holm's correction are made
separately for each value, as if each were its own sweep.
Metric statistics count finished runs; success rates count diverged runs as failures; crashed
and running runs count nowhere (the report lists them).

Each comparison ends in a form (stats.Form: better, worse, equivalent, inconclusive, bounded,
not compared). With a success criterion, the lead comparison of an arm is its success rate
against the baseline's (McNemar's exact test on the seeds where they differ, Holm over the
arms), and the primary metric is also compared among the seeds that succeed in both arms.
"""

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nnlab.report import stats
from nnlab.report.analysis import (
    DEFAULT_METRICS,
    YARDSTICKS,
    Analysis,
    MetricSpec,
    ReportError,
    Success,
    lower_is_better,
)
from nnlab.report.runs import Outcome, param_dtypes

ARM = "arm"
# Keys that never make an arm: seeds are the replicates, the experiment is the selection.
NOT_ARMS = ("seed", "experiment_name")
# What a run does when an arm key is unset, in words (a bare "none" tells a reader nothing).
NULL_WORDS = {"batch_size": "full batch", "dataset.n_train": "all training points",
              "loss_threshold": "no threshold"}


@dataclass(frozen=True)
class Design:
    """What a report compares, resolved against the runs."""

    arm_keys: tuple[str, ...]
    arms: tuple[str, *tuple[str, ...]]  # arm labels, the baseline first: never empty
    baseline: str
    metrics: tuple[MetricSpec, ...]  # the first is primary: the verdict is about it
    success: Success | None
    facet: str | None  # a param key: the arms are compared within each of its values
    sorted_arms: tuple[str, ...]  # the arm labels in the sorted order of their values
    # label -> the same arm in fewer words (`he, lr=0.001`): keys of self-naming values dropped
    compact: dict[str, str] = field(default_factory=dict, compare=False)
    # The facet's values in the order they are reported; empty: sorted (a tuned report's
    # settings: the tutorial's value first).
    facet_order: tuple[str, ...] = ()

    @property
    def primary(self) -> MetricSpec:
        return self.metrics[0]

    @property
    def arm_title(self) -> str:
        return ", ".join(self.arm_keys) or ARM


@dataclass(frozen=True)
class Comparison:
    """The arms compared within one facet value, or across all the runs without a facet."""

    facet: str | None
    value: str | None  # the facet value, as text
    runs: pd.DataFrame
    outcomes: pd.DataFrame  # outcome_table
    metrics: pd.DataFrame  # metric_table
    success: pd.DataFrame | None  # success_table
    paired: pd.DataFrame  # paired_table

    @property
    def title(self) -> str:
        """"dataset.n_train = 16"; empty without a facet."""
        return f"{self.facet} = {self.value}" if self.facet else ""

    @property
    def short_title(self) -> str:
        """"n_train = 16", for a figure's panel; empty without a facet."""
        return f"{self.facet.rsplit('.', 1)[-1]} = {self.value}" if self.facet else ""

    @property
    def facet_value(self) -> str:
        """The facet value, as text, of a comparison within one (a design with a facet)."""
        # comparisons() gives each comparison its value exactly when the design has a facet.
        assert self.value is not None, "a comparison of all the runs has no facet value"
        return self.value

    rates: pd.DataFrame | None = None  # rate_table: success against the baseline's, by seed
    among_successes: pd.DataFrame | None = None  # paired_table of the seeds both arms succeed on

    @property
    def finished(self) -> pd.DataFrame:
        return self.runs[self.runs["outcome"] == Outcome.FINISHED]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def value_text(value: Any) -> str:
    if _missing(value):
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def value_words(key: str, value: Any) -> str:
    """A value of an arm key for a reader: an unset key says what it means (full batch)."""
    return NULL_WORDS.get(key, f"{key} unset") if _missing(value) else value_text(value)


def _is_word(value: Any) -> bool:
    """A value that names itself (relu, uniform, squared): no key needed before it."""
    return isinstance(value, str) and value[:1].isalpha()


def detect_arm_keys(runs: pd.DataFrame, facet: str | None = None) -> list[str]:
    """The keys that vary across the runs, seed and facet aside, less those the others determine.

    A recipe's `output: ${activation}` varies with `activation`: it adds no arm. Of keys that
    determine each other, the first in schema order stays (the recipe tag comes first); the
    facet comes before them all.
    """
    candidates = ["recipe"] + [k for k in param_dtypes() if k not in NOT_ARMS]
    kept: list[str] = [facet] if facet else []
    for key in candidates:
        if key in kept or key not in runs or runs[key].nunique(dropna=False) < 2:
            continue
        if kept and runs.groupby(kept, dropna=False)[key].nunique(dropna=False).max() == 1:
            continue
        kept.append(key)
    return kept[1:] if facet else kept


def sort_key(value: Any) -> tuple:
    text = value_text(value)
    if isinstance(value, str) and text.startswith("["):
        return (1, json.loads(text))
    return (0, value) if text != "none" else (-1, 0)


def _label(values: dict[str, Any]) -> str:
    """An arm in words: `relu`, `hidden=[3]`, `batch_size=1`, `full batch`,
    `init.scheme=he, lr=0.001`; never a bare number or "none"."""
    if not values:
        return "all runs"
    if len(values) == 1 and _is_word(value := next(iter(values.values()))):
        return str(value)
    return ", ".join(NULL_WORDS.get(key, f"{key} unset") if _missing(value)
                     else f"{key}={value_text(value)}" for key, value in values.items())


def _compact_label(values: dict[str, Any]) -> str:
    """An arm of several keys in fewer words: a value that names itself needs no key."""
    if len(values) < 2:
        return _label(values)
    return ", ".join(str(value) if _is_word(value) else _label({key: value})
                     for key, value in values.items())


def _typed_value(column: pd.Series, value: Any) -> Any:
    """A baseline value from YAML or the command line, as the runs' column holds it."""
    if isinstance(value, list):
        return json.dumps(value)
    if pd.api.types.is_integer_dtype(column.dtype):
        return int(value)
    if pd.api.types.is_float_dtype(column.dtype):
        return float(value)
    return str(value)


def _baseline_label(runs: pd.DataFrame, keys: list[str], baseline: Any) -> str:
    if isinstance(baseline, dict):
        if sorted(baseline) != sorted(keys):
            raise ReportError(f"baseline {baseline} must give a value for each arm key: "
                              f"{', '.join(keys)}")
        values = {key: baseline[key] for key in keys}
    elif len(keys) == 1:
        values = {keys[0]: baseline}
    else:
        raise ReportError(f"baseline {baseline!r}: the arms have several keys "
                          f"({', '.join(keys)}); give key=value for each")
    try:
        return _label({key: _typed_value(runs[key], v) for key, v in values.items()})
    except (TypeError, ValueError):
        raise ReportError(f"baseline {baseline!r} does not match the type of "
                          f"{', '.join(keys)}") from None


def _metrics(runs: pd.DataFrame, analysis: Analysis) -> tuple[MetricSpec, ...]:
    if analysis.metrics is None:
        present = [m for m in DEFAULT_METRICS + YARDSTICKS if m in runs]
        return tuple(MetricSpec(m, lower_is_better(m)) for m in present)
    missing = [m.name for m in analysis.metrics if m.name not in runs]
    if missing:
        logged = sorted(str(c) for c in runs.select_dtypes("float64") if c not in param_dtypes())
        raise ReportError(f"metric {', '.join(missing)} is not logged by these runs "
                          f"(metrics: {', '.join(logged)})")
    return analysis.metrics


def arm_labels(runs: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Each run's arm, in words, by the arm keys' values."""
    labels = [_label(dict(zip(keys, row, strict=True)))
              for row in runs[list(keys)].itertuples(index=False, name=None)]
    return pd.Series(labels, index=runs.index, dtype="string")


def resolve(runs: pd.DataFrame, analysis: Analysis) -> tuple[Design, pd.DataFrame]:
    """The arms (given or detected), the baseline and the metrics; the runs with an arm column."""
    facet = analysis.facet
    if facet is not None and facet not in runs:
        raise ReportError(f"facet {facet} is not a param of these runs "
                          f"(varying: {', '.join(detect_arm_keys(runs)) or 'none'})")
    keys = list(analysis.arm) if analysis.arm else detect_arm_keys(runs, facet)
    unknown = [key for key in keys if key not in runs]
    if unknown:
        raise ReportError(f"arm key {', '.join(unknown)} is not a param of these runs "
                          f"(varying: {', '.join(detect_arm_keys(runs, facet)) or 'none'})")
    if facet in keys:
        raise ReportError(f"{facet} is both the facet and an arm key: the arms are compared "
                          "within each facet value")
    rows = list(runs[keys].itertuples(index=False, name=None))
    labels = arm_labels(runs, keys)
    values = dict(zip(labels, rows, strict=True))
    order = sorted(values, key=lambda label: tuple(sort_key(v) for v in values[label]))
    runs = runs.assign(**{ARM: labels})
    counted = runs[runs["outcome"] == Outcome.FINISHED]
    repeated = counted.groupby([ARM, *([facet] if facet else []), "seed"], dropna=False).size()
    if (repeated > 1).any():
        others = [k for k in detect_arm_keys(counted, facet) if k not in keys]
        if others:
            raise ReportError(f"arms by {', '.join(keys) or 'nothing'} hold several runs per "
                              f"seed (also varying: {', '.join(others)}): add those keys to "
                              "the arm")
        # Same params, different nnlab.config_hash: the code changed between the sweeps.
        raise ReportError("the same config and seed ran more than once, on different code "
                          "versions (nnlab.config_hash): choose the sweeps with --sweep")
    baseline = order[0] if analysis.baseline is None else _baseline_label(
        runs, keys, analysis.baseline)
    if baseline not in order:
        raise ReportError(f"baseline {baseline!r} is not an arm (arms: {', '.join(order)})")
    arms = (baseline, *[a for a in order if a != baseline])
    metrics = _metrics(runs, analysis)
    if analysis.success is not None and analysis.success.metric not in runs:
        raise ReportError(f"success metric {analysis.success.metric} is not logged by these runs")
    compact = {label: _compact_label(dict(zip(keys, row, strict=True)))
               for label, row in values.items()}
    return Design(tuple(keys), arms, baseline, metrics, analysis.success, facet,
                 tuple(order), compact), runs


def outcome_table(runs: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Per arm: runs, how they ended, and which seeds."""
    counts = pd.crosstab(runs[ARM], runs["outcome"]).reindex(
        index=list(design.arms), columns=list(Outcome), fill_value=0)
    counts.insert(0, "runs", counts.sum(axis=1))
    counts["seeds"] = runs.groupby(ARM)["seed"].agg(lambda s: _seed_text(sorted(set(s))))
    return counts.rename_axis(ARM).reset_index()


def _seed_text(seeds: list[int]) -> str:
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def metric_table(runs: pd.DataFrame, design: Design,
                 metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per metric (default: the design's) and arm, over the finished runs' seeds: n, mean
    [95% CI], median and IQR."""
    finished = runs[runs["outcome"] == Outcome.FINISHED]
    names = [metric.name for metric in design.metrics] if metrics is None else metrics
    rows = [{"metric": name, ARM: arm,
             **vars(stats.summarize(finished.loc[finished[ARM] == arm, name]))}
            for name in names for arm in design.arms]
    return pd.DataFrame(rows)


def succeeded(runs: pd.DataFrame, success: Success) -> pd.Series:
    """Per run: whether it finished and meets the criterion (a diverged run fails)."""
    values = runs[success.metric].to_numpy(dtype=float)
    # NaN compares False: a diverged run's missing metric is a failure either way.
    hits = (values < success.threshold) if success.below else (values > success.threshold)
    return pd.Series(hits & (runs["outcome"] == Outcome.FINISHED).to_numpy(), index=runs.index)


def _counted(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs success rates count: finished and diverged."""
    return runs[runs["outcome"].isin([Outcome.FINISHED, Outcome.DIVERGED])]


def success_table(runs: pd.DataFrame, design: Design) -> pd.DataFrame | None:
    """Per arm: successes among finished and diverged runs (a divergence is a failure)."""
    if design.success is None:
        return None
    counted = _counted(runs)
    hits = succeeded(counted, design.success)
    rows = []
    for arm in design.arms:
        results = counted[counted[ARM] == arm]
        successes = int(hits[results.index].sum())
        low, high = stats.wilson_interval(successes, len(results))
        rate = successes / len(results) if len(results) else math.nan
        rows.append({ARM: arm, "successes": successes, "n": len(results), "rate": rate,
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def _success_by_seed(runs: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Seed x arm: True where the arm's run succeeded, False where it failed or diverged, NaN
    where it crashed, was lost, runs or is missing."""
    # Called with a success criterion only: by rate_table, and by both_succeed for the
    # comparison among successes, which comparisons() makes only then.
    assert design.success is not None
    counted = _counted(runs)
    return counted.assign(success=succeeded(counted, design.success)).pivot(
        index="seed", columns=ARM, values="success")


def rate_table(runs: pd.DataFrame, design: Design) -> pd.DataFrame | None:
    """Each arm's success against the baseline's on the same seeds: McNemar's exact test,
    Holm over the arms, and the paired difference of the rates with its 95% CI."""
    if design.success is None:
        return None
    wide = _success_by_seed(runs, design)
    rows = []
    for arm in design.arms[1:]:
        pair = (wide[[arm, design.baseline]].dropna() if arm in wide and design.baseline in wide
                else pd.DataFrame(columns=[arm, design.baseline]))
        result = stats.mcnemar(pair[arm].to_numpy(dtype=bool),
                               pair[design.baseline].to_numpy(dtype=bool))
        rows.append({ARM: arm, **vars(result)})
    columns = [ARM, *(field.name for field in dataclasses.fields(stats.McNemar))]
    table = pd.DataFrame(rows, columns=columns)
    table["p_holm"] = stats.holm(list(table["p_value"]))
    table["form"] = [_rate_form(row) for _, row in table.iterrows()]
    return table


def _rate_form(row: pd.Series) -> str:
    if row["pairs"] < 2:
        return stats.Form.NOT_COMPARED
    if row["p_holm"] < stats.ALPHA:
        return stats.Form.BETTER if row["rate_difference"] > 0 else stats.Form.WORSE
    return stats.Form.BOUNDED


def both_succeed(runs: pd.DataFrame, design: Design, arm: str) -> list[int]:
    """The seeds on which the arm and the baseline both succeed."""
    wide = _success_by_seed(runs, design)
    if arm not in wide or design.baseline not in wide:
        return []
    both = wide[arm].eq(True) & wide[design.baseline].eq(True)
    return [int(seed) for seed in wide.index[both]]


def paired_values(runs: pd.DataFrame, design: Design, metric: str,
                  among_successes: bool = False) -> pd.DataFrame:
    """Per seed and non-baseline arm: its value, the baseline's, and the difference; with
    among_successes, only the seeds on which both succeed."""
    finished = runs[(runs["outcome"] == Outcome.FINISHED)
                    & np.isfinite(runs[metric].astype(float))]
    wide = finished.pivot(index="seed", columns=ARM, values=metric)
    frames = []
    for arm in design.arms[1:]:
        if arm not in wide or design.baseline not in wide:
            continue
        pair = wide[[arm, design.baseline]].dropna()
        if among_successes:
            pair = pair[pair.index.isin(both_succeed(runs, design, arm))]
        frames.append(pd.DataFrame({"seed": pair.index, ARM: arm, "value": pair[arm].to_numpy(),
                                    "baseline_value": pair[design.baseline].to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=["seed", ARM, "value", "baseline_value", "difference"])
    pairs = pd.concat(frames, ignore_index=True)
    return pairs.assign(difference=pairs["value"] - pairs["baseline_value"])


PAIRED_COLUMNS = ["metric", ARM, *(field.name for field in dataclasses.fields(stats.Paired)),
                  "p_holm", "detected", "margin",
                  *(field.name for field in dataclasses.fields(stats.Settled))]


def paired_table(runs: pd.DataFrame, design: Design,
                 metrics: Sequence[MetricSpec] | None = None,
                 among_successes: bool = False) -> pd.DataFrame:
    """Each arm against the baseline, per metric (default: the design's), and how each
    comparison ends; Holm over the arms within each metric. among_successes: only the seeds on
    which both arms succeed."""
    rows = []
    for metric in design.metrics if metrics is None else metrics:
        pairs = paired_values(runs, design, metric.name, among_successes)
        results = [stats.paired(pairs.loc[pairs[ARM] == arm, "value"],
                                pairs.loc[pairs[ARM] == arm, "baseline_value"],
                                metric.lower_is_better) for arm in design.arms[1:]]
        adjusted = stats.holm([result.p_value for result in results])
        for arm, result, p_holm in zip(design.arms[1:], results, adjusted, strict=True):
            settled = stats.settle(result, p_holm, metric.lower_is_better, metric.margin)
            rows.append({"metric": metric.name, ARM: arm, **vars(result), "p_holm": p_holm,
                         "detected": stats.detected(result, p_holm), "margin": metric.margin,
                         **vars(settled)})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def lead_forms(comparison: Comparison, design: Design) -> dict[str, str]:
    """Per non-baseline arm, how its lead comparison ends: the success rate's with a success
    criterion, else the primary metric's."""
    if comparison.rates is not None:
        return dict(zip(comparison.rates[ARM], comparison.rates["form"], strict=True))
    rows = comparison.paired[comparison.paired["metric"] == design.primary.name]
    return dict(zip(rows[ARM], rows["form"], strict=True))


def comparisons(runs: pd.DataFrame, design: Design) -> list[Comparison]:
    """The tables within each facet value (sorted); one of all runs without."""
    if design.facet is None:
        groups = [(None, runs)]
    else:
        texts = runs[design.facet].map(value_text)
        values = list(design.facet_order) or sorted(runs[design.facet].drop_duplicates(),
                                                    key=sort_key)
        groups = [(value_text(value), runs[texts == value_text(value)]) for value in values]
    result = []
    for value, group in groups:
        successes = None if design.success is None else paired_table(
            group, design, [design.primary], among_successes=True)
        result.append(Comparison(design.facet, value, group, outcome_table(group, design),
                                 metric_table(group, design), success_table(group, design),
                                 paired_table(group, design), rate_table(group, design),
                                 successes))
    return result


