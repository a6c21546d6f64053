"""Every arm at its own best value (analysis.tune): the choice, the block's checks, the tuned
sweep's two stages and the tuned report."""

import math
import re

import pandas as pd
import pytest
from conftest import all_runs, parent_runs, run_nnlab

from nnlab import contract, tuning
from nnlab.constraints import ConfigError
from nnlab.harness import tuned as tuned_sweep
from nnlab.report import parse_analysis, write_report
from nnlab.report.analysis import ReportError, experiment_names, read_experiment
from nnlab.report.runs import Outcome
from nnlab.report.tuned import SETTING, TUNED, TUTORIAL, split
from nnlab.tuning import TuneError

TUNE = {"key": "lr", "values": [0.1, 1.0], "select_on": "test_loss", "seeds": [100, 101]}


def test_the_choice_is_the_value_with_the_best_median():
    results = {0.1: [0.3, 0.2, 0.25], 0.3: [0.1, 0.5, 0.05], 1.0: [0.2, 0.2, 0.2]}
    assert tuning.choose(results, lower_is_better=True, default=1.0) == 0.3  # median 0.1


def test_a_failed_run_counts_as_the_worst_value_so_its_survivors_cannot_carry_it():
    # Over its survivors alone 0.3's median would be 0.001; with its two failures it is 0.05.
    results = {0.3: [0.001, 0.001, 0.05, None, math.nan], 0.1: [0.01] * 5}
    assert tuning.statistic(results[0.3], lower_is_better=True) == 0.05
    assert tuning.choose(results, lower_is_better=True, default=0.3) == 0.1
    # Failing on half the seeds or more: the worst possible statistic, whatever the rest.
    assert tuning.statistic([1e-9, None], lower_is_better=True) == math.inf
    assert tuning.choose({3.0: [1e-9, None], 1.0: [0.4, 0.5]}, True, 3.0) == 1.0
    assert tuning.failures([0.1, None, math.inf]) == 2


def test_ties_go_to_the_configs_value_then_to_the_smaller():
    tied = {0.1: [0.2, 0.2], 0.3: [0.2, 0.2], 1.0: [0.2, 0.2]}
    assert tuning.choose(tied, lower_is_better=True, default=0.3) == 0.3
    assert tuning.choose(tied, lower_is_better=True, default=0.5) == 0.1
    every_run_failed = {0.1: [None], 1.0: [None]}
    assert tuning.choose(every_run_failed, lower_is_better=True, default=1.0) == 1.0


def test_higher_is_better_for_an_accuracy():
    results = {0.01: [0.9, 0.92], 0.1: [0.8, 0.85], 1.0: [None, None]}
    assert tuning.choose(results, lower_is_better=False, default=0.1) == 0.01
    assert tuning.parse_tune({**TUNE, "select_on": "test_accuracy"}).lower_is_better is False
    declared = [{"name": "test_loss", "lower_is_better": False}]
    assert tuning.parse_tune(TUNE, declared).lower_is_better is False


@pytest.mark.parametrize(("seeds", "parsed"), [
    ([100, 101, 102], (100, 101, 102)), ("range(100,105)", (100, 101, 102, 103, 104)),
    ("range(5)", (0, 1, 2, 3, 4)), ("100,103", (100, 103)), (7, (7,)),
])
def test_tuning_seeds_are_a_list_or_a_hydra_sweep(seeds, parsed):
    assert tuning.parse_tune({**TUNE, "seeds": seeds}).seeds == parsed


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": 3}, "analysis.tune: unknown key steps"),
    ({"values": []}, "analysis.tune.values: [] is not a non-empty list of numbers"),
    ({"values": [0.1, "fast"]}, "is not a non-empty list of numbers"),
    ({"values": [0.1, 0.1]}, "repeats a value"),
    ({"select_on": None}, "analysis.tune.select_on: None is not a metric name"),
    ({"select_on": ["test_loss"]}, "is not a metric name"),
    ({"seeds": "some"}, "analysis.tune.seeds: 'some' is not a list of seeds or range(A,B)"),
    ({"seeds": []}, "analysis.tune.seeds: [] is empty"),
    ({"key": "seed"}, "analysis.tune.key: 'seed' is not a config key"),
])
def test_a_bad_tune_block_is_one_line_naming_the_key(change, message):
    with pytest.raises(ReportError, match=re.escape(message)):
        parse_analysis({"tune": {**TUNE, **change}})


def test_the_tuned_key_cannot_be_an_arm_key_nor_go_with_a_facet():
    with pytest.raises(ReportError, match="analysis.tune.key: lr is also in analysis.arm"):
        parse_analysis({"arm": ["activation", "lr"], "tune": TUNE})
    with pytest.raises(ReportError, match="analysis.facet: dataset.n_train together with "
                                          "analysis.tune is not supported"):
        parse_analysis({"facet": "dataset.n_train", "tune": TUNE})
    with pytest.raises(ReportError, match=r"analysis.tune: key missing \(keys: key, values, "
                                          r"select_on, seeds\)"):
        parse_analysis({"tune": {"values": [1.0], "select_on": "test_loss", "seeds": [1]}})


def test_tuning_seeds_must_not_be_compared():
    tune = tuning.parse_tune({**TUNE, "seeds": "range(18,22)"})
    with pytest.raises(TuneError, match=r"^analysis.tune.seeds: 18, 19 also among the compared "
                                        r"seeds \(0–19\)"):
        tuning.check_seeds_apart(tune, list(range(20)))
    tuning.check_seeds_apart(tuning.parse_tune(TUNE), list(range(20)))


def test_every_tuned_experiment_tunes_on_seeds_apart_from_its_compared_ones():
    tuned = [name for name in experiment_names()
             if (found := read_experiment(name)) and found[1].tune is not None]
    assert {"relu_vs_sigmoid", "squared_vs_absolute", "moons_activations", "moons_minibatch",
            "moons_minibatch_examples", "moons_annealing"} <= set(tuned)
    for name in tuned:
        found = read_experiment(name)  # checks the seeds against hydra.sweeper.params.seed
        assert found is not None and found[1].tune is not None
        tune = found[1].tune
        assert len(tune.seeds) == 5 and min(tune.seeds) >= 20, name
        assert 4 <= len(tune.values) <= 6, name


def _run(seed: int, arm: str, lr: float, loss: float | None) -> dict:
    outcome = Outcome.FINISHED if loss is not None else Outcome.DIVERGED
    return {"run_id": f"{arm}-{lr}-{seed}", "seed": seed, "activation": arm, "lr": lr,
            "test_loss": loss, "outcome": outcome, "dataset.name": "sincos"}


def test_the_report_chooses_on_the_tuning_seeds_and_compares_on_the_others():
    rows = [
        # Tuning seeds: relu is best at 1.0 (its tutorial's value), sigmoid at 3.0; sigmoid
        # at 10.0 is better still where it survives, but diverges on one seed of two.
        *[_run(seed, "relu", lr, loss) for seed in (100, 101)
          for lr, loss in ((1.0, 0.01), (3.0, 0.2), (10.0, 0.3))],
        *[_run(seed, "sigmoid", lr, loss) for seed, results in
          ((100, ((1.0, 0.04), (3.0, 0.02), (10.0, 0.001))),
           (101, ((1.0, 0.04), (3.0, 0.02), (10.0, None))))
          for lr, loss in results],
        # Compared seeds, where relu at 3.0 would look best: they must not choose.
        *[_run(seed, "relu", 1.0, 0.05) for seed in (0, 1, 2)],
        *[_run(seed, "relu", 3.0, 0.001) for seed in (0, 1, 2)],
        *[_run(seed, "sigmoid", lr, 0.03) for seed in (0, 1, 2) for lr in (1.0, 3.0)],
    ]
    runs = pd.DataFrame(rows).astype({"lr": "float64", "test_loss": "float64"})
    analysis = parse_analysis({"arm": "activation", "baseline": "relu",
                               "tune": {**TUNE, "values": [1.0, 3.0, 10.0]}})
    result, compared, faceted = split(runs, analysis, default=1.0)
    assert result.chosen == {"relu": 1.0, "sigmoid": 3.0}
    assert faceted.facet == SETTING and faceted.arm == ("activation",)
    assert set(result.runs["seed"]) == {100, 101}
    table = result.table
    failed = table[(table["arm"] == "sigmoid") & (table["value"] == 10.0)]
    assert (failed["runs"].tolist(), failed["failures"].tolist()) == ([2], [1])
    assert set(compared["seed"]) == {0, 1, 2}
    by_setting = compared.groupby([SETTING, "activation"])["lr"].agg(set).to_dict()
    assert by_setting == {(TUTORIAL, "relu"): {1.0}, (TUTORIAL, "sigmoid"): {1.0},
                          (TUNED, "relu"): {1.0}, (TUNED, "sigmoid"): {3.0}}
    # relu's choice is the tutorial's value: the same three runs stand in both settings.
    relu = compared[compared["activation"] == "relu"]
    assert relu[relu[SETTING] == TUTORIAL]["run_id"].tolist() == \
        relu[relu[SETTING] == TUNED]["run_id"].tolist()
    assert result.at_edge() == ["relu"]  # 1.0, the smallest value tried


def test_the_report_refuses_a_choice_the_sweep_did_not_compare():
    rows = [*[_run(seed, "relu", lr, loss) for seed in (100, 101)
              for lr, loss in ((1.0, 0.2), (3.0, 0.01))],
            *[_run(seed, "relu", 1.0, 0.05) for seed in (0, 1)]]
    runs = pd.DataFrame(rows).astype({"lr": "float64", "test_loss": "float64"})
    analysis = parse_analysis({"arm": "activation", "tune": {**TUNE, "values": [1.0, 3.0]}})
    with pytest.raises(ReportError, match="choose lr=3 for relu, but the sweep did not compare "
                                          "it there: run the sweep again"):
        split(runs, analysis, default=1.0)


TINY = """# @package _global_
defaults:
  - override /recipe: sincos_tutorial
experiment_name: tiny_tuned
steps: 30
lr: 0.3
hydra:
  sweeper:
    params:
      seed: range(3)
      activation: relu,sigmoid
analysis:
  arm: activation
  baseline: relu
  metrics: [test_loss]
  tune: {key: lr, values: [0.3, 1.0], select_on: test_loss, seeds: "range(100,102)"}
"""


def _configs(runs) -> set[tuple[str, float, int]]:
    return {(run.data.params["activation"], float(run.data.params["lr"]),
             int(run.data.params["seed"])) for run in runs}


@pytest.mark.process
def test_a_tuned_sweep_runs_its_two_stages_in_one_sweep_and_reports_both_comparisons(
        tmp_path, monkeypatch):
    conf = tmp_path / "conf" / "experiment"
    conf.mkdir(parents=True)
    (conf / "tiny_tuned.yaml").write_text(TINY)
    command = ["-m", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "+experiment=tiny_tuned"]
    done = run_nnlab(tmp_path, *command)
    assert done.returncode == 0, done.stderr
    runs = all_runs(tmp_path)
    (parent,) = parent_runs(tmp_path)
    sweep_id = parent.data.tags[contract.SWEEP_ID_TAG]
    assert {run.data.tags[contract.SWEEP_ID_TAG] for run in runs} == {sweep_id}
    assert {run.data.tags[contract.PARENT_RUN_TAG] for run in runs} == {parent.info.run_id}
    tuning_runs = [run for run in runs if int(run.data.params["seed"]) >= 100]
    assert _configs(tuning_runs) == {(arm, lr, seed) for arm in ("relu", "sigmoid")
                                     for lr in (0.3, 1.0) for seed in (100, 101)}
    # The choice, from the tuning runs as the store holds them, by the rule the report uses.
    chosen = {arm: tuning.choose(
        {lr: [run.data.metrics["test_loss"] for run in tuning_runs
              if run.data.params["activation"] == arm and float(run.data.params["lr"]) == lr]
         for lr in (0.3, 1.0)}, lower_is_better=True, default=0.3)
        for arm in ("relu", "sigmoid")}
    line = next(line for line in done.stdout.splitlines() if line.startswith("nnlab: tuned lr"))
    assert line.endswith(", ".join(f"activation={arm} -> {lr:g}"
                                   + (" (the config's)" if lr == 0.3 else "")
                                   for arm, lr in chosen.items()))
    compared = [run for run in runs if int(run.data.params["seed"]) < 100]
    assert _configs(compared) == {(arm, lr, seed) for arm in chosen for lr in {0.3, chosen[arm]}
                                  for seed in range(3)}
    assert parent.data.tags[contract.TUNE_DEFAULT_TAG] == "0.3"
    assert parent.data.tags[contract.COUNT_TAG_PREFIX + "finished"] == str(len(runs))

    # The same command again: every job of both stages had finished, and the choice stands.
    again = run_nnlab(tmp_path, *command)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("0 runs: every job had finished before") == 2
    assert line in again.stdout.splitlines()
    assert len(all_runs(tmp_path)) == len(runs)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    block = {"arm": "activation", "baseline": "relu", "metrics": ["test_loss"],
             "tune": {"key": "lr", "values": [0.3, 1.0], "select_on": "test_loss",
                      "seeds": "range(100,102)"}}
    written = write_report("tiny_tuned", analysis=parse_analysis(block), out_dir=tmp_path / "r")
    text = written.path.read_text()
    assert "## Tuning" in text and "![tuning_curves](tiny_tuned/tuning_curves.png)" in text
    assert (tmp_path / "r" / "tiny_tuned" / "tuning_curves.png").stat().st_size > 0
    for arm, lr in chosen.items():
        assert f"{arm}: lr = {lr:g}" in text
    assert "### setting = tutorial" in text and "### setting = tuned" in text
    assert text.index("### setting = tutorial") < text.index("### setting = tuned")
    assert "| relu | 3 | 3 |" in text  # three compared seeds per arm and setting
    csv = pd.read_csv(tmp_path / "r" / "tiny_tuned" / "runs.csv")
    assert len(csv) == len(runs) and set(csv[SETTING]) >= {"tuning"}


def _sweep(*overrides: str) -> list[list[str]]:
    """The jobs of a sweep of two arms over seeds 0-2, as Hydra's basic sweeper splits them."""
    return [[f"seed={seed}", f"activation={arm}", *overrides]
            for arm in ("relu", "sigmoid") for seed in range(3)]


def test_the_tuned_sweep_plans_every_arm_at_every_value_then_at_two():
    tune = tuning.parse_tune(TUNE)
    arms = tuned_sweep.arms_of(_sweep("+experiment=x"), tune)
    assert [arm.name for arm in arms] == ["activation=relu", "activation=sigmoid"]
    assert arms[0].overrides == ("activation=relu", "+experiment=x") and arms[0].seeds == (0, 1, 2)
    stage_1 = tuned_sweep.tuning_jobs(arms, tune)
    assert len(stage_1) == 2 * 2 * 2
    assert stage_1[:2] == [["activation=relu", "+experiment=x", "lr=0.1", "seed=100"],
                           ["activation=relu", "+experiment=x", "lr=0.1", "seed=101"]]
    stage_2 = tuned_sweep.comparison_jobs(arms, tune, 1.0, {"activation=relu": 1.0,
                                                            "activation=sigmoid": 0.1})
    # Every arm at the config's value, and sigmoid at its own too; relu's choice is the same.
    assert stage_2 == [[f"activation={arm}", "+experiment=x", f"lr={lr}", f"seed={seed}"]
                       for arm, lr in (("relu", 1.0), ("sigmoid", 1.0), ("sigmoid", 0.1))
                       for seed in range(3)]


def test_the_tuned_sweep_refuses_to_vary_the_key_or_compare_a_tuning_seed():
    tune = tuning.parse_tune(TUNE)
    with pytest.raises(ConfigError, match=r"^lr=0.1,1 is invalid; allowed: one value"):
        tuned_sweep.arms_of([*_sweep("lr=0.1"), *_sweep("lr=1")], tune)
    overlapping = tuning.parse_tune({**TUNE, "seeds": [2, 100]})
    with pytest.raises(ConfigError, match=r"^analysis.tune.seeds: 2 also among the compared "
                                          r"seeds \(0–2\)"):
        tuned_sweep.arms_of(_sweep(), overlapping)
