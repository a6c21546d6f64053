"""Reports: a sweep's runs from MLflow -> pandas -> statistics over seeds -> figures -> markdown.

    python -m nnlab.report NAME      # experiments/NAME.yaml's latest complete sweep
    python -m nnlab.report           # the latest sweep of experiment `nnlab`, arms detected
      [--experiment EXP] [--sweep ID[,ID...]|all] [--by KEY] [--metric M] [--baseline VALUE]
      [--out DIR]                    # default: reports

writes DIR/NAME.md, DIR/NAME/*.png, DIR/NAME/runs.csv (one typed row per run, with its arm)
and rewrites DIR/README.md, the index of every report in DIR with its one-line answer.

Which runs: the latest complete sweep (tag nnlab.sweep_id; two runs or more, none RUNNING), so
re-running a sweep never double-counts; a config (tag nnlab.config_hash) that ran more than once
in the selection counts once, its latest finished run. Finished runs make the metric statistics;
diverged runs (FAILED and tagged nnlab.diverged_at; logged before that tag, with an nnlab.failure
"diverged ...") are failures in success rates; crashed, killed and running runs count nowhere.
All of them are listed in the report.

The statistics: per arm over seeds, n, mean with a t 95% CI, median and IQR, and the success rate
with a Wilson 95% interval. Each arm against the baseline, seed by seed (same seed = same data, and
same initial weights where the layer sizes and init agree): mean difference with a t 95% CI,
Wilcoxon signed-rank p, Holm over the arms of each metric, better/tie/worse seeds. The verdict
claims a difference only where the Holm-adjusted p < 0.05 AND the CI excludes 0, and a difference
in success rate only where the Wilson intervals do not overlap. With a facet, all of this is done
within each facet value, as if each were a sweep of its own; the one-line answer then gives the
primary metric's verdict per value.

The `analysis` block of experiments/NAME.yaml (read from the file, never logged to MLflow;
every key optional):

    analysis:
      question: Does ReLU or sigmoid reach the lower test loss in 300 steps?  # one sentence
      arm: activation            # a key or a list of keys; default: the keys that vary across
                                 # the runs, seed and facet aside, less those they determine
                                 # (output follows activation in the sincos recipe)
      facet: dataset.n_train     # a key: the arms are compared within each of its values (a
                                 # subsection each); default: none, all runs together
      baseline: relu             # an arm's value ({key: value, ...} for several arm keys);
                                 # default: the first arm in sorted order
      metrics:                   # default: test_loss, then the yardsticks the runs logged
        - test_loss              # the first is primary: the verdict is about it
        - {name: train_time_s, lower_is_better: true}   # default: true, false for accuracies
      success: {metric: test_loss, below: 0.01, label: fits sin and cos}  # or above: X
      plots: [distributions, training_curves, paired_differences]  # names in plots.PLOTS;
                                 # [] for none; also success_rates, train_vs_test,
                                 # accuracy_vs_time, loss_vs_dead_units, metric_by_strength
                                 # (arms of l1, l2), decision_boundaries (2-D classification).
                                 # A plot that does not fit the runs says why in the report.
      discussion: |              # hand-written: why, in the network's terms; printed under
        ...                      # the computed verdict, labelled as discussion

In a notebook, `load_runs(experiment, sweep=None)` gives the per-run table (params typed by the
schema; lists such as `hidden` stay their JSON text, "[16]") and `load_curves(run_ids)` the
per-step train_loss; `write_report(..., analysis=parse_analysis({...}))` asks its own question.
"""

from nnlab.report.analysis import parse_analysis
from nnlab.report.build import write_report
from nnlab.report.runs import load_curves, load_runs

__all__ = ["load_curves", "load_runs", "parse_analysis", "write_report"]
