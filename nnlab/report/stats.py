"""Statistics over seeds, on plain arrays: intervals, the paired comparison, Holm's correction."""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    ci_low: float
    ci_high: float
    median: float
    q1: float
    q3: float


@dataclass(frozen=True)
class Paired:
    n: int
    mean_difference: float  # arm - baseline
    ci_low: float
    ci_high: float
    p_value: float  # Wilcoxon signed-rank, two-sided; NaN with fewer than two pairs
    better: int  # seeds on which the arm beats the baseline
    ties: int
    worse: int


def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and its t-interval; the interval is NaN below two values."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    sem = float(values.std(ddof=1)) / math.sqrt(len(values))
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def summarize(values: np.ndarray) -> Summary:
    """n, mean with its 95% CI, median and quartiles of the finite values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    mean, low, high = mean_ci(values)
    if len(values) == 0:
        return Summary(0, mean, low, high, math.nan, math.nan, math.nan)
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return Summary(len(values), mean, low, high, float(median), float(q1), float(q3))


def wilson_interval(successes: int, n: int,
                    confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion: sound at 0/n and n/n, unlike the normal one."""
    if n == 0:
        return math.nan, math.nan
    interval = stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p; 1 when every difference is 0, NaN below two pairs."""
    differences = np.asarray(differences, dtype=float)
    if len(differences) < 2:
        return math.nan
    if not differences.any():
        # Identical arms: no evidence of a difference (scipy warns and divides 0 by 0 here).
        return 1.0
    # scipy's result classes are made at run time: their fields are unknown to the type checker.
    return float(stats.wilcoxon(differences).pvalue)  # pyright: ignore[reportAttributeAccessIssue]


def paired(arm: np.ndarray, baseline: np.ndarray, lower_is_better: bool) -> Paired:
    """Compare two arms seed by seed (values aligned by seed)."""
    differences = np.asarray(arm, dtype=float) - np.asarray(baseline, dtype=float)
    mean, low, high = mean_ci(differences)
    sign = -1 if lower_is_better else 1
    return Paired(len(differences), mean, low, high, wilcoxon_p(differences),
                  better=int((sign * differences > 0).sum()), ties=int((differences == 0).sum()),
                  worse=int((sign * differences < 0).sum()))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error); NaN entries stay NaN and do not count."""
    p = np.asarray(p_values, dtype=float)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    factors = len(order) - np.arange(len(order))
    adjusted = np.full(len(p), math.nan)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    return adjusted.tolist()


def detected(result: Paired, adjusted_p: float, alpha: float = ALPHA) -> bool:
    """A difference is claimed only if the adjusted p is below alpha AND the CI excludes 0."""
    return bool(adjusted_p < alpha and (result.ci_low > 0 or result.ci_high < 0))
