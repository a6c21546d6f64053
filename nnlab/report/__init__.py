"""Reports: a sweep's runs from MLflow -> pandas -> statistics over seeds -> figures -> markdown.

    python -m nnlab.report NAME      # experiments/NAME.yaml's latest complete sweep
    python -m nnlab.report           # the latest sweep of experiment `nnlab`, arms detected
      [--experiment EXP] [--sweep ID[,ID...]|all] [--by KEY] [--metric M] [--baseline VALUE]
      [--success 'METRIC<X'|'METRIC>X'] [--out DIR]

writes DIR/NAME.md, DIR/NAME/*.png, DIR/NAME/runs.csv (one typed row per run, with its arm).
An experiment of experiments/, as its file asks it, goes to reports/ by default and rewrites
reports/README.md, the index: one row per question (short question, hand-written answer,
computed key result), each under 400 characters, experiments of experiments/ only. Any other
report (no NAME, an MLflow experiment without a file, or --by/--metric/--baseline changing the
question) is ad hoc: it goes to reports/adhoc/ (git-ignored) and is never indexed.

Which runs: the latest complete sweep (tag nnlab.sweep_id; two runs or more, none RUNNING), so
re-running a sweep never double-counts; a config (tag nnlab.config_hash) that ran more than once
in the selection counts once, its latest finished run. Finished runs make the metric statistics;
diverged runs (FAILED and tagged nnlab.diverged_at; logged before that tag, with an nnlab.failure
"diverged ...") are failures in success rates; crashed, killed, lost (their process vanished:
closed by the report when it reads them) and running runs count nowhere.
All of them are listed in the report. Arms are labelled in words: `relu`, `hidden=[3]`,
`batch_size=1`, `full batch` (batch_size unset), `init.scheme=he, lr=0.001`.

The statistics, per arm over seeds: n, mean with a t 95% CI, median and IQR, the interquartile
mean (IQM, the mean of the middle half; Agarwal et al. 2021) with a bootstrap 95% CI, and the
success rate with a Wilson 95% interval. Each arm against the baseline, seed by seed (same seed
= same data, and same initial weights where the layer sizes and init agree): mean difference
with a t 95% CI, Wilcoxon signed-rank p, Holm over the arms of each metric, better/tie/worse
seeds, and the probability of improvement (the chance that the arm beats the baseline on the
same seed, ties counted half) with a bootstrap 95% CI. Bootstrap intervals are BCa
(scipy.stats.bootstrap, 5000 resamples, a fixed seed); where BCa is degenerate (constant values,
an arm that wins on every seed) the percentile interval is given and marked. With a facet, all
of this is done within each facet value, as if each were a sweep of its own.

How a comparison ends (the verdict), for each arm and metric:
  better / worse by X [95% CI]   Holm-adjusted Wilcoxon p < 0.05 AND the CI excludes 0; with a
                                 margin and the 90% CI inside it, also "less than the margin"
  equivalent within +-margin     no difference claimed and the 90% CI of the mean paired
                                 difference inside +-margin (two one-sided tests at 5%)
  inconclusive                   a margin, neither of the above: the 95% CI, and about how many
                                 seeds per arm would settle it at 80% power: the equivalence
                                 test when the observed difference is inside the margin, the
                                 paired test against 0 otherwise (normal approximation of the
                                 paired t-test / of the two one-sided tests with t quantiles,
                                 from the observed SD of the differences; one comparison at 5%,
                                 before Holm; the Wilcoxon test the claim also needs has a little
                                 less power, about 0.75-0.8 in simulations)
  bounded                        no margin and no difference claimed: the data rule out
                                 differences beyond the 95% CI
With a success criterion, success rates lead: each arm's count and rate, McNemar's exact test
against the baseline on the seeds where exactly one of the two succeeds (scipy's binomtest;
Holm over the arms; better / worse where the adjusted p < 0.05, else bounded by Newcombe's 95%
CI of the paired difference of the rates), then the primary metric among the seeds on which
both succeed; the comparison over all seeds, a mixture of successes and failures, comes after.
The key result (at most 200 characters) states each arm's lead comparison, grouped by how it
ends.

The `analysis` block of experiments/NAME.yaml (read from the file, never logged to MLflow;
every key optional):

    analysis:
      question: Does ReLU or sigmoid reach the lower test loss in 300 steps?  # one sentence
      short_question: ReLU or sigmoid for the sin/cos net?   # the index's; default: question
      answer:                    # hand-written, one or two sentences: the report opens with it
        text: ReLU fits on {successes @ relu}/{trials @ relu} seeds, sigmoid on ...
        verdict: worse           # the verdict it was written for: one of better, worse,
                                 # equivalent, inconclusive, bounded, not compared; for every
                                 # arm, or per arm {hidden=[20]: equivalent, ...}, or per arm
                                 # and facet value {l1=0.01, l2=0: {16: worse, 32: bounded}}.
                                 # Writing the report fails when the runs give another.
      arm: activation            # a key or a list of keys; default: the keys that vary across
                                 # the runs, seed and facet aside, less those they determine
                                 # (output follows activation in the sincos recipe)
      facet: dataset.n_train     # a key: the arms are compared within each of its values (a
                                 # subsection each); default: none, all runs together
      baseline: relu             # an arm's value ({key: value, ...} for several arm keys);
                                 # default: the first arm in sorted order
      metrics:                   # default: test_loss, then the yardsticks the runs logged
        - test_loss              # the first is primary: the verdict is about it
        - {name: test_accuracy, margin: 0.02}           # the smallest difference that matters
        - {name: train_time_s, lower_is_better: true}   # default: true, false for accuracies
      success: {metric: test_loss, below: 0.01, label: fits sin and cos}  # or above: X
      tune:                      # each arm at its own best value of a key (nnlab.tuning):
        key: lr                  # not an arm key, not swept; not with a facet
        values: [0.3, 1.0, 3.0]  # the grid, around the config's own value (the tutorial's)
        select_on: test_loss     # the median over the tuning seeds chooses, a failed run
                                 # counting as the worst value; ties: the config's value, then
                                 # the smaller (direction: as metrics declare it, else lower is
                                 # better but for accuracies)
        seeds: range(100,105)    # the tuning seeds, or [100, 101, ...], apart from the sweep's
                                 # seeds. The sweep runs them first (every arm x value), chooses,
                                 # then runs every arm at the config's value and at its choice on
                                 # its own seeds; the report shows the tuning runs in a Tuning
                                 # section (table, tuning_curves figure) and compares the others
                                 # in two settings (facet `setting`): tutorial and tuned.
      plots: [distributions, training_curves, paired_differences]  # names in plots.PLOTS;
                                 # [] for none; also success_rates, train_vs_test,
                                 # accuracy_vs_time, loss_vs_dead_units, metric_by_strength
                                 # (arms of l1, l2), decision_boundaries (2-D classification).
                                 # A plot that does not fit the runs says why in the report.
      discussion: |              # hand-written: why, in the network's terms; printed under
        ...                      # the computed verdict, labelled as discussion
      deviations:                # each difference from the tutorial's recipe, with its
        - what: test set         # reason: a row "deviation: WHAT" of the setup table each
          why: 1000 fresh points, not 200, so that a difference of 1% is 10 points
                                 # default: none (the setup table says "none declared")

Numbers in `answer.text`, `discussion` and `deviations` are never typed: they are named
placeholders that the report fills from what it computes, so a report regenerated on new runs
has no old number in it (nnlab.report.placeholders). `{STAT(METRIC) @ ARM}`, with
`| FACET=VALUE` after the arm when there is a facet; ARM is the arm's label as the report
writes it:
  per arm, over its finished runs: n, mean, median, q1, q3, min, max, sd, iqm (numbers),
    mean_ci, iqm_ci, iqr, range (intervals), count(COND), value(METRIC, seed=N), runs (all of
    the arm's runs), median_change(METRIC) (the arm's median against the baseline's, in %),
    iris_loop(test_accuracy) (what the iris tutorial's accuracy loop would print for the
    arm's runs: 50% for a run with a sample right, 0/0 for one with none; README, "iris").
    METRIC may be a difference of two (`train_accuracy-test_accuracy`) and may keep only the
    runs that meet a condition: `range(test_loss where test_loss>0.01)`; a condition is
    `METRIC<X` (or >, <=, >=, ==, !=), several joined by ` and `.
  an arm against the baseline, per metric: diff, abs_diff, diff_ci, diff_ci90, p, p_holm,
    pairs, better, ties, worse, poi, poi_ci, verdict (its form), seeds_needed (inconclusive).
  success, per arm: successes, trials, rate, rate_ci; against the baseline: rate_diff,
    rate_diff_ci (points), mcnemar_p, mcnemar_p_holm, only_arm, only_baseline, both_succeed,
    rate_verdict.
  the sweep: {param(KEY)} (a setting every run shares; with tune, the tuned key's value in the
    config, the tutorial's), {margin(METRIC)}.
  with tune, per arm: {chosen(KEY) @ ARM}, the value its tuning runs chose; a setting is named
    as a facet value, `| setting=tutorial` or `| setting=tuned`.
E.g. `{median(test_accuracy) @ hidden=[3]}`, `{diff_ci(test_accuracy) @ hidden=[20]}`,
`{rate @ relu}`, `{median(test_mse) @ l1=0, l2=0 | dataset.n_train=16}`. A placeholder that names
a value the report does not compute (an unknown statistic, arm, metric, facet value, or a value
that is missing) fails the report with a ReportError naming the experiment and the placeholder;
`{{` and `}}` are literal braces. Numbers of arithmetic (ln 2, 1/4) may be written out.

In a notebook, `load_runs(experiment, sweep=None)` gives the per-run table (params typed by the
schema; lists such as `hidden` stay their JSON text, "[16]") and `load_curves(run_ids)` the
per-step train_loss; `write_report(..., analysis=parse_analysis({...}))` asks its own question.
"""

from nnlab.report.analysis import parse_analysis
from nnlab.report.build import write_report
from nnlab.report.runs import load_curves, load_runs

__all__ = ["load_curves", "load_runs", "parse_analysis", "write_report"]
