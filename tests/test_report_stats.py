"""The report's statistics, verdict and analysis blocks on hand-computed cases: no MLflow, no
runs."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from nnlab.report import compare, stats
from nnlab.report.analysis import (
    Analysis,
    Deviation,
    MetricSpec,
    ReportError,
    Success,
    experiment_file,
    parse_analysis,
    read_experiment,
)
from nnlab.report.plots import PLOTS
from nnlab.report.runs import outcome
from nnlab.report.verdict import Verdict, key_result, verdict


def test_mean_ci_matches_scipy_t_interval():
    values = np.array([0.3, 0.1, 0.4, 0.15, 0.9, 0.26])
    mean, low, high = stats.mean_ci(values)
    expected = scipy_stats.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                      scale=scipy_stats.sem(values))
    assert mean == pytest.approx(values.mean())
    assert (low, high) == pytest.approx(expected)


def test_mean_ci_of_one_value_has_no_interval():
    mean, low, high = stats.mean_ci(np.array([2.0]))
    assert mean == 2.0 and math.isnan(low) and math.isnan(high)


def test_wilson_interval_of_8_of_10_is_0490_to_0943():
    assert stats.wilson_interval(8, 10) == pytest.approx((0.490, 0.943), abs=5e-4)


def test_wilson_interval_of_0_of_20_starts_at_0_and_is_not_empty():
    low, high = stats.wilson_interval(0, 20)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.161, abs=5e-4)


def test_holm_adjusts_a_hand_example():
    # sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 -> kept monotone at 0.06
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])
    assert stats.holm([0.6]) == pytest.approx([0.6])


def test_holm_leaves_untested_comparisons_out_of_the_family():
    adjusted = stats.holm([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.04)


def test_paired_comparison_of_a_known_shift():
    baseline = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    arm = baseline - np.array([0.5, 1.0, 1.5, 1.0, 1.0])
    result = stats.paired(arm, baseline, lower_is_better=True)
    # differences -0.5, -1, -1.5, -1, -1: mean -1, sd sqrt(0.125), t(0.975, 4) = 2.776445
    half_width = 2.776445 * math.sqrt(0.125) / math.sqrt(5)
    assert result.n == 5 and result.mean_difference == pytest.approx(-1.0)
    assert (result.ci_low, result.ci_high) == pytest.approx((-1 - half_width, -1 + half_width))
    # scipy's result classes are made at run time: their fields are unknown to the type checker.
    assert result.p_value == pytest.approx(scipy_stats.wilcoxon(arm - baseline).pvalue)  # pyright: ignore[reportAttributeAccessIssue]
    assert (result.better, result.ties, result.worse) == (5, 0, 0)
    higher = stats.paired(arm, baseline, lower_is_better=False)
    assert (higher.better, higher.worse) == (0, 5)


def test_wilcoxon_of_identical_arms_is_1_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = stats.paired(np.ones(6), np.ones(6), lower_is_better=True)
    assert result.p_value == 1.0 and result.ties == 6 and result.mean_difference == 0


def test_paired_comparison_below_two_pairs_has_no_p_value():
    for n in (0, 1):
        result = stats.paired(np.ones(n), np.zeros(n), lower_is_better=True)
        assert result.n == n and math.isnan(result.p_value) and math.isnan(result.ci_low)


def test_a_difference_is_claimed_only_if_holm_p_and_the_ci_agree():
    below_zero = stats.Paired(10, -1.0, -1.5, -0.5, 0.002, 10, 0, 0)
    straddling = stats.Paired(10, -1.0, -2.0, 0.1, 0.002, 9, 0, 1)
    assert stats.detected(below_zero, adjusted_p=0.01)
    assert not stats.detected(below_zero, adjusted_p=0.06)  # Holm made it too weak
    assert not stats.detected(straddling, adjusted_p=0.01)  # the CI does not exclude 0


def test_a_failed_run_diverged_if_its_tags_say_so_and_crashed_otherwise():
    assert outcome("FAILED", {"nnlab.diverged_at": "12"}) == "diverged"
    # Logged before nnlab.diverged_at existed: only the failure message says it.
    assert outcome("FAILED", {"nnlab.failure": "diverged at step 5"}) == "diverged"
    assert outcome("FAILED", {"nnlab.failure": "ValueError: x"}) == "crashed"


def _runs(values: dict[str, list[float]], outcomes: dict[str, list[str]] | None = None):
    """A per-run table as load_runs gives it, for arms of `activation`."""
    rows = []
    for arm, arm_values in values.items():
        for seed, value in enumerate(arm_values):
            outcome = (outcomes or {}).get(arm, ["finished"] * len(arm_values))[seed]
            rows.append({"run_id": f"{arm}-{seed}", "seed": seed, "activation": arm,
                         "outcome": outcome, "test_loss": value})
    return pd.DataFrame(rows).astype({"seed": "Int64", "activation": "string"})


def _verdict(runs: pd.DataFrame, **analysis) -> tuple[Verdict, pd.DataFrame, pd.DataFrame | None]:
    design, runs = compare.resolve(runs, Analysis(arm=("activation",), **analysis))
    (comparison,) = compare.comparisons(runs, design)
    return verdict(comparison, design), comparison.paired, comparison.success


def test_verdict_states_a_consistent_difference_with_its_ci_p_and_seeds():
    rng = np.random.default_rng(0)
    relu = rng.normal(1.0, 0.1, 10)
    verdict, paired, _ = _verdict(_runs({"relu": list(relu), "tanh": list(relu - 0.5)}),
                                  baseline="relu")
    row = paired.iloc[0]
    assert row["detected"] and row["better"] == 10 and row["form"] == "better"
    assert verdict.lead == (f"tanh is better than relu in test_loss: lower by 0.5 [95% CI 0.5, "
                            f"0.5] (Holm-adjusted Wilcoxon p={row['p_holm']:.2g}; lower on 10/10 "
                            "seeds; probability of improvement 1 [1, 1] (percentile: BCa "
                            "degenerate)).")


def test_verdict_bounds_the_difference_when_the_rank_test_does_not_reject():
    # One huge gain carries the mean; the seeds themselves go both ways.
    verdict, paired, _ = _verdict(_runs({"relu": [1, 1, 1, 1, 1, 1],
                                         "tanh": [0.0, 1.1, 0.9, 1.1, 0.9, 1.05]}))
    row = paired.iloc[0]
    assert not row["detected"] and row["form"] == "bounded"
    assert verdict.lead.startswith(
        "tanh against relu in test_loss: no difference detected at n=6 (Holm-adjusted Wilcoxon "
        f"p={row['p_holm']:.2g}); the data rule out differences beyond [{row['ci_low']:+.3g}, "
        f"{row['ci_high']:+.3g}] (95% CI of tanh − relu).")
    assert "no detectable difference" not in verdict.paragraph.lower()


def test_holm_runs_over_the_arms_compared_with_the_baseline():
    base = list(np.linspace(1, 2, 8))
    _, paired, _ = _verdict(_runs({"a": base, "b": [v - 0.3 for v in base],
                                   "c": [v + 0.01 * (-1) ** i for i, v in enumerate(base)]}))
    assert list(paired["arm"]) == ["b", "c"]
    assert list(paired["p_holm"]) == pytest.approx(stats.holm(list(paired["p_value"])))


def test_success_rate_counts_a_diverged_run_as_a_failure():
    runs = _runs({"relu": [0.001] * 8 + [0.5, math.nan]},
                 {"relu": ["finished"] * 9 + ["diverged"]})
    verdict, _, success = _verdict(runs, success=Success("test_loss", 0.01, True, "fit"))
    assert success is not None
    row = success.iloc[0]
    assert (row["successes"], row["n"]) == (8, 10)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.490, 0.943), abs=5e-4)
    assert "relu 8/10 (80% [49%, 94%])" in verdict.lead
    assert "1 run(s) diverged" in verdict.paragraph


def _faceted(per_value: dict[int, dict[str, list[float]]]) -> pd.DataFrame:
    """Runs of activation arms at several values of dataset.n_train, the same seeds in each."""
    runs = pd.concat([_runs(values).assign(**{"dataset.n_train": n})
                      for n, values in per_value.items()], ignore_index=True)
    runs["run_id"] += "-n" + runs["dataset.n_train"].astype(str)
    return runs.astype({"dataset.n_train": "Int64"})


def test_a_facet_compares_the_arms_within_each_value_and_answers_per_value():
    base = list(np.linspace(1, 2, 8))
    shifted = [v - 0.3 + 0.01 * (-1) ** i for i, v in enumerate(base)]
    wobbly = [v + 0.01 * (-1) ** i for i, v in enumerate(base)]
    runs = _faceted({128: {"relu": base, "tanh": wobbly, "sigmoid": wobbly},
                     16: {"relu": base, "tanh": shifted, "sigmoid": wobbly}})
    design, runs = compare.resolve(runs, Analysis(arm=("activation",), facet="dataset.n_train"))
    small, large = compare.comparisons(runs, design)
    assert (small.title, large.short_title) == ("dataset.n_train = 16", "n_train = 128")
    assert list(small.paired["n"]) == [8, 8] and list(small.metrics["n"]) == [8, 8, 8]
    # Holm runs over the arms of one facet value, not over every value's arms.
    assert list(small.paired["p_holm"]) == pytest.approx(stats.holm(list(
        small.paired["p_value"])))
    assert list(small.paired["detected"]) == [False, True]
    assert not large.paired["detected"].any()
    sigmoid, tanh = small.paired.iloc[0], small.paired.iloc[1]
    # With every bound it would be 224 characters: the bounds go, the decided difference stays.
    assert key_result([small, large], design) == (
        f"test_loss against relu, per n_train. 16: better: tanh ({tanh['mean_difference']:+.3g})"
        "; no difference detected (bounds in the verdict): sigmoid. 128: no difference detected "
        "(bounds in the verdict): sigmoid, tanh.")
    assert f"[{sigmoid['ci_low']:+.3g}, {sigmoid['ci_high']:+.3g}]" in verdict(
        small, design).lead
    assert verdict(small, design).lead.startswith("sigmoid against relu in test_loss: no "
                                                  "difference detected at n=8")


def test_arm_detection_leaves_the_facet_out():
    runs = _faceted({16: {"relu": [1, 2], "tanh": [1, 2]}, 32: {"relu": [1, 2], "tanh": [1, 2]}})
    assert compare.detect_arm_keys(runs) == ["activation", "dataset.n_train"]
    assert compare.detect_arm_keys(runs, "dataset.n_train") == ["activation"]
    design, _ = compare.resolve(runs, Analysis(facet="dataset.n_train"))
    assert design.arm_keys == ("activation",) and design.facet == "dataset.n_train"


@pytest.mark.parametrize(("analysis", "needle"), [
    (Analysis(facet="dataset.n_trian"), "facet dataset.n_trian is not a param of these runs"),
    (Analysis(arm=("activation", "dataset.n_train"), facet="dataset.n_train"),
     "dataset.n_train is both the facet and an arm key"),
])
def test_a_facet_that_cannot_split_the_runs_is_an_error(analysis, needle):
    runs = _faceted({16: {"relu": [1, 2], "tanh": [1, 2]}})
    with pytest.raises(ReportError, match=needle):
        compare.resolve(runs, analysis)


def test_arm_detection_skips_seed_and_keys_that_follow_another():
    runs = _runs({"relu": [1, 2], "sigmoid": [1, 2]})
    runs["output"] = runs["activation"]
    runs["lr"] = 0.1
    assert compare.detect_arm_keys(runs) == ["activation"]


def test_a_baseline_that_is_not_an_arm_is_an_error_naming_the_arms():
    with pytest.raises(ReportError, match="arms: relu, sigmoid"):
        compare.resolve(_runs({"relu": [1], "sigmoid": [2]}),
                        Analysis(arm=("activation",), baseline="tanh"))


def test_analysis_block_fills_in_defaults_and_reads_metric_directions():
    analysis = parse_analysis({"arm": "lr", "metrics": ["test_accuracy",
                                                        {"name": "steps",
                                                         "lower_is_better": False}]})
    assert analysis.arm == ("lr",)
    assert analysis.metrics == (MetricSpec("test_accuracy", False), MetricSpec("steps", False))
    assert analysis.plots == ("distributions", "training_curves", "paired_differences")


def test_deviations_are_read_in_order_their_whitespace_folded():
    analysis = parse_analysis({"deviations": [
        {"what": "test set", "why": "1000 points,\n  not 200"},
        {"what": "length", "why": "the tutorial's"}]})
    assert analysis.deviations == (Deviation("test set", "1000 points, not 200"),
                                   Deviation("length", "the tutorial's"))
    assert parse_analysis({}).deviations == ()


@pytest.mark.parametrize(("block", "needle"), [
    ({"metric": ["test_loss"]}, "unknown key metric"),
    ({"success": {"metric": "test_loss"}}, "analysis.success"),
    ({"success": {"metric": "test_loss", "below": "low"}}, "not a number"),
    ({"metrics": "test_loss"}, "analysis.metrics"),
    ({"facet": ["dataset.n_train", "lr"]}, "analysis.facet: .* is not a param name"),
    ({"arm": ["l1", "l2"], "facet": "l2"}, "analysis.facet: l2 is also in analysis.arm"),
    ({"deviations": {"what": "length", "why": "cost"}},
     r"analysis.deviations: .* is not a list of \{what: TEXT, why: TEXT\}"),
    ({"deviations": [{"what": "length"}]},
     r"analysis.deviations: \{'what': 'length'\} is not \{what: TEXT, why: TEXT\}"),
    ({"deviations": [{"what": "length", "why": " "}]}, "analysis.deviations: .* is not"),
    ({"deviations": [{"what": "length", "why": "cost", "when": "now"}]},
     "analysis.deviations: .* is not"),
])
def test_a_bad_analysis_block_is_an_error_naming_the_key(block, needle):
    with pytest.raises(ReportError, match=needle):
        parse_analysis(block)


@pytest.mark.parametrize("path", sorted(experiment_file("x").parent.glob("*.yaml")),
                         ids=lambda path: path.stem)
def test_every_experiment_file_has_an_analysis_block_the_report_can_make(path):
    found = read_experiment(path.stem)
    assert found is not None
    experiment, analysis = found
    assert experiment and analysis.source == f"experiments/{path.name}"
    assert set(analysis.plots) <= set(PLOTS), set(analysis.plots) - set(PLOTS)
