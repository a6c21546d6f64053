"""Statistics over seeds, on plain arrays: intervals, the paired comparison, Holm's correction,
robust summaries (IQM, probability of improvement) with bootstrap intervals, McNemar's exact
test, equivalence (two one-sided tests) and the seeds a comparison would need.

Robust summaries follow Agarwal et al. 2021 ("Deep reinforcement learning at the edge of the
statistical precipice"), computed with scipy.stats.bootstrap.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
# Resamples and the generator's seed of every bootstrap: a report's intervals are reproducible.
BOOTSTRAP_RESAMPLES = 5000
BOOTSTRAP_SEED = 0
# The fewest pairs at which a two-sided Wilcoxon signed-rank test can reach p < 0.05 (2/2**6):
# a difference is never claimed on fewer, whatever the t-test would say.
MIN_PAIRS_TO_CLAIM = 6
# Beyond this, "about N seeds" says nothing a reader can use.
MAX_SEEDS = 100_000


class Form(StrEnum):
    """How a comparison ends (nnlab.report.verdict words each one)."""

    BETTER = "better"  # Holm-adjusted p < 0.05 and the 95% CI excludes 0, the good way
    WORSE = "worse"
    EQUIVALENT = "equivalent"  # the 90% CI lies inside +-margin (two one-sided tests at 5%)
    INCONCLUSIVE = "inconclusive"  # a margin, but neither a difference nor equivalence
    BOUNDED = "bounded"  # no margin and no difference: the CI bounds the difference
    NOT_COMPARED = "not compared"  # fewer than two pairs


class Method(StrEnum):
    """How a bootstrap interval was made."""

    BCA = "BCa"
    PERCENTILE = "percentile"  # BCa was degenerate (constant values, a win on every seed)
    NONE = "none"  # fewer than two values: no interval


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: Method


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    ci_low: float
    ci_high: float
    median: float
    q1: float
    q3: float
    iqm: float = math.nan  # interquartile mean, with its bootstrap 95% CI
    iqm_low: float = math.nan
    iqm_high: float = math.nan
    iqm_method: str = Method.NONE


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
    sd: float = math.nan  # of the differences
    ci90_low: float = math.nan  # the 90% t-interval: two one-sided tests at 5%
    ci90_high: float = math.nan
    poi: float = math.nan  # probability of improvement: P(arm beats baseline, same seed)
    poi_low: float = math.nan
    poi_high: float = math.nan
    poi_method: str = Method.NONE


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


def summarize(values: npt.ArrayLike) -> Summary:
    """n, mean with its 95% CI, median and quartiles of the finite values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    mean, low, high = mean_ci(values)
    if len(values) == 0:
        return Summary(0, mean, low, high, math.nan, math.nan, math.nan)
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    interval = iqm_interval(values)
    return Summary(len(values), mean, low, high, float(median), float(q1), float(q3),
                   iqm(values), interval.low, interval.high, interval.method)


def _iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return stats.trim_mean(values, 0.25, axis=axis)


def iqm(values: np.ndarray) -> float:
    """The interquartile mean: the mean of the middle half, a quarter of the values cut at each
    end (scipy.stats.trim_mean at 0.25, as rliable computes it)."""
    values = np.asarray(values, dtype=float)
    return float(_iqm(values)) if len(values) else math.nan


def iqm_interval(values: np.ndarray) -> Interval:
    """The IQM's bootstrap 95% CI over seeds (see bootstrap_interval)."""
    return bootstrap_interval(values, _iqm)


def bootstrap_interval(values: np.ndarray, statistic: Callable[..., np.ndarray],
                       confidence: float = CONFIDENCE) -> Interval:
    """A bootstrap interval of a statistic over seeds: BCa, or the percentile interval where
    BCa is degenerate (every resample gives the same value, as when the values are constant or
    an arm wins on every seed); no interval below two values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return Interval(math.nan, math.nan, Method.NONE)
    for method in (Method.BCA, Method.PERCENTILE):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = stats.bootstrap((values,), statistic, n_resamples=BOOTSTRAP_RESAMPLES,
                                     confidence_level=confidence, method=str(method),
                                     vectorized=True, rng=np.random.default_rng(BOOTSTRAP_SEED))
        low, high = (float(v) for v in result.confidence_interval)
        degenerate = any(issubclass(w.category, stats.DegenerateDataWarning) for w in caught)
        if math.isfinite(low) and math.isfinite(high) and not degenerate:
            return Interval(low, high, method)
    # Every resample equal: the statistic cannot move.
    value = float(statistic(values))
    return Interval(value, value, Method.PERCENTILE)


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


def paired(arm: npt.ArrayLike, baseline: npt.ArrayLike, lower_is_better: bool) -> Paired:
    """Compare two arms seed by seed (values aligned by seed)."""
    differences = np.asarray(arm, dtype=float) - np.asarray(baseline, dtype=float)
    mean, low, high = mean_ci(differences)
    _, low90, high90 = mean_ci(differences, 1 - 2 * ALPHA)
    sign = -1 if lower_is_better else 1
    poi, poi_interval = probability_of_improvement(arm, baseline, lower_is_better)
    return Paired(len(differences), mean, low, high, wilcoxon_p(differences),
                  better=int((sign * differences > 0).sum()), ties=int((differences == 0).sum()),
                  worse=int((sign * differences < 0).sum()),
                  sd=float(differences.std(ddof=1)) if len(differences) > 1 else math.nan,
                  ci90_low=low90, ci90_high=high90, poi=poi, poi_low=poi_interval.low,
                  poi_high=poi_interval.high, poi_method=poi_interval.method)


def improvement_scores(arm: npt.ArrayLike, baseline: npt.ArrayLike,
                       lower_is_better: bool) -> np.ndarray:
    """Per seed: 1 where the arm beats the baseline, 1/2 where they tie, 0 where it loses."""
    differences = np.asarray(arm, dtype=float) - np.asarray(baseline, dtype=float)
    sign = -1 if lower_is_better else 1
    return (np.sign(sign * differences) + 1) / 2


def _mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(values, axis=axis)


def probability_of_improvement(arm: npt.ArrayLike, baseline: npt.ArrayLike,
                               lower_is_better: bool) -> tuple[float, Interval]:
    """The chance that the arm beats the baseline on the same seed, ties counted half, and its
    bootstrap 95% CI over seeds."""
    scores = improvement_scores(arm, baseline, lower_is_better)
    if len(scores) == 0:
        return math.nan, Interval(math.nan, math.nan, Method.NONE)
    return float(scores.mean()), bootstrap_interval(scores, _mean)


@dataclass(frozen=True)
class McNemar:
    """Success of an arm and of the baseline on the same seeds."""

    pairs: int  # seeds counted in both (finished or diverged)
    both: int  # seeds on which both succeed
    only_arm: int
    only_baseline: int
    neither: int
    p_value: float  # exact: binomial on the discordant seeds; 1 without any; NaN without pairs
    rate_difference: float  # arm's rate - baseline's, on these seeds
    ci_low: float  # Newcombe's 95% interval for a paired difference of proportions
    ci_high: float


def mcnemar(arm_success: np.ndarray, baseline_success: np.ndarray) -> McNemar:
    """McNemar's exact test: under no difference, each seed on which exactly one arm succeeds
    is equally likely to be either's (scipy.stats.binomtest on the discordant seeds)."""
    arm_success = np.asarray(arm_success, dtype=bool)
    baseline_success = np.asarray(baseline_success, dtype=bool)
    both = int((arm_success & baseline_success).sum())
    only_arm = int((arm_success & ~baseline_success).sum())
    only_baseline = int((~arm_success & baseline_success).sum())
    neither = int((~arm_success & ~baseline_success).sum())
    pairs = len(arm_success)
    discordant = only_arm + only_baseline
    if pairs == 0:
        p = math.nan
    elif discordant == 0:
        p = 1.0
    else:
        p = float(stats.binomtest(only_arm, discordant, 0.5).pvalue)
    difference, low, high = paired_rate_difference(both, only_arm, only_baseline, neither)
    return McNemar(pairs, both, only_arm, only_baseline, neither, p, difference, low, high)


def paired_rate_difference(both: int, only_first: int, only_second: int, neither: int,
                           confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The difference of two paired proportions and Newcombe's square-and-add interval (1998,
    with his continuity-corrected correlation): Wilson intervals of each rate, combined."""
    n = both + only_first + only_second + neither
    if n == 0:
        return math.nan, math.nan, math.nan
    first, second = (both + only_first) / n, (both + only_second) / n
    low1, high1 = wilson_interval(both + only_first, n, confidence)
    low2, high2 = wilson_interval(both + only_second, n, confidence)
    margins = [both + only_first, only_second + neither, both + only_second, only_first + neither]
    phi = 0.0
    if all(margins):
        cross = both * neither - only_first * only_second
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(math.prod(margins))
        elif cross < 0:
            phi = cross / math.sqrt(math.prod(margins))
    difference = first - second
    below = math.sqrt(max(0.0, (first - low1) ** 2 + (high2 - second) ** 2
                          - 2 * phi * (first - low1) * (high2 - second)))
    above = math.sqrt(max(0.0, (second - low2) ** 2 + (high1 - first) ** 2
                          - 2 * phi * (second - low2) * (high1 - first)))
    return difference, max(-1.0, difference - below), min(1.0, difference + above)


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


def equivalent(result: Paired, margin: float) -> bool:
    """Two one-sided tests at 5%: the 90% CI of the mean paired difference inside +-margin."""
    return bool(-margin < result.ci90_low and result.ci90_high < margin)


def _smallest_n(power: Callable[[int], float], target: float) -> int:
    """The smallest n >= 2 with power(n) >= target (power grows with n), capped past
    MAX_SEEDS."""
    high = 2
    while power(high) < target:
        if high > MAX_SEEDS:
            return MAX_SEEDS + 1
        high *= 2
    low = max(2, high // 2)
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if power(middle) < target else (low, middle)
    return low


def seeds_to_detect(difference: float, sd: float, alpha: float = ALPHA,
                    power: float = POWER) -> int:
    """Seeds per arm for the paired test to find a true mean difference `difference` (paired SD
    `sd`) with probability `power`: the normal approximation of the paired t-test,
    power(n) = Phi(|d| sqrt(n) / sd - t(1 - alpha/2, n - 1)), one comparison before Holm's
    correction; never fewer than a Wilcoxon test needs to claim anything."""
    if sd == 0:
        return MIN_PAIRS_TO_CLAIM
    if difference == 0:
        return MAX_SEEDS + 1
    effect = abs(difference) / sd

    def approximate(n: int) -> float:
        return float(stats.norm.cdf(effect * math.sqrt(n) - stats.t.ppf(1 - alpha / 2, n - 1)))

    return max(MIN_PAIRS_TO_CLAIM, _smallest_n(approximate, power))


def seeds_for_equivalence(difference: float, sd: float, margin: float, alpha: float = ALPHA,
                          power: float = POWER) -> int:
    """Seeds per arm for two one-sided tests at `alpha` to show equivalence within +-margin
    with probability `power` when the true mean difference is `difference` (|d| < margin) and
    the paired SD `sd`: the normal approximation with t quantiles,
    power(n) = Phi((m - d) / se - t) + Phi((m + d) / se - t) - 1, se = sd / sqrt(n),
    t = t(1 - alpha, n - 1)."""
    if abs(difference) >= margin:
        return MAX_SEEDS + 1
    if sd == 0:
        return 2

    def approximate(n: int) -> float:
        se, t = sd / math.sqrt(n), stats.t.ppf(1 - alpha, n - 1)
        return float(stats.norm.cdf((margin - difference) / se - t)
                     + stats.norm.cdf((margin + difference) / se - t) - 1)

    return _smallest_n(approximate, power)


@dataclass(frozen=True)
class Settled:
    """How a comparison ends, and for an inconclusive one what would settle it."""

    form: Form
    within_margin: bool  # the 90% CI inside +-margin (equivalent, or better/worse but small)
    seeds_needed: int  # inconclusive only: seeds per arm for 80% power; else 0
    settling_test: str  # "equivalence" or "difference" (inconclusive only); else ""


def settle(result: Paired, adjusted_p: float, lower_is_better: bool,
           margin: float | None) -> Settled:
    """better / worse where a difference is detected; else equivalent within the margin, or
    inconclusive with the seeds that would settle it (the equivalence test when the observed
    difference lies inside the margin, the paired test against 0 otherwise); bounded without a
    margin."""
    if result.n < 2:
        return Settled(Form.NOT_COMPARED, False, 0, "")
    within = margin is not None and equivalent(result, margin)
    if detected(result, adjusted_p):
        good = (result.mean_difference < 0) == lower_is_better
        return Settled(Form.BETTER if good else Form.WORSE, within, 0, "")
    if margin is None:
        return Settled(Form.BOUNDED, False, 0, "")
    if within:
        return Settled(Form.EQUIVALENT, True, 0, "")
    if abs(result.mean_difference) < margin:
        return Settled(Form.INCONCLUSIVE, False,
                       seeds_for_equivalence(result.mean_difference, result.sd, margin),
                       "equivalence")
    return Settled(Form.INCONCLUSIVE, False, seeds_to_detect(result.mean_difference, result.sd),
                   "difference")
