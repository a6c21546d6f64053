"""The report and the index of reports, as GitHub markdown."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nnlab.report.analysis import Analysis
from nnlab.report.compare import ARM, Comparison, Design
from nnlab.report.runs import Outcome, Selection, param_dtypes
from nnlab.report.verdict import fmt, fmt_p, verdict

QUESTION = "**Question.** "
ANSWER = "**Answer.** "
INDEX = "README.md"
CLAIM_RULE = ("a difference is claimed only where the Holm-adjusted Wilcoxon p < 0.05 AND the "
              "95% CI of the mean paired difference excludes 0")


@dataclass
class Report:
    name: str
    analysis: Analysis
    design: Design
    selection: Selection
    runs: pd.DataFrame
    outcomes: pd.DataFrame  # of all the runs, facets together
    comparisons: list[Comparison]  # one per facet value; one of all runs without a facet
    answer: str
    figures: list[tuple[str | None, str]]  # (relative path, caption); no path: not drawn, why
    reproduce: list[str]


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
            + ", ".join(c.value for c in report.comparisons)
            + "; the arms are compared within each value"]] if design.facet else []),
        ["seeds", _seeds(report)],
        ["runs", f"{counts['runs']}: " + ", ".join(f"{counts[k]} {k}" for k in Outcome
                                                   if counts[k] or k == Outcome.FINISHED)
         + (f"; {selection.superseded} earlier run(s) of the same configs not counted"
            if selection.superseded else "")],
        ["sweep", ", ".join(selection.sweep_ids) + f" (started {started:%Y-%m-%d %H:%M} UTC)"
         + (f"; newer, still running, not reported: {', '.join(selection.skipped)}"
            if selection.skipped else "")],
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


def _results(comparison: Comparison, design: Design) -> list[str]:
    metric_rows = [[row["metric"], row[ARM], row["n"], fmt(row["mean"]),
                    _interval(row["ci_low"], row["ci_high"]), fmt(row["median"]),
                    _interval(row["q1"], row["q3"])]
                   for _, row in comparison.metrics.iterrows()]
    parts = [
        *_subsection(comparison),
        table([ARM, "runs", *Outcome, "seeds"],
              comparison.outcomes.to_numpy().tolist()),
        "Metrics over the finished runs (n = seeds):",
        table(["metric", ARM, "n", "mean", "95% CI", "median", "IQR"], metric_rows),
    ]
    if comparison.success is not None:
        success_rows = [[row[ARM], f"{row['successes']}/{row['n']}",
                         f"{row['rate']:.0%}" if row["n"] else "—",
                         f"[{row['ci_low']:.0%}, {row['ci_high']:.0%}]" if row["n"] else "—"]
                        for _, row in comparison.success.iterrows()]
        parts += [f"Success ({design.success.describe()}); a diverged run is a failure:",
                  table([ARM, "successes", "rate", "95% CI (Wilson)"], success_rows)]
    return parts


def _results_section(report: Report) -> str:
    return "\n\n".join(["## Results per arm, over seeds"]
                        + [part for comparison in report.comparisons
                           for part in _results(comparison, report.design)])


def _paired(comparison: Comparison, baseline: str) -> list[str]:
    rows = [[row["metric"], row[ARM], row["n"], fmt(row["mean_difference"], sign=True),
             _interval(row["ci_low"], row["ci_high"], sign=True), fmt_p(row["p_value"]),
             fmt_p(row["p_holm"]), f"{row['better']} / {row['ties']} / {row['worse']}",
             "yes" if row["detected"] else "no"]
            for _, row in comparison.paired.iterrows()]
    return [*_subsection(comparison),
            table(["metric", ARM, "pairs", f"mean difference (arm − {baseline})", "95% CI",
                   "Wilcoxon p", "Holm p", "better / tie / worse (seeds)",
                   "difference detected"], rows)]


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
        f"{CLAIM_RULE}.",
        *[part for comparison in report.comparisons for part in _paired(comparison, baseline)],
    ])


def _not_counted_section(report: Report) -> str:
    others = report.runs[report.runs["outcome"] != Outcome.FINISHED]
    if others.empty:
        return "## Runs that did not finish\n\nNone: every run finished."
    facet = report.design.facet
    rows = [[row["run_name"], row[ARM], *([row[facet]] if facet else []), row["seed"],
             row["outcome"], row["failure"] or "", f"`{row['run_id']}`"]
            for _, row in others.iterrows()]
    return "\n\n".join([
        "## Runs that did not finish",
        "Diverged runs count as failures in the success rates; crashed or still running runs "
        "count nowhere.",
        table(["run", ARM, *([facet] if facet else []), "seed", "outcome", "reason", "run id"],
              rows),
    ])


def render(report: Report) -> str:
    """The whole report: question, answer, design, tables, figures, verdict, discussion."""
    figures = "\n\n".join(f"![{Path(path).stem}]({path})\n\n*{caption}*" if path
                          else f"*{caption}*" for path, caption in report.figures)
    verdicts = [part for comparison in report.comparisons
                for part in [*_subsection(comparison),
                             verdict(comparison, report.design).paragraph]]
    sections = [
        f"# {report.name}",
        QUESTION + _question(report),
        ANSWER + report.answer,
        _setup_section(report),
        _results_section(report),
        _paired_section(report),
        "## Figures\n\n" + (figures or "None."),
        "\n\n".join(["## Verdict", *verdicts,
                      f"*Computed from the tables above: {CLAIM_RULE}.*"]),
    ]
    if report.analysis.discussion:
        sections.append(f"## Discussion\n\n*Hand-written ({report.analysis.source}), not "
                        f"computed from these runs.*\n\n{report.analysis.discussion.strip()}")
    sections.append(_not_counted_section(report))
    return "\n\n".join(sections) + "\n"


def index(out_dir: Path) -> str:
    """reports/README.md: every report in out_dir with its question and one-line answer."""
    rows = []
    for path in sorted(out_dir.glob("*.md")):
        if path.name == INDEX:
            continue
        lines = path.read_text().splitlines()
        found = {prefix: next((line[len(prefix):] for line in lines if line.startswith(prefix)),
                              "") for prefix in (QUESTION, ANSWER)}
        rows.append([f"[{path.stem}]({path.name})", found[QUESTION], found[ANSWER]])
    return "\n\n".join([
        "# Reports",
        "One per question, written by `python -m nnlab.report NAME` from the runs in MLflow; "
        "this index is rewritten with every report.",
        table(["report", "question", "answer"], rows),
    ]) + "\n"
