"""The verdict: the sentences that state a comparison's numbers (nnlab.report.compare), and the
report's computed key result.

Each comparison ends in one of stats.Form's forms, worded here: better / worse by X [CI] (the
Holm-adjusted Wilcoxon p < 0.05 AND the 95% CI excludes 0); equivalent within +-margin (two
one-sided tests at 5%: the 90% CI inside the margin); inconclusive, with the interval and about
how many seeds per arm would settle it; without a margin, the range of differences the data
rule out. With a success criterion the success rates lead: each arm's rate, McNemar's exact
test against the baseline on the seeds where they differ (Holm over the arms), then the primary
metric among the seeds on which both arms succeed; a rank test over a mixture of successes and
failures comes after, never first.
"""

import math
import re
from dataclasses import dataclass

import pandas as pd

from nnlab.report import stats
from nnlab.report.analysis import MetricSpec
from nnlab.report.compare import ARM, Comparison, Design
from nnlab.report.runs import Outcome
from nnlab.report.stats import Form

KEY_RESULT_LENGTH = 200
POWER_TEXT = f"{stats.POWER:.0%} power"


@dataclass(frozen=True)
class Verdict:
    lead: str  # the success rates (if any) and the primary metric
    sentences: tuple[str, ...]  # the lead's, the other metrics', what was not counted

    @property
    def paragraph(self) -> str:
        return " ".join(self.sentences)


def fmt(value: float, sign: bool = False) -> str:
    """Three significant digits; a dash for a missing number."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.3g}" if sign else f"{value:.3g}"


def fmt_p(p: float) -> str:
    return "—" if not math.isfinite(p) else f"{p:.2g}"


def fmt_rate(rate: float) -> str:
    return "—" if not math.isfinite(rate) else f"{rate:.0%}"


def fmt_points(difference: float, sign: bool = True) -> str:
    """A difference of two rates in percentage points: -55."""
    if not math.isfinite(difference):
        return "—"
    return f"{100 * difference:+.0f}" if sign else f"{100 * difference:.0f}"


def interval(low: float, high: float, sign: bool = False) -> str:
    return f"[{fmt(low, sign)}, {fmt(high, sign)}]"


def seeds_text(seeds: int) -> str:
    if seeds > stats.MAX_SEEDS:
        return f"more than {stats.MAX_SEEDS:,} seeds per arm"
    return f"about {seeds:,} seeds per arm"


def bootstrap_note(method: str) -> str:
    """What a reader must know about how a bootstrap interval was made."""
    notes: dict[str, str] = {stats.Method.PERCENTILE: " (percentile: BCa degenerate)",
                             stats.Method.NONE: " (fewer than 2 values)"}
    return notes.get(method, "")


def _gap(row: pd.Series) -> tuple[str, str]:
    """A paired_table row's difference: "lower" or "higher", and "0.3 [95% CI 0.29, 0.31]"."""
    lower = row["mean_difference"] < 0
    # The gap as a positive number, its interval turned the same way.
    low, high = (-row["ci_high"], -row["ci_low"]) if lower else (row["ci_low"], row["ci_high"])
    return ("lower" if lower else "higher",
            f"{fmt(abs(row['mean_difference']))} [95% CI {fmt(low)}, {fmt(high)}]")


def _poi(row: pd.Series) -> str:
    return (f"probability of improvement {fmt(row['poi'])} "
            f"{interval(row['poi_low'], row['poi_high'])}{bootstrap_note(row['poi_method'])}")


def _disagreement(row: pd.Series) -> str:
    """Where the rank test and the CI of the mean disagree, which way and why."""
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        return (" The CI excludes 0 but the rank test does not: a few seeds with large "
                "differences carry the mean.")
    if row["p_holm"] < stats.ALPHA:
        return (" The rank test rejects but the CI includes 0: most seeds lean one way, the "
                "size of the difference is too uncertain.")
    return ""


def comparison_sentence(row: pd.Series, metric: MetricSpec, baseline: str) -> str:
    """One paired_table row in words, by its form."""
    arm, n, name = row[ARM], int(row["n"]), metric.name
    form = row["form"]
    if form == Form.NOT_COMPARED:
        return (f"No comparison of {name} between {arm} and {baseline}: {n} seed(s) with a "
                "finished run in both.")
    p = f"Holm-adjusted Wilcoxon p={fmt_p(row['p_holm'])}"
    if form in (Form.BETTER, Form.WORSE):
        direction, gap = _gap(row)
        seeds = row["better"] if form == Form.BETTER else row["worse"]
        sentence = (f"{arm} is {form} than {baseline} in {name}: {direction} by {gap} ({p}; "
                    f"{direction} on {int(seeds)}/{n} seeds; {_poi(row)})")
        if row["within_margin"]:
            sentence += (f", less than the margin of ±{row['margin']:g} (90% CI "
                         f"{interval(row['ci90_low'], row['ci90_high'], sign=True)})")
        return sentence + "."
    if form == Form.EQUIVALENT:
        return (f"{arm} is equivalent to {baseline} in {name} within ±{row['margin']:g}: the "
                f"90% CI of the mean difference, "
                f"{interval(row['ci90_low'], row['ci90_high'], sign=True)}, lies inside the "
                f"margin (two one-sided tests at 5%, n={n}; mean difference "
                f"{fmt(row['mean_difference'], sign=True)}; {_poi(row)}).")
    bounds = interval(row["ci_low"], row["ci_high"], sign=True)
    if form == Form.INCONCLUSIVE:
        test = ("the equivalence test" if row["settling_test"] == "equivalence"
                else "the paired test against 0")
        return (f"{arm} against {baseline} in {name} is inconclusive at n={n}: the difference "
                f"lies in {bounds} (95% CI, {arm} − {baseline}; {p}), neither clear of 0 nor "
                f"inside ±{row['margin']:g}; {seeds_text(int(row['seeds_needed']))} would "
                f"settle it at {POWER_TEXT} ({test}).{_disagreement(row)}")
    return (f"{arm} against {baseline} in {name}: no difference detected at n={n} ({p}); the "
            f"data rule out differences beyond {bounds} (95% CI of {arm} − {baseline})."
            f"{_disagreement(row)}")


def _rates(success: pd.DataFrame) -> str:
    return ", ".join(f"{row[ARM]} {row['successes']}/{row['n']} ({fmt_rate(row['rate'])} "
                     f"[{fmt_rate(row['ci_low'])}, {fmt_rate(row['ci_high'])}])"
                     for _, row in success.iterrows() if row["n"])


def rate_sentence(row: pd.Series, baseline: str) -> str:
    """One rate_table row in words: McNemar's exact test and the difference of the rates."""
    arm, form = row[ARM], row["form"]
    if form == Form.NOT_COMPARED:
        return (f"No comparison of success between {arm} and {baseline}: {row['pairs']} "
                "seed(s) counted in both.")
    test = (f"of the {row['only_arm'] + row['only_baseline']} seed(s) on which exactly one "
            f"succeeds, {arm} alone on {row['only_arm']}, {baseline} alone on "
            f"{row['only_baseline']}: McNemar exact p={fmt_p(row['p_value'])}, Holm-adjusted "
            f"{fmt_p(row['p_holm'])}")
    bounds = f"[{fmt_points(row['ci_low'])}, {fmt_points(row['ci_high'])}]"
    if form == Form.BOUNDED:
        return (f"{arm} against {baseline} in success rate: no difference detected ({test}); "
                f"the data rule out rate differences beyond {bounds} points (95% CI, "
                "Newcombe).")
    return (f"{arm} succeeds {'more' if form == Form.BETTER else 'less'} often than {baseline}: "
            f"{fmt_points(row['rate_difference'])} points [95% CI {fmt_points(row['ci_low'])}, "
            f"{fmt_points(row['ci_high'])}] (Newcombe; {test}).")


def _among_successes(comparison: Comparison, design: Design) -> list[str]:
    """The primary metric compared among the seeds on which both arms succeed."""
    sentences = []
    # Asked with a success criterion only, with which comparisons() makes this table.
    assert comparison.among_successes is not None
    for _, row in comparison.among_successes.iterrows():
        n = int(row["n"])
        if n < 2:
            sentences.append(f"{design.primary.name} among the seeds on which both {row[ARM]} "
                             f"and {design.baseline} succeed: not compared ({n} such seed(s)).")
        else:
            sentences.append(f"Among the {n} seeds on which both succeed, "
                             + comparison_sentence(row, design.primary, design.baseline))
    return sentences


def _not_counted(outcomes: pd.DataFrame) -> list[str]:
    notes = []
    for outcome, what in ((Outcome.DIVERGED, "diverged: counted as failures in the success "
                                             "rates, left out of the metric statistics"),
                          (Outcome.CRASHED, "crashed (or were killed): left out of every "
                                            "statistic"),
                          (Outcome.LOST, "were lost (the process that ran them vanished): "
                                         "left out of every statistic"),
                          (Outcome.RUNNING, "were still running: left out of every statistic")):
        total = int(outcomes[outcome].sum())
        if total:
            per_arm = ", ".join(f"{row[ARM]} {row[outcome]}" for _, row in outcomes.iterrows()
                                if row[outcome])
            notes.append(f"{total} run(s) {what} ({per_arm}; listed below).")
    return notes


def _metric_sentences(comparison: Comparison, metric: MetricSpec, baseline: str) -> list[str]:
    rows = comparison.paired[comparison.paired["metric"] == metric.name]
    return [comparison_sentence(row, metric, baseline) for _, row in rows.iterrows()]


def verdict(comparison: Comparison, design: Design) -> Verdict:
    """Sentences computed from the comparison's tables."""
    if len(design.arms) < 2:
        lead = [f"One arm only ({design.arms[0]}): nothing to compare."]
        if comparison.success is not None:
            # success_table makes a table exactly when the design has a success criterion.
            assert design.success is not None
            lead.append(f"Success ({design.success.describe()}): {_rates(comparison.success)}.")
        others: list[str] = []
    elif comparison.rates is not None:
        # rate_table and success_table make their tables exactly when the design has a
        # success criterion.
        assert design.success is not None and comparison.success is not None
        lead = [f"Success ({design.success.describe()}): {_rates(comparison.success)}.",
                *(rate_sentence(row, design.baseline) for _, row in comparison.rates.iterrows()),
                *_among_successes(comparison, design)]
        primary = _metric_sentences(comparison, design.primary, design.baseline)
        others = [f"Over all seeds, successes and failures together, {primary[0]}", *primary[1:]]
    else:
        lead = _metric_sentences(comparison, design.primary, design.baseline)
        others = []
    for metric in design.metrics[1:] if len(design.arms) > 1 else ():
        others += _metric_sentences(comparison, metric, design.baseline)
    return Verdict(" ".join(lead), tuple(lead + others + _not_counted(comparison.outcomes)))


# The key result: the lead comparisons grouped by how they end, as short as it must be.
_GROUP_ORDER = (Form.WORSE, Form.BETTER, Form.EQUIVALENT, Form.INCONCLUSIVE, Form.BOUNDED,
                Form.NOT_COMPARED)
_RATE_WORDS = {Form.BETTER: "more often", Form.WORSE: "less often",
               Form.BOUNDED: "no rate difference detected", Form.NOT_COMPARED: "not compared"}


@dataclass(frozen=True)
class _Detail:
    """How much a key result says: numbers, arms in full or compact, arms or counts."""

    numbers: tuple[str, ...]  # the forms whose arms get their numbers
    compact: bool
    named: tuple[str, ...]  # the forms whose arms are named; the others are counted
    among: bool = True  # with a success criterion: the primary metric where both succeed


_ALL, _DECIDED = tuple(_GROUP_ORDER), (Form.WORSE, Form.BETTER)
_DETAILS = (_Detail(_ALL, False, _ALL), _Detail(_ALL, True, _ALL),
            _Detail(_DECIDED, True, _ALL), _Detail((), True, _ALL),
            _Detail((), True, _ALL, among=False), _Detail((), True, _DECIDED),
            _Detail((), True, _DECIDED, among=False), _Detail((), True, ()))


def _arm_name(arm: str, design: Design, detail: _Detail) -> str:
    """An arm in a list: compact if asked, in parentheses if it has commas of its own."""
    name = design.compact.get(arm, arm) if detail.compact else arm
    return f"({name})" if ", " in re.sub(r"\[[^\]]*\]", "", name) else name


def _group_words(form: Form, rows: pd.DataFrame, rates: bool, detail: _Detail) -> str:
    if rates:
        return _RATE_WORDS[form]
    if form == Form.EQUIVALENT:
        return f"equivalent within ±{rows['margin'].iloc[0]:g}"
    if form == Form.BOUNDED:
        return "no difference detected, within" if form in detail.numbers else (
            "no difference detected (bounds in the verdict)")
    return str(form)


def _arm_number(row: pd.Series, design: Design, rates: bool, detail: _Detail) -> str:
    """The decisive number of an arm's lead comparison."""
    if row["form"] not in detail.numbers:
        return ""
    if rates:
        holm = "" if len(design.arms) == 2 else ", Holm"
        return (f" (McNemar exact{holm} p={fmt_p(row['p_holm'])})"
                if row["form"] in (Form.BETTER, Form.WORSE) else "")
    if row["form"] in (Form.BETTER, Form.WORSE):
        return f" ({fmt(row['mean_difference'], sign=True)})"
    if row["form"] in (Form.BOUNDED, Form.INCONCLUSIVE):
        return f" {interval(row['ci_low'], row['ci_high'], sign=True)}"
    return ""


def _groups(rows: pd.DataFrame, design: Design, rates: bool, detail: _Detail) -> list[str]:
    groups = []
    for form in _GROUP_ORDER:
        members = rows[rows["form"] == form]
        if members.empty:
            continue
        if form in detail.named:
            arms = ", ".join(_arm_name(row[ARM], design, detail)
                             + _arm_number(row, design, rates, detail)
                             for _, row in members.iterrows())
        else:
            arms = f"{len(members)} arm{'s' if len(members) > 1 else ''}"
        groups.append(f"{_group_words(form, members, rates, detail)}: {arms}")
    return groups


def _key_part(comparison: Comparison, design: Design, detail: _Detail) -> str:
    if comparison.rates is None:
        rows = comparison.paired[comparison.paired["metric"] == design.primary.name]
        return "; ".join(_groups(rows, design, False, detail)) if len(rows) else "one arm only"
    parts = _groups(comparison.rates, design, True, detail)
    # The rates come with a success criterion, and with them comparisons() makes the success
    # table and the comparison among successes.
    assert comparison.success is not None and comparison.among_successes is not None
    if detail.numbers == _ALL:
        parts.insert(0, ", ".join(
            f"{_arm_name(row[ARM], design, detail)} {int(row['successes'])}/{int(row['n'])}"
            for _, row in comparison.success.iterrows()))
    among = comparison.among_successes
    compared = among[among["form"] != Form.NOT_COMPARED]
    if detail.among and len(compared):
        parts.append(f"{design.primary.name} where both succeed: "
                     + "; ".join(_groups(compared, design, False, detail)))
    elif detail.among and len(design.arms) == 2:
        parts.append("no seed succeeds in both")
    return "; ".join(parts)


def _key_head(design: Design, detail: _Detail) -> str:
    if design.success is not None:
        success = design.success
        criterion = f" ({success.criterion()})" if detail.numbers == _ALL else ""
        return f"{success.label}{criterion}, against {design.baseline}"
    return f"{design.primary.name} against {design.baseline}"


def key_result(comparisons: list[Comparison], design: Design) -> str:
    """The decisive numbers in at most KEY_RESULT_LENGTH characters: each arm's lead comparison
    with the baseline (its success rate and the primary metric where both succeed if there is a
    criterion, else the primary metric), grouped by how it ends; arms in fewer words, fewer
    numbers, then counts of arms, where the full text is longer. With a facet, values whose
    results read the same share a clause."""
    if len(design.arms) < 2:
        return f"One arm only ({design.arms[0]}): nothing to compare."
    text = ""
    for detail in _DETAILS:
        if design.facet is None:
            text = f"{_key_head(design, detail)}: {_key_part(comparisons[0], design, detail)}"
        else:
            parts: dict[str, list[str]] = {}
            for comparison in comparisons:
                parts.setdefault(_key_part(comparison, design, detail), []).append(
                    comparison.facet_value)
            facet = design.facet.rsplit(".", 1)[-1]
            text = f"{_key_head(design, detail)}, per {facet}. " + " ".join(
                f"{', '.join(values)}: {part}." for part, values in parts.items())
        if len(text) <= KEY_RESULT_LENGTH:
            return text
    return text[:KEY_RESULT_LENGTH - 1].rsplit(" ", 1)[0] + "…"
