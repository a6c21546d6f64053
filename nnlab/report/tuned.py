"""A tuned sweep's runs (analysis.tune, nnlab.tuning): the tuning runs choose each arm's value,
the other seeds compare the arms twice, in two settings of a derived facet:

    tutorial   every arm at the config's own value of the key (the tutorial's)
    tuned      each arm at the value its tuning runs chose

A run whose value is both (an arm whose choice is the tutorial's) stands in both settings. The
tuning runs themselves are never compared: they are shown in the report's Tuning section.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnlab import contract, tuning
from nnlab.report.analysis import Analysis, ReportError
from nnlab.report.compare import ARM, Design, arm_labels, detect_arm_keys, resolve
from nnlab.report.runs import Outcome, Selection, param_column
from nnlab.tracking import store
from nnlab.tuning import Tune

SETTING = "setting"
TUTORIAL, TUNED = "tutorial", "tuned"
SETTINGS = (TUTORIAL, TUNED)
# The datasets whose rows every seed shares (only the split or the order changes with it).
SHARED_ROWS = ("iris",)


@dataclass(frozen=True)
class Tuning:
    """What the tuning runs chose, and from what."""

    tune: Tune
    default: float  # the config's own value (the tutorial's)
    chosen: dict[str, float]  # by arm label
    runs: pd.DataFrame  # the tuning runs, with their arm and `score` (None-like: failed)
    table: pd.DataFrame  # per arm and value: statistic, runs, failures, chosen
    dataset: str

    def at_edge(self) -> list[str]:
        """The arms whose choice is the smallest or the largest value of the grid."""
        edges = (self.tune.values[0], self.tune.values[-1])
        return [arm for arm, value in self.chosen.items()
                if value in edges and len(self.tune.values) > 1]

    def shares_rows(self) -> bool:
        return self.dataset in SHARED_ROWS


def recorded_default(selection: Selection) -> float | None:
    """The tuned key's own value in the config (the tutorial's), as the parent runs of the
    reported sweeps record it; None if none does."""
    parents = store.find_sweep_parents(selection.experiment)
    recorded = {parents[s].tags[contract.TUNE_DEFAULT_TAG] for s in selection.sweep_ids
                if s in parents and contract.TUNE_DEFAULT_TAG in parents[s].tags}
    if len(recorded) > 1:
        raise ReportError(f"the sweeps reported tuned from different values "
                          f"({', '.join(sorted(recorded))}): choose one with --sweep")
    return float(recorded.pop()) if recorded else None


def _shared_value(comparison: pd.DataFrame, column: str) -> float:
    """The one value of the key that every arm's comparison runs have: the tutorial's."""
    shared = set.intersection(*(set(group[column]) for _, group in comparison.groupby(ARM)))
    if len(shared) != 1:
        raise ReportError("analysis.tune: the sweep's parent run does not record the config's "
                          f"own value of {column}, and the runs do not tell it: run the sweep "
                          "again")
    return float(shared.pop())


def _score(runs: pd.DataFrame, metric: str) -> pd.Series:
    """A tuning run's select_on value; NaN where the run did not finish (the worst value)."""
    finished = runs["outcome"] == Outcome.FINISHED
    return runs[metric].astype(float).where(finished)


def split(runs: pd.DataFrame, analysis: Analysis,
          default: float | None) -> tuple[Tuning, pd.DataFrame, Analysis]:
    """The tuning, the comparison runs with their setting (a run in both settings twice), and
    the analysis that compares them within each setting. default: the config's own value of
    the key (`recorded_default`); None: the one value every arm was compared at."""
    tune = analysis.tune
    assert tune is not None  # called for an analysis with a tune block
    column = param_column(tune.key)
    if column not in runs:
        raise ReportError(f"analysis.tune.key: {tune.key} is not a param of these runs")
    if tune.select_on not in runs:
        raise ReportError(f"analysis.tune.select_on: {tune.select_on} is not logged by these "
                          "runs")
    keys = list(analysis.arm) if analysis.arm else detect_arm_keys(runs.drop(columns=column))
    runs = runs.assign(**{ARM: arm_labels(runs, keys)})
    in_tuning = runs["seed"].isin(tune.seeds).to_numpy()
    tuning_runs = runs[in_tuning].assign(score=lambda r: _score(r, tune.select_on))
    comparison = runs[~in_tuning]
    if tuning_runs.empty or comparison.empty:
        raise ReportError(f"analysis.tune: the sweep has {len(tuning_runs)} tuning runs (seeds "
                          f"{tuning.seeds_text(tune.seeds)}) and {len(comparison)} others: "
                          "a tuned report needs both")
    if default is None:
        default = _shared_value(comparison, column)
    chosen, rows = {}, []
    for arm, group in tuning_runs.groupby(ARM, sort=False):
        results = {value: [None if np.isnan(s) else float(s)
                           for s in group.loc[group[column] == value, "score"]]
                   for value in tune.values}
        chosen[str(arm)] = tuning.choose(results, tune.lower_is_better, default)
        rows += [{ARM: str(arm), "value": value,
                  "statistic": tuning.statistic(scores, tune.lower_is_better),
                  "runs": len(scores), "failures": tuning.failures(scores),
                  "chosen": value == chosen[str(arm)]} for value, scores in results.items()]
    settings = []
    for arm, group in comparison.groupby(ARM, sort=False):
        if str(arm) not in chosen:
            raise ReportError(f"analysis.tune: arm {arm} has no tuning runs")
        for setting, value in ((TUTORIAL, default), (TUNED, chosen[str(arm)])):
            at_value = group[group[column] == value]
            if at_value.empty:
                raise ReportError(
                    f"analysis.tune: the tuning runs choose {tune.key}={value:g} for {arm}, "
                    "but the sweep did not compare it there: run the sweep again (it runs what "
                    "is missing)")
            settings.append(at_value.assign(**{SETTING: setting}))
    compared = pd.concat(settings, ignore_index=True).drop(columns=ARM)
    faceted = dataclasses.replace(analysis, arm=tuple(keys), facet=SETTING)
    # The tuning names the arms in the comparison's order (the baseline first).
    order = list(resolve(compared, faceted)[0].arms)
    order += [arm for arm in chosen if arm not in order]
    chosen = {arm: chosen[arm] for arm in order}
    rows.sort(key=lambda row: order.index(row[ARM]))
    dataset = str(runs["dataset.name"].dropna().iloc[0]) if "dataset.name" in runs else ""
    result = Tuning(tune, default, chosen, tuning_runs, pd.DataFrame(rows), dataset)
    return result, compared, faceted


def distinct(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs once each (a run in both settings is one run), its settings joined."""
    if SETTING not in runs:
        return runs
    settings = runs.groupby("run_id", sort=False)[SETTING].agg(", ".join)
    return runs.drop_duplicates("run_id").assign(
        **{SETTING: lambda r: r["run_id"].map(settings)})


def resolve_design(runs: pd.DataFrame, analysis: Analysis, default: float | None,
                   ) -> tuple[Tuning | None, Design, pd.DataFrame, Analysis]:
    """compare.resolve, for a tuned analysis on its compared runs in their settings (the
    tutorial's first): the tuning (None without analysis.tune), the design, the runs with their
    arm, and the analysis that was resolved."""
    tuning = None
    if analysis.tune is not None:
        tuning, runs, analysis = split(runs, analysis, default)
    design, runs = resolve(runs, analysis)
    if tuning is not None:
        design = dataclasses.replace(design, facet_order=SETTINGS)
    return tuning, design, runs, analysis
