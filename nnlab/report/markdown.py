"""The report and the index of reports, as GitHub markdown."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.report import stats
from nnlab.report.analysis import Analysis, Deviation, experiment_names, read_experiment
from nnlab.report.compare import ARM, Comparison, Design
from nnlab.report.runs import Outcome, Selection, param_dtypes
from nnlab.report.tuned import SETTING, Tuning, distinct
from nnlab.report.verdict import fmt, fmt_p, fmt_points, verdict
from nnlab.tuning import seeds_text

QUESTION = "**Question.** "
ANSWER = "**Answer.** "
KEY_RESULT = "**Key result.** "
INDEX = "README.md"
# Every row of the index, as markdown, is shorter than this.
INDEX_ROW_LENGTH = 400
CLAIM_RULE = ("a difference is claimed only where the Holm-adjusted Wilcoxon p < 0.05 AND the "
              "95% CI of the mean paired difference excludes 0")
FORMS_RULE = ("Otherwise, with a margin: equivalent where the 90% CI lies inside it (two "
              "one-sided tests at 5%), else inconclusive, with the seeds per arm that would "
              f"settle it at {stats.POWER:.0%} power (normal approximation of the paired t-test "
              "or of the two one-sided tests, one comparison at 5%, from the observed SD of the "
              "differences); without a margin, the 95% CI bounds the difference")
PERCENTILE_MARK = "†"
PERCENTILE_NOTE = (f"{PERCENTILE_MARK} percentile interval: BCa is degenerate here (constant "
                   "values, or the same outcome on every seed).")


@dataclass
class Report:
    name: str
    analysis: Analysis
    design: Design
    selection: Selection
    runs: pd.DataFrame
    outcomes: pd.DataFrame  # of all the runs, facets together
    comparisons: list[Comparison]  # one per facet value; one of all runs without a facet
    answer: str | None  # the hand-written answer, its numbers filled in; None: none written
    key_result: str  # computed: the decisive numbers
    discussion: str | None  # hand-written, its numbers filled in
    deviations: list[Deviation]  # from the tutorial's recipe, their numbers filled in
    figures: list[tuple[str | None, str]]  # (relative path, caption); no path: not drawn, why
    reproduce: list[str]
    tuning: Tuning | None = None  # a tuned sweep's choice (analysis.tune)
    tuning_figure: tuple[str | None, str] | None = None  # the tuning curves, as `figures`


def table(headers: list[str], rows: list[list]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _interval(low: float, high: float, sign: bool = False) -> str:
    return f"[{fmt(low, sign)}, {fmt(high, sign)}]"


def _question(report: Report) -> str:
    if report.analysis.question:
        return " ".join(report.analysis.question.split())
    design = report.design
    within = f", within each {design.facet} value" if design.facet else ""
    return (f"Do the arms ({design.arm_title}: {', '.join(design.arms)}) differ in "
            f"{design.primary.name}{within}?")


def _setup_section(report: Report) -> str:
    design, runs, selection = report.design, report.runs, report.selection
    counts = report.outcomes[["runs", *Outcome]].sum()
    started = runs["start_time"].min()
    rows = [
        ["experiment", f"`{selection.experiment}` (MLflow)"],
        ["recipe, dataset", f"{_constant(runs, 'recipe')}, {_constant(runs, 'dataset.name')}"],
        ["arms", f"`{design.arm_title}`: " + ", ".join(
            f"{arm} (baseline)" if arm == design.baseline else arm for arm in design.arms)],
        *([["facet", f"`{design.facet}`: "
            + ", ".join(c.facet_value for c in report.comparisons)
            + "; the arms are compared within each value"]] if design.facet else []),
        *([["tuning", _tuning_row(report.tuning)]] if report.tuning else []),
        ["seeds", _seeds(report)],
        ["runs", f"{counts['runs']}: " + ", ".join(f"{counts[k]} {k}" for k in Outcome
                                                   if counts[k] or k == Outcome.FINISHED)
         + (f"; {selection.superseded} earlier run(s) of the same configs not counted"
            if selection.superseded else "")],
        ["sweep", ", ".join(selection.sweep_ids) + f" (started {started:%Y-%m-%d %H:%M} UTC)"
         + (f"; newer, still running, not reported: {', '.join(selection.skipped)}"
            if selection.skipped else "")],
        *([["deviations from the tutorial", "none declared"]] if not report.deviations
          else [[f"deviation: {d.what}", d.why] for d in report.deviations]),
        ["metrics", ", ".join(f"{m.name} ({'lower' if m.lower_is_better else 'higher'} is "
                              f"better{', primary' if i == 0 else ''})"
                              for i, m in enumerate(design.metrics))],
        ["reproduce", " then ".join(f"`{command}`" for command in report.reproduce)],
    ]
    shared = _shared_settings(runs, design)
    return "\n\n".join([
        "## Setup", table(["", ""], rows),
        "<details><summary>Settings shared by every run</summary>\n\n"
        + ", ".join(f"`{key}={value}`" for key, value in shared.items()) + "\n\n</details>",
    ])


def _tuning_row(tuning: Tuning) -> str:
    tune = tuning.tune
    chosen = ", ".join(f"{arm} {value:g}" for arm, value in tuning.chosen.items())
    return (f"`{tune.key}` tuned per arm: {tune.describe()}; the tutorial's (the config's) "
            f"{tune.key} {tuning.default:g}; chosen: {chosen} ({len(tuning.runs)} tuning runs, "
            "not compared). Compared twice on the other "
            f"seeds (`{SETTING}`): tutorial = every arm at {tuning.default:g}, tuned = each arm "
            "at its chosen value")


def _statistic_cell(value: float, lower_is_better: bool) -> str:
    if np.isinf(value) and (value > 0) == lower_is_better:
        return "worst (half or more failed)"
    return fmt(value)


def _tuning_section(report: Report) -> str:
    tuning = report.tuning
    assert tuning is not None  # rendered for a tuned report only
    tune = tuning.tune
    rows = [[row[ARM], f"{row['value']:g}" + (" (tutorial's)" if row["value"] == tuning.default
                                               else ""),
             _statistic_cell(row["statistic"], tune.lower_is_better), row["runs"],
             row["failures"], "**chosen**" if row["chosen"] else ""]
            for _, row in tuning.table.iterrows()]
    chosen = "; ".join(f"{arm}: {tune.key} = {value:g}"
                       + (" (the tutorial's)" if value == tuning.default else "")
                       for arm, value in tuning.chosen.items())
    edge = tuning.at_edge()
    data = (f"{tuning.dataset}'s rows are shared by every seed: the tuning seeds' test split "
            "holds the same points as the compared seeds', so the choice has seen the test data "
            "the comparison reports, and the tuned comparison flatters the tuned values."
            if tuning.shares_rows() else
            f"{tuning.dataset or 'The dataset'} draws fresh points from each seed: the test "
            "points that chose the values are not the ones compared.")
    parts = [
        "## Tuning",
        f"Each arm ran every {tune.key} of the grid on the tuning seeds "
        f"{seeds_text(tune.seeds)}, which are not compared. The value chosen is the one with "
        f"the best median {tune.select_on} ({'lower' if tune.lower_is_better else 'higher'} "
        "is better) over those seeds, a failed or diverged run counting as the worst value (a "
        "value that diverges on some seeds must not win because its survivors look good); "
        "ties go to the tutorial's value, then to the smaller. " + data,
        table([ARM, tune.key, f"median {tune.select_on}", "runs", "failed", ""], rows),
        f"**Chosen.** {chosen}.",
        *(["**At the edge of the grid:** " + "; ".join(
            f"{arm} chose the {'smallest' if tuning.chosen[arm] == tune.values[0] else 'largest'}"
            f" {tune.key} tried ({tuning.chosen[arm]:g})" for arm in edge)
           + ": the best may lie beyond the grid."] if edge else []),
    ]
    if report.tuning_figure is not None:
        path, caption = report.tuning_figure
        parts.append(f"![{Path(path).stem}]({path})\n\n*{caption}*" if path else f"*{caption}*")
    return "\n\n".join(parts)


def _seeds(report: Report) -> str:
    """The seeds per arm (and facet value), in a few words when every arm has the same."""
    cells = [(c, arm, row) for c in report.comparisons
             for arm, row in c.outcomes.set_index(ARM).iterrows()]
    if len({(row["runs"], row["seeds"]) for _, _, row in cells}) == 1:
        row = cells[0][2]
        each = f" and {report.design.facet} value" if report.design.facet else ""
        return f"{row['runs']} per arm{each} ({row['seeds']})"
    return "; ".join(f"{arm} ({c.title}): {row['seeds']}" if c.facet else
                     f"{arm}: {row['seeds']}" for c, arm, row in cells)


def _constant(runs: pd.DataFrame, key: str) -> str:
    values = runs[key].dropna().unique()
    return str(values[0]) if len(values) == 1 else "several"


def _shared_settings(runs: pd.DataFrame, design: Design) -> dict[str, str]:
    return {key: str(runs[key].iloc[0]) for key in param_dtypes()
            if key != "seed" and key not in design.arm_keys
            and runs[key].nunique(dropna=False) == 1 and runs[key].notna().all()}


def _subsection(comparison: Comparison) -> list[str]:
    """The heading of a facet value's part of a section; none without a facet."""
    return [f"### {comparison.title}"] if comparison.facet else []


def _bootstrap(low: float, high: float, method: str, sign: bool = False) -> str:
    """A bootstrap interval's cell, marked where it is a percentile interval."""
    mark = PERCENTILE_MARK if method == stats.Method.PERCENTILE else ""
    return _interval(low, high, sign) + mark


def _percentile_note(frame: pd.DataFrame, column: str) -> list[str]:
    return [PERCENTILE_NOTE] if (frame[column] == stats.Method.PERCENTILE).any() else []


def _results(comparison: Comparison, design: Design) -> list[str]:
    metric_rows = [[row["metric"], row[ARM], row["n"], fmt(row["mean"]),
                    _interval(row["ci_low"], row["ci_high"]), fmt(row["median"]),
                    _interval(row["q1"], row["q3"]), fmt(row["iqm"]),
                    _bootstrap(row["iqm_low"], row["iqm_high"], row["iqm_method"])]
                   for _, row in comparison.metrics.iterrows()]
    parts = [
        *_subsection(comparison),
        table([ARM, "runs", *Outcome, "seeds"],
              comparison.outcomes.to_numpy().tolist()),
        "Metrics over the finished runs (n = seeds); IQM: the interquartile mean (the middle "
        "half of the seeds), with a bootstrap 95% CI (BCa):",
        table(["metric", ARM, "n", "mean", "95% CI", "median", "IQR", "IQM", "IQM 95% CI"],
              metric_rows),
        *_percentile_note(comparison.metrics, "iqm_method"),
    ]
    if comparison.success is not None:
        success_rows = [[row[ARM], f"{row['successes']}/{row['n']}",
                         f"{row['rate']:.0%}" if row["n"] else "—",
                         f"[{row['ci_low']:.0%}, {row['ci_high']:.0%}]" if row["n"] else "—"]
                        for _, row in comparison.success.iterrows()]
        # success_table makes a table exactly when the design has a success criterion.
        assert design.success is not None
        parts += [f"Success ({design.success.describe()}); a diverged run is a failure:",
                  table([ARM, "successes", "rate", "95% CI (Wilson)"], success_rows)]
    return parts


def _results_section(report: Report) -> str:
    return "\n\n".join(["## Results per arm, over seeds"]
                        + [part for comparison in report.comparisons
                           for part in _results(comparison, report.design)])


def _form_cell(row: pd.Series) -> str:
    """A comparison's form, with its margin or the seeds that would settle it."""
    form = str(row["form"])
    if row["form"] == stats.Form.EQUIVALENT:
        return f"{form} (±{row['margin']:g})"
    if row["form"] == stats.Form.INCONCLUSIVE:
        seeds = int(row["seeds_needed"])
        needed = f">{stats.MAX_SEEDS:,}" if seeds > stats.MAX_SEEDS else f"~{seeds:,}"
        return f"{form} (±{row['margin']:g}; {needed} seeds)"
    if row["within_margin"]:
        return f"{form}, within ±{row['margin']:g}"
    return form


def paired_rows(paired: pd.DataFrame) -> list[list]:
    """The cells of a paired table, one row per arm and metric, as the report prints them."""
    return [[row["metric"], row[ARM], row["n"], fmt(row["mean_difference"], sign=True),
             _interval(row["ci_low"], row["ci_high"], sign=True), fmt_p(row["p_value"]),
             fmt_p(row["p_holm"]), f"{row['better']} / {row['ties']} / {row['worse']}",
             f"{fmt(row['poi'])} "
             f"{_bootstrap(row['poi_low'], row['poi_high'], row['poi_method'])}",
             _form_cell(row)]
            for _, row in paired.iterrows()]


def _paired_headers(baseline: str) -> list[str]:
    return ["metric", ARM, "pairs", f"mean difference (arm − {baseline})", "95% CI",
            "Wilcoxon p", "Holm p", "better / tie / worse (seeds)",
            "P(improvement) [95% CI]", "verdict"]


def _rates(comparison: Comparison, design: Design) -> list[str]:
    # paired_section asks only where there are rates: rate_table makes them with a success
    # criterion, and with one comparisons() makes the comparison among successes.
    assert comparison.rates is not None and comparison.among_successes is not None
    assert design.success is not None
    rows = [[row[ARM], row["pairs"], row["both"], row["only_arm"], row["only_baseline"],
             row["neither"], fmt_p(row["p_value"]), fmt_p(row["p_holm"]),
             f"{fmt_points(row['rate_difference'])} [{fmt_points(row['ci_low'])}, "
             f"{fmt_points(row['ci_high'])}]", str(row["form"])]
            for _, row in comparison.rates.iterrows()]
    baseline = design.baseline
    return [
        f"Success ({design.success.describe()}) against {baseline}'s on the same seeds "
        "(a diverged run fails): McNemar's exact test on the seeds where exactly one of the "
        "two succeeds, Holm over the arms; the difference of the rates in percentage points "
        "with Newcombe's 95% CI for paired proportions:",
        table([ARM, "seeds", "both succeed", "arm only", f"{baseline} only", "neither",
               "McNemar exact p", "Holm p", "rate difference (points) [95% CI]", "verdict"],
              rows),
        f"{design.primary.name} among the seeds on which both the arm and {baseline} succeed:",
        table(_paired_headers(baseline), paired_rows(comparison.among_successes)),
        *_percentile_note(comparison.among_successes, "poi_method"),
        "Over all seeds:",
    ]


def paired_section(comparison: Comparison, design: Design) -> list[str]:
    """The report's paired comparisons with the baseline, of one facet value (or of all)."""
    return [*_subsection(comparison),
            *(_rates(comparison, design) if comparison.rates is not None else []),
            table(_paired_headers(design.baseline), paired_rows(comparison.paired)),
            *_percentile_note(comparison.paired, "poi_method")]


def _paired_section(report: Report) -> str:
    design = report.design
    baseline = design.baseline
    if len(design.arms) < 2:
        return f"## Paired comparison\n\nOnly one arm ({baseline}): nothing to compare."
    facet = f" {design.facet} value" if design.facet else ""
    return "\n\n".join([
        f"## Paired comparison with {baseline}",
        "Runs with the same seed share their data (and their initial weights, where the arms "
        "have the same layer sizes and init): each arm is compared with "
        f"{baseline} seed by seed{' within each' + facet if facet else ''}. Holm's correction "
        f"runs over the arms within each metric{' and' + facet if facet else ''}; "
        f"{CLAIM_RULE} (better or worse). {FORMS_RULE}. P(improvement): the chance that the "
        "arm beats the baseline on the same seed, ties counted half, with a bootstrap 95% CI "
        "(BCa).",
        *[part for comparison in report.comparisons for part in paired_section(comparison, design)],
    ])


def _not_counted_section(report: Report) -> str:
    runs = distinct(report.runs)
    others = runs[runs["outcome"] != Outcome.FINISHED]
    if others.empty:
        return "## Runs that did not finish\n\nNone: every run finished."
    facet = report.design.facet
    rows = [[row["run_name"], row[ARM], *([row[facet]] if facet else []), row["seed"],
             row["outcome"], row["failure"] or "", f"`{row['run_id']}`"]
            for _, row in others.iterrows()]
    return "\n\n".join([
        "## Runs that did not finish",
        "Diverged runs count as failures in the success rates; crashed, lost (their process "
        "vanished) or still running runs count nowhere.",
        table(["run", ARM, *([facet] if facet else []), "seed", "outcome", "reason", "run id"],
              rows),
    ])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render(report: Report) -> str:
    """The whole report: question, answer, key result, design, tables, figures, verdict,
    discussion."""
    figures = "\n\n".join(f"![{Path(path).stem}]({path})\n\n*{caption}*" if path
                          else f"*{caption}*" for path, caption in report.figures)
    verdicts = [part for comparison in report.comparisons
                for part in [*_subsection(comparison), "\n".join(
                    f"- {sentence}" for sentence in verdict(comparison, report.design).sentences)]]
    sections = [
        f"# {report.name}",
        QUESTION + _question(report),
        *([ANSWER + _one_line(report.answer) + f" *(Hand-written, {report.analysis.source}; "
           "its numbers filled in from these runs.)*"] if report.answer else []),
        KEY_RESULT + report.key_result + " *(Computed.)*",
        _setup_section(report),
        *([_tuning_section(report)] if report.tuning else []),
        _results_section(report),
        _paired_section(report),
        "## Figures\n\n" + (figures or "None."),
        "\n\n".join(["## Verdict", *verdicts,
                      f"*Computed from the tables above: {CLAIM_RULE}. {FORMS_RULE}.*"]),
    ]
    if report.discussion:
        sections.append(f"## Discussion\n\n*Hand-written ({report.analysis.source}); its "
                        f"numbers are filled in from these runs.*\n\n{report.discussion.strip()}")
    sections.append(_not_counted_section(report))
    return "\n\n".join(sections) + "\n"


def _marked(lines: list[str], prefix: str) -> str:
    """A report's line that starts with prefix, without it and without its italic note."""
    line = next((line[len(prefix):] for line in lines if line.startswith(prefix)), "")
    return line.rsplit(" *(", 1)[0] if line.endswith(")*") else line


def _shortened(text: str, excess: int) -> str:
    """text less `excess` characters or more, cut at a word, marked with an ellipsis."""
    if excess <= 0:
        return text
    return text[:max(0, len(text) - excess - 1)].rsplit(" ", 1)[0] + "…"


def index_row(name: str, question: str, answer: str, key_result: str) -> str:
    """One row of the index, under INDEX_ROW_LENGTH characters: the answer is cut short (with
    an ellipsis; the report has it whole) where the row would be longer."""
    question_cell = f"[{question}]({name}.md)"
    row = table_row([question_cell, answer, key_result])
    if len(row) >= INDEX_ROW_LENGTH:
        answer = _shortened(answer, len(row) - INDEX_ROW_LENGTH + 1)
        row = table_row([question_cell, answer, key_result])
    return row


def table_row(cells: list[str]) -> str:
    return table([""] * len(cells), [cells]).splitlines()[-1]


def index(out_dir: Path) -> str:
    """reports/README.md: one row per experiment of experiments/ with a report in out_dir, with
    its short question, hand-written answer and computed key result. Ad-hoc reports (no
    experiment file) are never listed."""
    rows = []
    for name in experiment_names():
        path = out_dir / f"{name}.md"
        if not path.is_file():
            continue
        lines = path.read_text().splitlines()
        experiment = read_experiment(name)
        assert experiment is not None  # a name of experiment_names(): its file exists
        analysis = experiment[1]
        question = analysis.short_question or analysis.question or name
        rows.append(index_row(name, _one_line(question), _marked(lines, ANSWER) or "—",
                              _marked(lines, KEY_RESULT)))
    return "\n\n".join([
        "# Reports",
        "One per question of `experiments/`, written by `python -m nnlab.report NAME` from the "
        "runs in MLflow; this index is rewritten with every report. The answer is hand-written "
        "(its numbers filled in from the runs), the key result computed; each report has the "
        "whole verdict.",
        "\n".join(table(["question", "answer", "key result"], []).splitlines() + rows),
    ]) + "\n"
