"""Numbers in hand-written prose: named placeholders, filled from what the report computes.

An analysis block's `answer`, `discussion` and `deviations` never type a measured number; they
name it:

    {median(test_accuracy) @ hidden=[3]}             an arm's statistic over its finished runs
    {diff(test_accuracy) @ hidden=[20]}              an arm against the baseline, seed by seed
    {rate @ relu}                                    an arm's success rate
    {median(test_mse) @ l1=0, l2=0 | n_train=16}     with a facet: within one facet value
    {param(lr)}                                      a setting every run shares
    {margin(test_accuracy)}                          a compared metric's declared margin

The arm is its label as the report writes it (the setup table's arms). Regenerating a report
on new runs refills every number; a placeholder that names a value the report does not compute
(an unknown statistic, arm, metric or facet value, or a value that is missing, say a median of
no runs) makes writing the report fail with a ReportError naming the experiment and the
placeholder. Write `{{` and `}}` for literal braces. The statistics (STATS below) are listed in
nnlab.report's docstring.
"""

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnlab.report import stats
from nnlab.report.analysis import ReportError
from nnlab.report.compare import ARM, Comparison, Design, value_text
from nnlab.report.runs import param_column
from nnlab.report.tuned import Tuning
from nnlab.report.verdict import fmt, fmt_p, fmt_points, fmt_rate, interval

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_CALL = re.compile(r"^([a-z_0-9]+)(?:\((.*)\))?$")
_CONDITION = re.compile(r"^([\w.]+)\s*(<=|>=|==|!=|<|>)\s*(-?[\d.e+\-]+)$")
_COMPARE = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}


class Missing(Exception):
    """A value the report does not compute, and why."""


@dataclass(frozen=True)
class Ref:
    """What a placeholder names, parsed."""

    stat: str
    argument: str | None
    arm: str | None
    facet_value: str | None
    facet_key: str | None = None  # as written: dataset.n_train, n_train, or none (the value)


def _number(value: float) -> str:
    if value is None or not math.isfinite(value):
        raise Missing("it is not a number here (no run has a value)")
    # A count of steps reads as one: 40000, not 4e+04.
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1000 else fmt(value)


def _count(value: float) -> str:
    return str(int(value))


def _signed(value: float) -> str:
    if not math.isfinite(value):
        raise Missing("it is not a number here (no pair has a value)")
    return fmt(value, sign=True)


def _span(low: float, high: float, sign: bool = False) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise Missing("it has no interval here (fewer than two values)")
    return interval(low, high, sign)


def _p(value: float) -> str:
    if not math.isfinite(value):
        raise Missing("there is no test here (fewer than two pairs)")
    return fmt_p(value)


def _points(value: float) -> str:
    if not math.isfinite(value):
        raise Missing("there is no rate difference here (no seed counted in both)")
    return fmt_points(value)


def _percent_change(value: float) -> str:
    if not math.isfinite(value):
        raise Missing("it is not a number here")
    return f"{100 * value:+.0f}%"


def _iris_loop(test_accuracies: np.ndarray) -> str:
    """What the iris tutorial's accuracy loop prints for runs of these test accuracies.

    As its text shows it, the loop adds one to both its `correct` and its `wrong` counter for
    every correctly classified test sample and counts nothing for a misclassified one (an
    `else:` seems to have been lost), then prints correct / (correct + wrong): 50% for any net
    that gets at least one sample right, 0/0 for one that gets none.
    """
    if not len(test_accuracies):
        raise Missing("no run has a test accuracy")
    undefined = int((test_accuracies <= 0).sum())
    if not undefined:
        return "50%"
    if undefined == len(test_accuracies):
        return "undefined (0/0)"
    return f"50% on {len(test_accuracies) - undefined} runs, undefined (0/0) on {undefined}"


# Per arm, over its finished runs: statistic name -> (values -> text).
ARM_STATS: dict[str, Callable[[np.ndarray], str]] = {
    "n": lambda v: str(len(v)),
    "mean": lambda v: _number(float(v.mean()) if len(v) else math.nan),
    "median": lambda v: _number(float(np.median(v)) if len(v) else math.nan),
    "min": lambda v: _number(float(v.min()) if len(v) else math.nan),
    "max": lambda v: _number(float(v.max()) if len(v) else math.nan),
    "q1": lambda v: _number(float(np.quantile(v, 0.25)) if len(v) else math.nan),
    "q3": lambda v: _number(float(np.quantile(v, 0.75)) if len(v) else math.nan),
    "iqm": lambda v: _number(stats.iqm(v)),
    "sd": lambda v: _number(float(v.std(ddof=1)) if len(v) > 1 else math.nan),
    "mean_ci": lambda v: _span(*stats.mean_ci(v)[1:]),
    "iqm_ci": lambda v: _span(*_bounds(stats.iqm_interval(v))),
    "iqr": lambda v: _span(*_quartiles(v)),
    "range": lambda v: _span(*((v.min(), v.max()) if len(v) else (math.nan, math.nan))),
    "iris_loop": _iris_loop,
}
# Per non-baseline arm and metric: a paired_table column -> text.
PAIRED_STATS: dict[str, Callable[[pd.Series], str]] = {
    "diff": lambda r: _signed(r["mean_difference"]),
    "abs_diff": lambda r: _number(abs(r["mean_difference"])),
    "diff_ci": lambda r: _span(r["ci_low"], r["ci_high"], sign=True),
    "diff_ci90": lambda r: _span(r["ci90_low"], r["ci90_high"], sign=True),
    "p": lambda r: _p(r["p_value"]),
    "p_holm": lambda r: _p(r["p_holm"]),
    "pairs": lambda r: _count(r["n"]),
    "better": lambda r: _count(r["better"]),
    "ties": lambda r: _count(r["ties"]),
    "worse": lambda r: _count(r["worse"]),
    "poi": lambda r: _number(r["poi"]),
    "poi_ci": lambda r: _span(r["poi_low"], r["poi_high"]),
    "verdict": lambda r: str(r["form"]),
    "seeds_needed": lambda r: _count(r["seeds_needed"]) if r["seeds_needed"] else _no_seeds(r),
}
# Per arm, of the success criterion.
SUCCESS_STATS = ("successes", "trials", "rate", "rate_ci")
# Per non-baseline arm, its success against the baseline's: a rate_table column -> text.
RATE_STATS: dict[str, Callable[[pd.Series], str]] = {
    "rate_diff": lambda r: _points(r["rate_difference"]),
    "rate_diff_ci": lambda r: f"[{_points(r['ci_low'])}, {_points(r['ci_high'])}]",
    "mcnemar_p": lambda r: _p(r["p_value"]),
    "mcnemar_p_holm": lambda r: _p(r["p_holm"]),
    "only_arm": lambda r: _count(r["only_arm"]),
    "only_baseline": lambda r: _count(r["only_baseline"]),
    "both_succeed": lambda r: _count(r["both"]),
    "rate_verdict": lambda r: str(r["form"]),
}
# Per arm and condition (`count(dead_units_frac>0)`), or a seed's value.
OTHER_STATS = ("count", "runs", "value", "median_change")
# Of a tuned sweep (analysis.tune): the value an arm's tuning runs chose.
TUNING_STATS = ("chosen",)
STATS = (*ARM_STATS, *PAIRED_STATS, *SUCCESS_STATS, *RATE_STATS, *OTHER_STATS, *TUNING_STATS,
         "param", "margin")


def _bounds(result: stats.Interval) -> tuple[float, float]:
    return result.low, result.high


def _quartiles(values: np.ndarray) -> tuple[float, float]:
    """The first and third quartiles; NaN without values."""
    if not len(values):
        return math.nan, math.nan
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return q1, q3


def _no_seeds(row: pd.Series) -> str:
    raise Missing(f"the comparison is {row['form']}, not inconclusive: no seed count")


def parse(content: str) -> Ref:
    """`STAT(ARGUMENT) @ ARM | FACET=VALUE`, each part after STAT optional."""
    left, _, right = (part.strip() for part in content.partition("@"))
    arm, _, facet = (part.strip() for part in right.partition("|"))
    match = _CALL.match(left)
    if not match or match[1] not in STATS:
        raise Missing(f"unknown statistic {left.split('(')[0]!r} (known: {', '.join(STATS)})")
    key, _, value = facet.rpartition("=")
    return Ref(match[1], match[2].strip() if match[2] else None, arm or None,
               value.strip() if facet else None, key.strip() or None)


class Values:
    """Every value a placeholder may name, looked up in a report's comparisons."""

    def __init__(self, design: Design, comparisons: list[Comparison], runs: pd.DataFrame,
                 tuning: Tuning | None = None):
        self.design, self.comparisons, self.runs, self.tuning = design, comparisons, runs, tuning

    def _comparison(self, ref: Ref) -> Comparison:
        if self.design.facet is None:
            if ref.facet_value is not None:
                raise Missing("the report has no facet")
            return self.comparisons[0]
        if ref.facet_key not in (None, self.design.facet, self.design.facet.rsplit(".", 1)[-1]):
            raise Missing(f"the facet is {self.design.facet}, not {ref.facet_key}")
        if ref.facet_value is None:
            values = ", ".join(c.facet_value for c in self.comparisons)
            raise Missing(f"name the {self.design.facet} value (`| {self.design.facet}=V`, V "
                          f"one of {values})")
        for comparison in self.comparisons:
            if comparison.value == ref.facet_value:
                return comparison
        raise Missing(f"{self.design.facet} has no value {ref.facet_value}")

    def _arm(self, ref: Ref, baseline_allowed: bool = True) -> str:
        if ref.arm is None:
            raise Missing("name the arm (`@ ARM`)")
        if ref.arm not in self.design.arms:
            raise Missing(f"no arm {ref.arm!r} (arms: {'; '.join(self.design.arms)})")
        if not baseline_allowed and ref.arm == self.design.baseline:
            raise Missing(f"{ref.arm} is the baseline: it is not compared with itself")
        return ref.arm

    def _column(self, frame: pd.DataFrame, expression: str | None) -> np.ndarray:
        """A metric's finite values, or the per-run difference of two (`train_accuracy-test_
        accuracy`), of the runs that meet a condition if one is given (`test_loss where
        test_loss>0.01`)."""
        if not expression:
            raise Missing("name the metric, e.g. median(test_loss)")
        expression, _, condition = (part.strip() for part in expression.partition(" where "))
        if condition:
            frame = frame[self._meets(frame, condition)]
        names = [name.strip() for name in expression.split("-")]
        for name in names:
            if name not in frame:
                raise Missing(f"the runs have no metric or param {name!r}")
        values = frame[names[0]].astype(float).to_numpy()
        for name in names[1:]:
            values = values - frame[name].astype(float).to_numpy()
        return values[np.isfinite(values)]

    def _paired_row(self, table: pd.DataFrame, metric: str | None, arm: str) -> pd.Series:
        if not metric:
            raise Missing("name the metric, e.g. diff(test_loss)")
        rows = table[(table["metric"] == metric) & (table[ARM] == arm)]
        if rows.empty:
            raise Missing(f"{metric} is not a compared metric "
                          f"(metrics: {', '.join(m.name for m in self.design.metrics)})")
        return rows.iloc[0]

    def text(self, ref: Ref) -> str:
        """The placeholder's value as the report writes it."""
        if ref.stat == "param":
            return self._param(ref)
        if ref.stat == "chosen":
            return self._chosen(ref)
        if ref.stat == "margin":
            margins = {metric.name: metric.margin for metric in self.design.metrics}
            if ref.argument is None or margins.get(ref.argument) is None:
                raise Missing(f"{ref.argument} is not a compared metric with a margin")
            return f"{margins[ref.argument]:g}"
        comparison = self._comparison(ref)
        if ref.stat in PAIRED_STATS:
            row = self._paired_row(comparison.paired, ref.argument, self._arm(ref, False))
            return PAIRED_STATS[ref.stat](row)
        if ref.stat in RATE_STATS or ref.stat in SUCCESS_STATS:
            return self._success(ref, comparison)
        arm = self._arm(ref)
        runs = comparison.runs[comparison.runs[ARM] == arm]
        if ref.stat == "runs":
            return str(len(runs))
        finished = comparison.finished[comparison.finished[ARM] == arm]
        if ref.stat == "count":
            return self._count(finished, ref.argument)
        if ref.stat == "value":
            return self._value(finished, ref.argument)
        if ref.stat == "median_change":
            baseline = comparison.finished[comparison.finished[ARM] == self.design.baseline]
            change = (np.median(self._column(finished, ref.argument))
                      / np.median(self._column(baseline, ref.argument)) - 1)
            return _percent_change(float(change))
        return ARM_STATS[ref.stat](self._column(finished, ref.argument))

    def _chosen(self, ref: Ref) -> str:
        if self.tuning is None:
            raise Missing("the analysis tunes nothing (no analysis.tune)")
        if ref.argument != self.tuning.tune.key:
            raise Missing(f"the sweep tunes {self.tuning.tune.key}, not {ref.argument}")
        return value_text(self.tuning.chosen[self._arm(ref)])

    def _param(self, ref: Ref) -> str:
        if self.tuning is not None and ref.argument == self.tuning.tune.key:
            return value_text(self.tuning.default)  # the tutorial's: the config's own value
        key = ref.argument and param_column(ref.argument)
        if not key or key not in self.runs:
            raise Missing(f"the runs have no param {key!r}")
        values = self.runs[key].drop_duplicates()
        if len(values) != 1:
            raise Missing(f"{key} is not the same in every run")
        return value_text(values.iloc[0])

    def _success(self, ref: Ref, comparison: Comparison) -> str:
        if comparison.success is None:
            raise Missing("the analysis sets no success criterion")
        if ref.stat in RATE_STATS:
            rates = comparison.rates
            # rate_table makes the rates with the success table: with a success criterion.
            assert rates is not None
            return RATE_STATS[ref.stat](rates[rates[ARM] == self._arm(ref, False)].iloc[0])
        row = comparison.success.set_index(ARM).loc[self._arm(ref)]
        # success_table has one row per arm: an arm's label finds its row, not a frame.
        assert isinstance(row, pd.Series)
        return {"successes": lambda: _count(row["successes"]), "trials": lambda: _count(row["n"]),
                "rate": lambda: fmt_rate(row["rate"]),
                "rate_ci": lambda: f"[{fmt_rate(row['ci_low'])}, {fmt_rate(row['ci_high'])}]",
                }[ref.stat]()

    def _meets(self, frame: pd.DataFrame, condition: str) -> np.ndarray:
        """Per run: whether it meets `METRIC<X` (or >, <=, >=, ==, !=), or each of several
        joined by ` and `; NaN never does."""
        if " and " in condition:
            parts = [self._meets(frame, part.strip()) for part in condition.split(" and ")]
            return np.logical_and.reduce(parts)
        match = _CONDITION.match(condition)
        if not match:
            raise Missing(f"{condition!r} is not a condition METRIC<X (or >, <=, >=, ==, !=)")
        if match[1] not in frame:
            raise Missing(f"the runs have no metric or param {match[1]!r}")
        return _COMPARE[match[2]](frame[match[1]].astype(float).to_numpy(), float(match[3]))

    def _count(self, finished: pd.DataFrame, condition: str | None) -> str:
        return str(int(self._meets(finished, condition or "").sum()))

    def _value(self, finished: pd.DataFrame, argument: str | None) -> str:
        metric, _, seed = (argument or "").partition(",")
        seed = seed.strip().removeprefix("seed=").strip()
        if not seed.isdigit():
            raise Missing("value(METRIC, seed=N) names a seed")
        value = self._column(finished[finished["seed"] == int(seed)], metric.strip())
        if not len(value):
            raise Missing(f"no finished run of seed {seed} in this arm has a value")
        return _number(float(value[0]))


def names(text: str) -> list[str]:
    """The placeholders in a text, as written."""
    return [match[1] for match in PLACEHOLDER.finditer(text) if match[1] is not None]


def fill(text: str, values: Values, where: str) -> str:
    """The text with every placeholder replaced by its value; ReportError names the first that
    the report does not compute."""

    def replace(match: re.Match) -> str:
        if match[1] is None:
            return match[0][0]
        try:
            return values.text(parse(" ".join(match[1].split())))
        except Missing as reason:
            raise ReportError(f"{where}: {{{match[1]}}} names a value the report does not "
                              f"compute: {reason}") from None

    return PLACEHOLDER.sub(replace, text)
