"""One report: runs -> tables -> verdict -> figures -> markdown, then the index of reports."""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nnlab.report import compare, markdown, placeholders, publish, tuned, verdict
from nnlab.report.analysis import (
    Analysis,
    Deviation,
    MetricSpec,
    ReportError,
    Success,
    lower_is_better,
    parse_success,
    read_experiment,
)
from nnlab.report.plots import PLOTS, TUNING_PLOT, PlotData, render
from nnlab.report.runs import Selection, load_curves, load_fit, param_dtypes, select_runs
from nnlab.schema import RunConfig

DEFAULT_EXPERIMENT = RunConfig().experiment_name
# The question reports of experiments/ (committed, indexed in DEFAULT_OUT/README.md) ...
DEFAULT_OUT = Path("reports")
# ... and every other report: an ad-hoc sweep's, git-ignored, never indexed.
ADHOC_OUT = DEFAULT_OUT / "adhoc"


@dataclass(frozen=True)
class Written:
    path: Path
    answer: str | None  # the hand-written answer, its numbers filled in; None: none written
    key_result: str  # computed
    selection: Selection
    index: Path | None  # the index rewritten; None for an ad-hoc report (not indexed)
    logged: list[publish.Logged]  # where in MLflow: the parent run of each reported sweep


def _baseline_arg(text: str) -> str | dict[str, str]:
    """`relu`, or `lr=0.1,activation=relu` for arms of several keys."""
    if "=" not in text:
        return text
    return dict(pair.split("=", 1) for pair in text.split(","))


def _with_overrides(analysis: Analysis, by: list[str] | None = None,
                    metrics: list[str] | None = None, baseline: str | None = None,
                    success: Success | str | None = None) -> Analysis:
    """The analysis with the command line's --by, --metric, --baseline and --success applied.
    The hand-written answer and discussion were written for the block's own arms and metrics:
    a report that changes them has neither."""
    changes: dict = {}
    if by or metrics or baseline is not None:
        changes |= {"answer": None, "discussion": None}
    if success is not None:
        changes["success"] = parse_success(success) if isinstance(success, str) else success
    if by and tuple(by) != analysis.arm:
        # The block's baseline names values of its own arm keys: it cannot apply to others.
        changes |= {"arm": tuple(by), "baseline": None}
    if metrics:
        known = {m.name: m for m in analysis.metrics or ()}
        changes["metrics"] = tuple(known.get(m, MetricSpec(m, lower_is_better(m)))
                                   for m in metrics)
    if baseline is not None:
        changes["baseline"] = _baseline_arg(baseline)
    return dataclasses.replace(analysis, **changes)


def _sweep_arg(key: str, values: list[str]) -> str:
    argument = f"{key}={','.join(values)}"
    return f"'{argument}'" if any(c in argument for c in "[]() ") else argument


def _reproduce(name: str, experiment: str, analysis: Analysis, design: compare.Design,
               runs: pd.DataFrame) -> list[str]:
    if analysis.source is not None:
        return [f"python -m nnlab.run -m +experiment={name}", f"python -m nnlab.report {name}"]
    seeds = sorted(int(s) for s in runs["seed"].dropna().unique())
    sweep = [f"'seed=range({len(seeds)})'" if seeds == list(range(len(seeds)))
             else _sweep_arg("seed", [str(s) for s in seeds])]
    sweep += [_sweep_arg(key, [compare.value_text(v) for v in
                               sorted(runs[key].unique(), key=compare.sort_key)])
              for key in (*design.arm_keys, *([design.facet] if design.facet
                                               and design.facet in param_dtypes() else []))]
    if experiment != DEFAULT_EXPERIMENT:
        sweep.append(f"experiment_name={experiment}")
    report = ["python -m nnlab.report"]
    if name != DEFAULT_EXPERIMENT:
        report.append(name)
    if name != experiment:
        report.append(f"--experiment {experiment}")
    return ["python -m nnlab.run -m " + " ".join(sweep), " ".join(report)]


def check_declared_verdict(analysis: Analysis, design: compare.Design,
                           comparisons: list[compare.Comparison], where: str) -> None:
    """ReportError where the answer was written for another verdict than the one computed
    (the lead comparison of each arm: its success rate, else the primary metric), or names an
    arm the report does not have."""
    if analysis.answer is None:
        return
    unknown = [arm for arm in analysis.answer.arms() if arm not in design.arms[1:]]
    if unknown:
        raise ReportError(f"{where}: analysis.answer.verdict names {', '.join(unknown)}, not an "
                          f"arm compared with {design.baseline} (arms: "
                          f"{'; '.join(design.arms[1:])})")
    for comparison in comparisons:
        for arm, computed in compare.lead_forms(comparison, design).items():
            declared = analysis.answer.expected(arm, comparison.value)
            if declared is not None and declared != computed:
                within = f" at {comparison.title}" if comparison.facet else ""
                raise ReportError(
                    f"{where}: the answer was written for verdict '{declared}' for {arm} "
                    f"against {design.baseline}{within}, but the report computes '{computed}': "
                    "the runs no longer say what the answer says; rewrite analysis.answer")


def fill_texts(analysis: Analysis, design: compare.Design,
               comparisons: list[compare.Comparison], runs: pd.DataFrame,
               where: str, tuning: tuned.Tuning | None = None) -> tuple[str | None, str | None]:
    """The answer and the discussion with their numbers filled in (placeholders)."""
    values = placeholders.Values(design, comparisons, runs, tuning)
    answer = (placeholders.fill(analysis.answer.text, values, f"{where}: analysis.answer")
              if analysis.answer else None)
    discussion = (placeholders.fill(analysis.discussion, values, f"{where}: analysis.discussion")
                  if analysis.discussion else None)
    return answer, discussion


def fill_deviations(analysis: Analysis, design: compare.Design,
                    comparisons: list[compare.Comparison], runs: pd.DataFrame,
                    where: str, tuning: tuned.Tuning | None = None) -> list[Deviation]:
    """The deviations from the tutorial with their numbers filled in (placeholders)."""
    values = placeholders.Values(design, comparisons, runs, tuning)
    return [Deviation(*(placeholders.fill(text, values, f"{where}: analysis.deviations[{i}]")
                        for text in (deviation.what, deviation.why)))
            for i, deviation in enumerate(analysis.deviations)]


def write_report(name: str | None = None, *, experiment: str | None = None,
                 sweep: str | list[str] | None = None, by: list[str] | None = None,
                 metrics: list[str] | None = None, baseline: str | None = None,
                 success: Success | str | None = None, analysis: Analysis | None = None,
                 out_dir: Path | None = None) -> Written:
    """Write out_dir/NAME.md, its figures and runs.csv in out_dir/NAME/, and for an experiment
    of experiments/ the index out_dir/README.md; log the report to the parent run of its sweep.

    name: an experiment file (experiments/NAME.yaml: its MLflow experiment and analysis block),
    else an MLflow experiment; None: the default experiment with arms detected. analysis: used
    instead of the file's block (a notebook's own question). success: a criterion
    (`test_loss<0.01`) instead of the analysis's. out_dir: default reports/ for an experiment
    of experiments/, reports/adhoc/ (git-ignored, not indexed) for any other.
    """
    found = read_experiment(name) if name else None
    analysis = analysis or (found[1] if found else Analysis())
    analysis = _with_overrides(analysis, by, metrics, baseline, success)
    experiment = experiment or (found[0] if found else name) or DEFAULT_EXPERIMENT
    name = name or experiment
    unknown = [plot for plot in analysis.plots if plot not in PLOTS]
    if unknown:
        raise ReportError(f"analysis.plots: unknown plot {', '.join(unknown)} "
                          f"(plots: {', '.join(PLOTS)})")

    runs, selection = select_runs(experiment, sweep)
    default = tuned.recorded_default(selection) if analysis.tune is not None else None
    tuning, design, runs, analysis = tuned.resolve_design(runs, analysis, default)
    comparisons = compare.comparisons(runs, design)
    where = f"experiment {name}" + (f" ({analysis.source})" if analysis.source else "")
    check_declared_verdict(analysis, design, comparisons, where)
    answer, discussion = fill_texts(analysis, design, comparisons, runs, where, tuning)
    deviations = fill_deviations(analysis, design, comparisons, runs, where, tuning)
    key_result = verdict.key_result(comparisons, design)

    # A question of experiments/, as its file asks it: the committed reports and their index.
    indexed = (found is not None and analysis.source is not None
               and not (by or metrics or baseline is not None))
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT if indexed else ADHOC_OUT
    figure_dir = out_dir / name
    figure_dir.mkdir(parents=True, exist_ok=True)
    for stale in figure_dir.glob("*.png"):
        stale.unlink()
    compared = tuned.distinct(runs)  # a run in both settings once
    every_run = compared
    if tuning is not None:
        every_run = pd.concat([tuning.runs.drop(columns="score").assign(
            **{tuned.SETTING: "tuning"}), every_run], ignore_index=True)
    columns = ["run_name", compare.ARM] + [c for c in every_run
                                          if c not in ("run_name", compare.ARM)]
    every_run[columns].to_csv(figure_dir / "runs.csv", index=False)
    data = PlotData(runs, design, comparisons, load_curves, load_fit, tuning)
    figures = []
    for plot in analysis.plots:
        drawn, caption = render(plot, data, figure_dir / f"{plot}.png")
        figures.append((f"{name}/{plot}.png" if drawn else None, caption))
    tuning_figure = None
    if tuning is not None:
        drawn, caption = render(TUNING_PLOT, data, figure_dir / f"{TUNING_PLOT}.png")
        tuning_figure = (f"{name}/{TUNING_PLOT}.png" if drawn else None, caption)

    report = markdown.Report(name, analysis, design, selection, runs,
                             compare.outcome_table(compared, design), comparisons,
                             answer, key_result, discussion, deviations, figures,
                             _reproduce(name, experiment, analysis, design, runs), tuning,
                             tuning_figure)
    path = out_dir / f"{name}.md"
    path.write_text(markdown.render(report))
    index = out_dir / markdown.INDEX if indexed else None
    if index is not None:
        index.write_text(markdown.index(out_dir))
    logged = publish.to_parent_runs(experiment, selection.sweep_ids, path, figure_dir)
    return Written(path, answer, key_result, selection, index, logged)
