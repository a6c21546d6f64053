"""The verdict: the sentences that state a comparison's numbers (nnlab.report.compare), and the
report's one-line answer.

A difference in a metric is claimed only where the paired table detected one (Holm-adjusted
p < 0.05 AND the CI excludes 0). Success rates are said to differ only where their Wilson 95%
intervals do not overlap, which is stricter than a test at 0.05.
"""

import math
from dataclasses import dataclass

import pandas as pd

from nnlab.report import stats
from nnlab.report.analysis import MetricSpec
from nnlab.report.compare import ARM, Comparison, Design
from nnlab.report.runs import Outcome


@dataclass(frozen=True)
class Verdict:
    answer: str  # one line: the primary metric and the success rates
    paragraph: str  # the answer, the other metrics where they differ, what was not counted


def fmt(value: float, sign: bool = False) -> str:
    """Three significant digits; a dash for a missing number."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.3g}" if sign else f"{value:.3g}"


def fmt_p(p: float) -> str:
    return "—" if not math.isfinite(p) else f"{p:.2g}"


def _gap(row: pd.Series) -> tuple[str, str]:
    """A paired_table row's difference: "lower" or "higher", and "0.3 [95% CI 0.29, 0.31]"."""
    lower = row["mean_difference"] < 0
    # The gap as a positive number, its interval turned the same way.
    low, high = (-row["ci_high"], -row["ci_low"]) if lower else (row["ci_low"], row["ci_high"])
    return ("lower" if lower else "higher",
            f"{fmt(abs(row['mean_difference']))} [95% CI {fmt(low)}, {fmt(high)}]")


def _comparison_sentence(row: pd.Series, metric: MetricSpec, baseline: str) -> str:
    arm, n = row[ARM], int(row["n"])
    if n < 2:
        return (f"No comparison of {metric.name} between {arm} and {baseline}: {n} seed(s) with "
                "a finished run in both.")
    if not row["detected"]:
        sentence = (f"No detectable difference in {metric.name} between {arm} and {baseline} "
                    f"at n={n} (mean difference {fmt(row['mean_difference'], sign=True)} "
                    f"[95% CI {fmt(row['ci_low'], sign=True)}, {fmt(row['ci_high'], sign=True)}"
                    f"], Holm-adjusted Wilcoxon p={fmt_p(row['p_holm'])}).")
        if row["ci_low"] > 0 or row["ci_high"] < 0:
            sentence += (" The CI excludes 0 but the rank test does not: a few seeds with large "
                         "differences carry the mean.")
        elif row["p_holm"] < stats.ALPHA:
            sentence += (" The rank test rejects but the CI includes 0: most seeds lean one way, "
                         "the size of the difference is too uncertain.")
        return sentence
    direction, gap = _gap(row)
    seeds = row["better"] if (direction == "lower") == metric.lower_is_better else row["worse"]
    return (f"Mean {metric.name} is {direction} with {arm} than with {baseline} by {gap} "
            f"(Holm-adjusted Wilcoxon p={fmt_p(row['p_holm'])}, {direction} on "
            f"{int(seeds)}/{n} seeds).")


def _success_sentences(success: pd.DataFrame, design: Design) -> list[str]:
    rates = ", ".join(f"{row[ARM]} {row['successes']}/{row['n']} ({row['rate']:.0%} "
                      f"[{row['ci_low']:.0%}, {row['ci_high']:.0%}])"
                      for _, row in success.iterrows() if row["n"])
    sentences = [f"Success ({design.success.describe()}): {rates}."]
    base = success.set_index(ARM).loc[design.baseline]
    for _, row in success.iloc[1:].iterrows():
        if row["ci_low"] > base["ci_high"] or row["ci_high"] < base["ci_low"]:
            direction = "higher" if row["rate"] > base["rate"] else "lower"
            sentences.append(f"The success rate is {direction} with {row[ARM]} than with "
                             f"{design.baseline} (their Wilson 95% intervals do not overlap).")
        else:
            sentences.append(f"No detectable difference in success rate between {row[ARM]} "
                             f"and {design.baseline} (their Wilson 95% intervals overlap).")
    return sentences


def _not_counted(outcomes: pd.DataFrame) -> list[str]:
    notes = []
    for outcome, what in ((Outcome.DIVERGED, "diverged: counted as failures in the success "
                                             "rates, left out of the metric statistics"),
                          (Outcome.CRASHED, "crashed (or were killed): left out of every "
                                            "statistic"),
                          (Outcome.RUNNING, "were still running: left out of every statistic")):
        total = int(outcomes[outcome].sum())
        if total:
            per_arm = ", ".join(f"{row[ARM]} {row[outcome]}" for _, row in outcomes.iterrows()
                                if row[outcome])
            notes.append(f"{total} run(s) {what} ({per_arm}; listed below).")
    return notes


def verdict(comparison: Comparison, design: Design) -> Verdict:
    """Sentences computed from the comparison's tables: a difference only where Holm p and the
    CI agree."""
    paired, success = comparison.paired, comparison.success
    if len(design.arms) < 2:
        answer = [f"One arm only ({design.arms[0]}): nothing to compare."]
    else:
        rows = paired[paired["metric"] == design.primary.name]
        answer = [_comparison_sentence(row, design.primary, design.baseline)
                  for _, row in rows.iterrows()]
    if success is not None:
        answer += _success_sentences(success, design)
    others, quiet = [], []
    for metric in design.metrics[1:]:
        rows = paired[paired["metric"] == metric.name]
        said = rows["detected"] | (rows["n"] < 2)
        others += [_comparison_sentence(row, metric, design.baseline)
                   for _, row in rows[said].iterrows()]
        if (~said).any():
            arms = f" ({', '.join(rows.loc[~said, ARM])})" if len(design.arms) > 2 else ""
            quiet.append(metric.name + arms)
    if quiet:
        others.append(f"No detectable difference from {design.baseline} in "
                      f"{', '.join(quiet)}.")
    return Verdict(" ".join(answer),
                   " ".join(answer + others + _not_counted(comparison.outcomes)))


def _brief(comparison: Comparison, design: Design) -> str:
    """The primary metric's verdict within one facet value, in a clause per finding."""
    rows = comparison.paired[comparison.paired["metric"] == design.primary.name]
    if rows.empty:
        return "one arm only"
    compared = rows[rows["n"] >= 2]
    found = compared[compared["detected"]]
    clauses = []
    for _, row in found.iterrows():
        direction, gap = _gap(row)
        clauses.append(f"{direction} with {row[ARM]} by {gap}")
    quiet = compared.loc[~compared["detected"], ARM]
    if len(quiet) == 1:
        clauses.append(f"no detectable difference with {quiet.iloc[0]}")
    elif len(quiet):
        clauses.append(f"no detectable difference with {'the' if clauses else 'any of the'} "
                       f"{len(quiet)}{' other' if clauses else ''} arms")
    if len(rows) > len(compared):
        clauses.append(f"{len(rows) - len(compared)} arm(s) with fewer than 2 seeds to pair")
    seeds = compared["n"].astype(int)
    counts = (f" (n={seeds.min()})" if seeds.min() == seeds.max() else
              f" (n={seeds.min()}–{seeds.max()})") if len(seeds) else ""
    return "; ".join(clauses) + counts


def answer(comparisons: list[Comparison], design: Design) -> str:
    """The report's one line: the verdict's answer; with a facet, the primary metric's verdict
    per facet value, a sentence each (the full verdicts are in the report)."""
    if design.facet is None:
        return verdict(comparisons[0], design).answer
    per_value = " ".join(f"{c.value}: {_brief(c, design)}." for c in comparisons)
    return (f"{design.primary.name} against {design.baseline}, within each {design.facet} "
            f"value. {per_value}")
