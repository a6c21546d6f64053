"""The verdict forms, the robust summaries and the named numbers of hand-written prose, on
constructed runs and on the committed runs.csv of every experiment: no MLflow."""

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from nnlab.report import compare, markdown, placeholders, stats, tuned
from nnlab.report.analysis import (
    Analysis,
    Answer,
    MetricSpec,
    ReportError,
    Success,
    experiment_names,
    parse_analysis,
    parse_success,
    read_experiment,
)
from nnlab.report.build import check_declared_verdict, fill_texts
from nnlab.report.runs import param_column, param_dtypes
from nnlab.report.verdict import KEY_RESULT_LENGTH, key_result, verdict

ROOT = Path(__file__).resolve().parent.parent
FITS = Success("test_loss", 0.01, True, "fits")


def _runs(values: dict[str, list[float]], key: str = "activation") -> pd.DataFrame:
    """A per-run table as load_runs gives it: arms of `key`, seeds 0, 1, ... in each."""
    rows = [{"run_id": f"{arm}-{seed}", "seed": seed, key: arm, "outcome": "finished",
             "test_loss": value, "lr": 0.1}
            for arm, arm_values in values.items() for seed, value in enumerate(arm_values)]
    return pd.DataFrame(rows).astype({"seed": "Int64", key: "string"})


def _compared(runs: pd.DataFrame, **analysis) -> tuple[compare.Design, compare.Comparison]:
    design, runs = compare.resolve(runs, Analysis(**{"arm": ("activation",), **analysis}))
    (comparison,) = compare.comparisons(runs, design)
    return design, comparison


def _row(comparison: compare.Comparison, arm: str, metric: str = "test_loss") -> pd.Series:
    paired = comparison.paired
    return paired[(paired["metric"] == metric) & (paired["arm"] == arm)].iloc[0]


# Robust summaries against hand computations.

def test_iqm_is_the_mean_of_the_middle_half():
    # 8 values: a quarter (2) cut at each end, the outlier 100 among them.
    assert stats.iqm(np.array([100, 1, 2, 3, 4, 5, 6, 7.0])) == pytest.approx((3 + 4 + 5 + 6) / 4)
    # 20 values: 5 cut at each end.
    assert stats.iqm(np.arange(20.0)) == pytest.approx(np.arange(5, 15).mean())


def test_iqm_interval_is_scipys_bca_bootstrap_of_the_trimmed_mean():
    values = np.random.default_rng(3).normal(size=20)
    expected = scipy_stats.bootstrap(
        (values,), lambda v, axis: scipy_stats.trim_mean(v, 0.25, axis=axis),
        n_resamples=stats.BOOTSTRAP_RESAMPLES, method="BCa",
        rng=np.random.default_rng(stats.BOOTSTRAP_SEED)).confidence_interval
    interval = stats.iqm_interval(values)
    assert interval.method == "BCa"
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high))
    assert interval.low < stats.iqm(values) < interval.high


def test_probability_of_improvement_counts_a_tie_as_half():
    baseline = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    arm = np.array([0.5, 0.9, 0.8, 1.0, 1.2])  # lower is better: 3 wins, 1 tie, 1 loss
    poi, interval = stats.probability_of_improvement(arm, baseline, lower_is_better=True)
    assert poi == pytest.approx((3 + 0.5) / 5)
    assert 0 <= interval.low <= poi <= interval.high <= 1
    higher, _ = stats.probability_of_improvement(arm, baseline, lower_is_better=False)
    assert higher == pytest.approx((1 + 0.5) / 5)


def test_a_win_on_every_seed_gets_the_percentile_interval_never_a_nan():
    poi, interval = stats.probability_of_improvement(np.zeros(20), np.ones(20), True)
    assert poi == 1.0 and (interval.low, interval.high) == (1.0, 1.0)
    assert interval.method == "percentile"
    constant = stats.summarize(np.full(20, 0.5))
    assert (constant.iqm, constant.iqm_low, constant.iqm_high) == (0.5, 0.5, 0.5)
    assert constant.iqm_method == "percentile"


def test_a_percentile_interval_is_marked_in_the_report_and_says_why():
    design, comparison = _compared(_runs({"relu": [1.0] * 8, "tanh": [0.5] * 8}))
    assert "(percentile: BCa degenerate)" in verdict(comparison, design).lead
    cells = markdown.paired_rows(comparison.paired)
    assert cells[0][8] == f"1 [1, 1]{markdown.PERCENTILE_MARK}"
    assert markdown.PERCENTILE_NOTE in markdown.paired_section(comparison, design)


# Rates: McNemar's exact test and Newcombe's interval.

def test_mcnemar_exact_p_is_the_binomial_test_of_the_discordant_seeds():
    arm = np.array([True] * 3 + [False] * 9 + [True] * 8)
    baseline = np.array([False] * 3 + [True] * 9 + [True] * 8)
    result = stats.mcnemar(arm, baseline)
    assert (result.both, result.only_arm, result.only_baseline, result.neither) == (8, 3, 9, 0)
    # Two-sided: twice P(X <= 3), X ~ Binomial(12, 1/2).
    assert result.p_value == pytest.approx(2 * sum(math.comb(12, k) for k in range(4)) / 2**12)
    assert stats.mcnemar(np.ones(5, bool), np.ones(5, bool)).p_value == 1.0


def test_newcombe_interval_of_a_paired_difference_matches_the_published_example():
    # Fagerland, Lydersen & Laake, "Statistical analysis of contingency tables", ch. 8
    # (Cavo et al. 2012): -0.0621 (95% CI -0.1186 to -0.0046).
    difference, low, high = stats.paired_rate_difference(59, 6, 16, 80)
    assert (difference, low, high) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


# The verdict forms.

def _split() -> pd.DataFrame:
    """ReLU fits 11 of 20 seeds and sits on a plateau on 9; sigmoid fits none, all alike."""
    relu = [0.001 + 0.0001 * i for i in range(11)] + [0.136, 0.136, 0.364, 0.5, 0.5, 0.136,
                                                      0.364, 0.5, 0.136]
    sigmoid = [0.036 + 0.0001 * i for i in range(20)]
    return _runs({"relu": relu, "sigmoid": sigmoid})


def test_a_split_outcome_is_led_by_the_success_rates_and_mcnemars_exact_test():
    design, comparison = _compared(_split(), baseline="relu", success=FITS)
    assert comparison.rates is not None
    rates = comparison.rates.iloc[0]
    assert (rates["only_arm"], rates["only_baseline"], rates["form"]) == (0, 11, "worse")
    assert rates["p_value"] == pytest.approx(2 * 0.5**11)
    result = verdict(comparison, design)
    assert result.lead.startswith("Success (fits: test_loss < 0.01): relu 11/20 (55% [34%, "
                                  "74%]), sigmoid 0/20 (0% [0%, 16%]). sigmoid succeeds less "
                                  "often than relu: -55 points [95% CI ")
    assert "McNemar exact p=0.00098, Holm-adjusted 0.00098" in result.lead
    assert "not compared (0 such seed(s))" in result.lead  # no seed fits with both
    # The rank test over the mixture comes after the rates, never first.
    assert "Wilcoxon" not in result.lead
    assert result.paragraph.index("Over all seeds") > result.paragraph.index("McNemar")
    assert compare.lead_forms(comparison, design) == {"sigmoid": "worse"}
    assert key_result([comparison], design) == (
        "fits (test_loss < 0.01), against relu: relu 11/20, sigmoid 0/20; less often: sigmoid "
        "(McNemar exact p=0.00098); no seed succeeds in both")


def test_the_metric_is_compared_among_the_seeds_that_succeed_in_both_arms():
    relu = [0.001] * 6 + [0.5] * 4
    tanh = [0.002] * 4 + [0.5] * 2 + [0.003] * 4  # seeds 0-3 fit in both arms
    design, comparison = _compared(_runs({"relu": relu, "tanh": tanh}), baseline="relu",
                                   success=FITS)
    assert comparison.among_successes is not None
    among = comparison.among_successes.iloc[0]
    assert among["n"] == 4 and among["mean_difference"] == pytest.approx(0.001)
    assert "Among the 4 seeds on which both succeed, tanh" in verdict(comparison, design).lead


def test_a_clear_difference_is_better_or_worse_by_x_with_its_ci():
    rng = np.random.default_rng(0)
    base = rng.normal(1.0, 0.1, 12)
    design, comparison = _compared(_runs({"relu": list(base), "tanh": list(base + 0.3)}),
                                   baseline="relu")
    row = _row(comparison, "tanh")
    assert row["form"] == "worse" and not row["within_margin"]
    assert verdict(comparison, design).lead.startswith(
        "tanh is worse than relu in test_loss: higher by 0.3 [95% CI 0.3, 0.3]")


def test_better_and_inside_the_margin_says_both():
    rng = np.random.default_rng(1)
    base = rng.normal(1.0, 0.1, 20)
    arm = base - 0.01 + rng.normal(0, 0.002, 20)
    design, comparison = _compared(_runs({"relu": list(base), "tanh": list(arm)}),
                                   baseline="relu",
                                   metrics=(MetricSpec("test_loss", True, 0.05),))
    row = _row(comparison, "tanh")
    assert row["form"] == "better" and row["within_margin"]
    lead = verdict(comparison, design).lead
    assert lead.startswith("tanh is better than relu in test_loss: lower by 0.01")
    assert ", less than the margin of ±0.05 (90% CI [" in lead


def test_a_difference_inside_the_margin_is_an_equivalence():
    rng = np.random.default_rng(2)
    base = rng.normal(0.9, 0.02, 20)
    arm = base + rng.normal(0, 0.004, 20)
    design, comparison = _compared(_runs({"relu": list(base), "tanh": list(arm)}),
                                   baseline="relu",
                                   metrics=(MetricSpec("test_loss", True, 0.01),))
    row = _row(comparison, "tanh")
    assert row["form"] == "equivalent" and -0.01 < row["ci90_low"] < row["ci90_high"] < 0.01
    assert verdict(comparison, design).lead.startswith(
        "tanh is equivalent to relu in test_loss within ±0.01: the 90% CI of the mean "
        "difference, [")
    assert key_result([comparison], design) == (
        "test_loss against relu: equivalent within ±0.01: tanh")


def _simulated_power(difference: float, sd: float, n: int, settled, repeats: int = 2000) -> float:
    """The share of simulated sweeps of n seeds, paired differences ~ N(difference, sd), that
    `settled(mean, half-width of the 95% CI, half-width of the 90% CI)` says are settled."""
    rng = np.random.default_rng(12)
    draws = rng.normal(difference, sd, (repeats, n))
    means, se = draws.mean(axis=1), draws.std(axis=1, ddof=1) / math.sqrt(n)
    return float(settled(means, scipy_stats.t.ppf(0.975, n - 1) * se,
                         scipy_stats.t.ppf(0.95, n - 1) * se).mean())


def test_an_inconclusive_equivalence_names_the_seeds_that_would_settle_it_and_they_do():
    rng = np.random.default_rng(4)
    base = rng.normal(0.9, 0.03, 20)
    arm = base + 0.002 + rng.normal(0, 0.06, 20)
    margin = 0.02
    design, comparison = _compared(_runs({"relu": list(base), "tanh": list(arm)}),
                                   baseline="relu",
                                   metrics=(MetricSpec("test_loss", True, margin),))
    row = _row(comparison, "tanh")
    assert row["form"] == "inconclusive" and row["settling_test"] == "equivalence"
    assert abs(row["mean_difference"]) < margin
    seeds = int(row["seeds_needed"])
    assert seeds > 20
    lead = verdict(comparison, design).lead
    assert f"about {seeds} seeds per arm would settle it at 80% power (the equivalence test)" in (
        lead)
    assert lead.startswith("tanh against relu in test_loss is inconclusive at n=20: the "
                           "difference lies in [")
    # Sweeps of that many seeds, with the observed difference and SD, show equivalence (the 90%
    # CI inside the margin) about 80% of the time.
    power = _simulated_power(row["mean_difference"], row["sd"], seeds,
                             lambda m, _, h90: (m - h90 > -margin) & (m + h90 < margin))
    assert 0.72 <= power <= 0.88, power


def test_an_inconclusive_difference_names_the_seeds_the_paired_test_needs_and_they_do():
    rng = np.random.default_rng(5)
    base = rng.normal(0.9, 0.05, 20)
    arm = base + 0.03 + rng.normal(0, 0.12, 20)
    design, comparison = _compared(_runs({"relu": list(base), "tanh": list(arm)}),
                                   baseline="relu",
                                   metrics=(MetricSpec("test_loss", True, 0.01),))
    row = _row(comparison, "tanh")
    assert row["form"] == "inconclusive" and row["settling_test"] == "difference"
    seeds = int(row["seeds_needed"])
    assert "(the paired test against 0)" in verdict(comparison, design).lead
    # The paired t-test at 5% rejects 0 about 80% of the time with that many seeds.
    power = _simulated_power(row["mean_difference"], row["sd"], seeds,
                             lambda m, h95, _: (m - h95 > 0) | (m + h95 < 0))
    assert 0.72 <= power <= 0.88, power


@pytest.mark.parametrize(("difference", "sd"), [(0.5, 1.0), (0.2, 1.0), (0.01, 0.026)])
def test_seeds_for_80_percent_power_match_a_simulated_paired_t_test(difference, sd):
    seeds = stats.seeds_to_detect(difference, sd)
    power = _simulated_power(difference, sd, seeds,
                             lambda m, h95, _: (m - h95 > 0) | (m + h95 < 0))
    assert 0.72 <= power <= 0.88, (seeds, power)


@pytest.mark.parametrize(("difference", "sd", "margin"), [(0.0, 1.0, 0.5), (0.2, 1.0, 0.5),
                                                          (0.00075, 0.0259, 0.01)])
def test_seeds_for_equivalence_match_simulated_two_one_sided_tests(difference, sd, margin):
    seeds = stats.seeds_for_equivalence(difference, sd, margin)
    power = _simulated_power(difference, sd, seeds,
                             lambda m, _, h90: (m - h90 > -margin) & (m + h90 < margin))
    assert 0.72 <= power <= 0.88, (seeds, power)


def test_without_a_margin_the_data_bound_the_difference_and_never_just_say_no_difference():
    rng = np.random.default_rng(6)
    base = rng.normal(0.9, 0.03, 20)
    design, comparison = _compared(_runs({"relu": list(base),
                                          "tanh": list(base + rng.normal(0, 0.03, 20))}))
    row = _row(comparison, "tanh")
    assert row["form"] == "bounded"
    lead = verdict(comparison, design).lead
    assert "the data rule out differences beyond [" in lead
    assert "no detectable difference" not in lead.lower()


# Arms in words.

def test_arms_are_labelled_in_words_never_a_bare_number_or_none():
    runs = pd.DataFrame({"seed": [0, 0, 0], "batch_size": [None, 1, 10], "outcome": "finished",
                         "test_loss": [0.1, 0.2, 0.3], "run_id": ["a", "b", "c"]}).astype(
        {"seed": "Int64", "batch_size": "Int64"})
    design, _ = compare.resolve(runs, Analysis(arm=("batch_size",)))
    assert design.arms == ("full batch", "batch_size=1", "batch_size=10")
    hidden = _runs({"[3]": [0.1], "[3, 3]": [0.2]}, key="hidden")
    assert compare.resolve(hidden, Analysis(arm=("hidden",)))[0].arms == ("hidden=[3]",
                                                                          "hidden=[3, 3]")
    assert compare.resolve(_runs({"relu": [0.1], "tanh": [0.2]}),
                           Analysis(arm=("activation",)))[0].arms == ("relu", "tanh")


# Placeholders and the declared verdict.

def test_placeholders_are_filled_from_the_values_the_report_computes():
    design, comparison = _compared(_split(), baseline="relu", success=FITS)
    text = ("{rate @ relu} against {rate @ sigmoid}; {successes @ relu}/{trials @ relu}; "
            "median {median(test_loss) @ sigmoid}; {count(test_loss>0.1) @ relu} plateaus; "
            "seed 12: {value(test_loss, seed=12) @ relu}; {diff(test_loss) @ sigmoid} "
            "{diff_ci(test_loss) @ sigmoid}; {mcnemar_p @ sigmoid}; {param(lr)}; {{literal}}")
    analysis = Analysis(answer=Answer(text, "worse"), discussion="{poi(test_loss) @ sigmoid}")
    answer, discussion = fill_texts(analysis, design, [comparison], comparison.runs, "here")
    row, median = _row(comparison, "sigmoid"), np.median(0.036 + 0.0001 * np.arange(20))
    assert answer == (f"55% against 0%; 11/20; median {median:.3g}; 9 plateaus; seed 12: 0.136; "
                      f"{row['mean_difference']:+.3g} [{row['ci_low']:+.3g}, "
                      f"{row['ci_high']:+.3g}]; 0.00098; 0.1; {{literal}}")
    assert discussion == f"{row['poi']:.3g}"


def test_a_count_with_two_conditions_counts_the_runs_that_meet_both_and_nan_meets_none():
    runs = _split()
    # ReLU: seeds 9-19 start with a dead output (seeds 11-19 are its failures), seed 8's
    # value is missing; sigmoid: none start dead.
    runs["dead_outputs_frac_at_init"] = [*[0.0] * 8, np.nan, *[0.5] * 11, *[0.0] * 20]
    design, comparison = _compared(runs, baseline="relu", success=FITS)
    text = ("{count(test_loss>0.01 and dead_outputs_frac_at_init>0) @ relu} "
            "{count(test_loss<0.01 and dead_outputs_frac_at_init>0) @ relu} "
            "{count(test_loss<0.01 and dead_outputs_frac_at_init<0.25) @ relu} "
            "{count(test_loss>0.01 and dead_outputs_frac_at_init>0) @ sigmoid} "
            "{count(test_loss>0.01 and dead_outputs_frac_at_init==0) @ sigmoid}")
    answer, _ = fill_texts(Analysis(answer=Answer(text, "worse")), design, [comparison],
                           comparison.runs, "here")
    assert answer == "9 2 8 0 20"


@pytest.mark.parametrize(("accuracies", "printed"), [
    ([0.96, 0.02, 1.0], "50%"),
    ([0.96, 0.0, 0.5, 0.0], "50% on 2 runs, undefined (0/0) on 2"),
    ([0.0, 0.0], "undefined (0/0)"),
])
def test_the_iris_tutorials_loop_prints_50_percent_for_a_run_with_any_sample_right(
        accuracies, printed):
    runs = _runs({"uniform": accuracies, "he": accuracies}, key="init.scheme").rename(
        columns={"test_loss": "test_accuracy"})
    design, runs = compare.resolve(runs, Analysis(arm=("init.scheme",), baseline="uniform",
                                                  metrics=(MetricSpec("test_accuracy", False),)))
    comparisons = compare.comparisons(runs, design)
    text = "{iris_loop(test_accuracy) @ he}"
    answer, _ = fill_texts(Analysis(answer=Answer(text, "bounded")), design, comparisons, runs,
                           "here")
    assert answer == printed


@pytest.mark.parametrize(("placeholder", "reason"), [
    ("{median(test_loss) @ gelu}", "no arm 'gelu'"),
    ("{median(test_acc) @ relu}", "the runs have no metric or param 'test_acc'"),
    ("{medain(test_loss) @ relu}", "unknown statistic 'medain'"),
    ("{diff(test_loss) @ relu}", "relu is the baseline"),
    ("{median(test_loss) @ relu | n_train=16}", "the report has no facet"),
    ("{seeds_needed(test_loss) @ sigmoid}", "not inconclusive"),
    ("{value(test_loss, seed=99) @ relu}", "no finished run of seed 99"),
])
def test_a_text_naming_a_value_the_report_does_not_compute_fails_naming_the_placeholder(
        placeholder, reason):
    design, comparison = _compared(_split(), baseline="relu", success=FITS)
    analysis = Analysis(discussion=f"We see {placeholder} here.")
    with pytest.raises(ReportError) as error:
        fill_texts(analysis, design, [comparison], comparison.runs, "experiment split")
    message = str(error.value)
    assert message.startswith(f"experiment split: analysis.discussion: {placeholder} names a "
                              "value the report does not compute: ")
    assert reason in message


def test_an_answer_written_for_another_verdict_fails_loudly():
    design, comparison = _compared(_split(), baseline="relu", success=FITS)
    check_declared_verdict(Analysis(answer=Answer("x", "worse")), design, [comparison], "e")
    with pytest.raises(ReportError, match="e: the answer was written for verdict 'equivalent' "
                                          "for sigmoid against relu, but the report computes "
                                          "'worse'"):
        check_declared_verdict(Analysis(answer=Answer("x", {"sigmoid": "equivalent"})), design,
                               [comparison], "e")
    with pytest.raises(ReportError, match="names tanh, not an arm compared with relu"):
        check_declared_verdict(Analysis(answer=Answer("x", {"tanh": "worse"})), design,
                               [comparison], "e")


@pytest.mark.parametrize(("block", "needle"), [
    ({"answer": "Yes."}, "analysis.answer: 'Yes.' is not {text:"),
    ({"answer": {"text": "Yes.", "verdict": "faster"}}, "'faster' is not one of better, worse"),
    ({"metrics": [{"name": "test_loss", "margin": -1}]}, "margin -1 is not a positive number"),
])
def test_a_bad_answer_or_margin_is_an_error_naming_the_key(block, needle):
    with pytest.raises(ReportError, match=re.escape(needle)):
        parse_analysis(block)


def test_a_success_criterion_from_the_command_line():
    assert parse_success("test_loss<0.01") == Success("test_loss", 0.01, True, "success")
    assert parse_success(" test_accuracy > 0.9") == Success("test_accuracy", 0.9, False,
                                                            "success")
    with pytest.raises(ReportError, match="is not METRIC<X or METRIC>X"):
        parse_success("test_loss=0.01")


# The index.

def test_an_index_row_is_under_400_characters_its_answer_cut_short_if_need_be():
    long_answer = "word " * 120
    row = markdown.index_row("relu_vs_sigmoid", "Which fits?", long_answer, "k" * 200)
    assert len(row) < markdown.INDEX_ROW_LENGTH and "…" in row
    assert row.startswith("| [Which fits?](relu_vs_sigmoid.md) | word word")
    short = markdown.index_row("x", "Q?", "Yes.", "key")
    assert short == "| [Q?](x.md) | Yes. | key |"


def test_the_index_lists_the_experiments_of_experiments_only(tmp_path):
    for name in ("relu_vs_sigmoid", "nnlab"):
        (tmp_path / f"{name}.md").write_text(
            f"# {name}\n\n{markdown.ANSWER}An answer. *(Hand-written, x.)*\n\n"
            f"{markdown.KEY_RESULT}A key result. *(Computed.)*\n")
    index = markdown.index(tmp_path)
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    found = read_experiment("relu_vs_sigmoid")
    assert found is not None
    short = found[1].short_question
    assert rows == [f"| [{short}](relu_vs_sigmoid.md) | An answer. | A key result. |"]


# Every experiment's texts against its committed runs.

def committed_runs(name: str) -> pd.DataFrame:
    """reports/NAME/runs.csv typed as load_runs types the runs, without its arm column."""
    dtypes = param_dtypes() | {column: "string" for column in ("outcome", "failure", "recipe")}
    return pd.read_csv(ROOT / "reports" / name / "runs.csv", dtype=dtypes).drop(columns="arm")


# A decimal number typed in prose, outside a placeholder: it would not follow new runs.
_TYPED_DECIMAL = re.compile(r"(?<![\w.])\d*\.\d+")


@pytest.mark.parametrize("name", experiment_names())
def test_every_experiment_answers_and_discusses_with_numbers_its_runs_compute(name):
    found = read_experiment(name)
    assert found is not None, name
    _, analysis = found
    assert analysis.answer is not None and analysis.short_question, name
    assert analysis.discussion is not None, name
    runs, default = committed_runs(name), None
    if analysis.tune is not None:
        # runs.csv holds the tuning runs too, and each compared run once with its settings.
        column = param_column(analysis.tune.key)
        default = float(runs.loc[runs[tuned.SETTING].str.contains(tuned.TUTORIAL), column].iloc[0])
        runs = runs.drop(columns=tuned.SETTING)
    tuning, design, runs, compared = tuned.resolve_design(runs, analysis, default)
    comparisons = compare.comparisons(runs, design)
    check_declared_verdict(compared, design, comparisons, name)
    answer, discussion = fill_texts(compared, design, comparisons, runs, name, tuning)
    assert answer is not None and discussion is not None, name
    for text in (analysis.answer.text, analysis.discussion):
        prose = placeholders.PLACEHOLDER.sub("", text)
        assert not _TYPED_DECIMAL.findall(prose), (name, _TYPED_DECIMAL.findall(prose))
    key = key_result(comparisons, design)
    assert len(key) <= KEY_RESULT_LENGTH
    row = markdown.index_row(name, analysis.short_question, " ".join(answer.split()), key)
    assert len(row) < markdown.INDEX_ROW_LENGTH and "…" not in row, (len(row), row)
    assert "{" not in answer + discussion


def test_the_readmes_examples_of_each_verdict_form_are_quoted_from_the_committed_reports():
    readme = " ".join((ROOT / "README.md").read_text().split())
    section = readme[readme.index("**Verdicts.**"):readme.index("**Numbers in prose.**")]
    examples = re.findall(r'"([^"]+)" \((\w+)\)', section)
    assert len(examples) == 5
    for quote, name in examples:
        report = " ".join((ROOT / "reports" / f"{name}.md").read_text().split())
        for piece in quote.split("..."):
            assert piece.strip(" (") in report, (name, piece)
