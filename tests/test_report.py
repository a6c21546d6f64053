"""The report end to end: real sweeps into real MLflow stores, then `python -m nnlab.report`."""

import functools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from conftest import SHORT, copy_sqlite_store, run_nnlab
from scipy import stats as scipy_stats

from nnlab import contract, liveness
from nnlab.report import compare, load_runs, write_report
from nnlab.report.__main__ import main
from nnlab.report.analysis import DEFAULT_PLOTS, ReportError, parse_analysis, read_experiment
from nnlab.report.plots import PLOTS, STYLE, PlotData, render
from nnlab.report.runs import load_curves, load_fit, select_runs
from nnlab.report.verdict import fmt
from nnlab.tracking import store

# Real nnlab processes (sweeps, servers): `make test-fast` leaves these out.
pytestmark = pytest.mark.process

LATE_SWEEP = "29990101-000000-late00"
PENALTIES = {"arm": ["l1", "l2"], "facet": "dataset.n_train", "baseline": {"l1": 0.0, "l2": 0.0},
             "metrics": ["test_accuracy", "test_loss"],
             "success": {"metric": "test_accuracy", "above": 0.5, "label": "beats chance"}}


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """Three tiny sweeps, run side by side: relu vs sigmoid, an lr that diverges, and penalties
    on the planar moons at two training-set sizes (a facet; 20 full-batch steps).

    One worker each: a worker's start (importing MLflow) costs more than the runs themselves.
    """
    cwds = {name: tmp_path_factory.mktemp(name) for name in ("headline", "diverging", "moons")}
    one_worker = "hydra.launcher.n_jobs=1"
    with ThreadPoolExecutor(2) as pool:
        diverging = pool.submit(run_nnlab, cwds["diverging"], "-m", "seed=0,1", "lr=1.0,1e6",
                                "activation=identity", *SHORT, one_worker)
        moons = pool.submit(run_nnlab, cwds["moons"], "-m", "seed=0,1", "recipe=moons_tutorial",
                            "activation=relu", "epochs=20", "dataset.n_train=50,100",
                            "+regularizer=none,l1_1e-2,l2_1e-2", one_worker)
        headline = run_nnlab(cwds["headline"], "-m", "seed=0,1,2", "activation=relu,sigmoid",
                             *SHORT, one_worker)
    for name, done in (("headline", headline), ("diverging", diverging.result()),
                       ("moons", moons.result())):
        assert done.returncode == 0, f"{name}: {done.stderr}"
    return cwds


@pytest.fixture(scope="module", autouse=True)
def cli_report(stores) -> Iterator[Callable[[], tuple[Path, subprocess.CompletedProcess]]]:
    """`python -m nnlab.report` with no name, in the headline sweep's directory.

    Started (autouse) as soon as the sweeps are done, awaited only by the tests that read its
    output, the last ones in this file: the in-process tests run meanwhile, on the other core.
    """
    cwd = stores["headline"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "nnlab.report"]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)

    @functools.cache
    def result() -> tuple[Path, subprocess.CompletedProcess]:
        stdout, stderr = process.communicate(timeout=300)
        return cwd / "reports", subprocess.CompletedProcess(command, process.returncode,
                                                            stdout, stderr)

    yield result
    if process.poll() is None:
        process.kill()
        process.wait()


def _use_store(monkeypatch, cwd: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{cwd / 'mlflow.db'}")


def _plot_data(cwd: Path, block: dict) -> PlotData:
    """What write_report hands its plots, from the store in cwd; the tests that draw from it
    point MLFLOW_TRACKING_URI there too (curves and weights are fetched on first use)."""
    with pytest.MonkeyPatch.context() as patch:
        _use_store(patch, cwd)
        runs, _ = select_runs("nnlab")
    return _resolved(runs, block)


def _resolved(runs: pd.DataFrame, block: dict) -> PlotData:
    design, runs = compare.resolve(runs, parse_analysis(block))
    return PlotData(runs, design, compare.comparisons(runs, design), load_curves, load_fit)


def _drawn_axes(name: str, data: PlotData) -> list:
    """The panels of plot `name`, drawn in the report style but not saved."""
    with matplotlib.rc_context(STYLE):
        figure = PLOTS[name].draw(data).figure
    assert figure is not None, f"{name} drew nothing"
    return [ax for ax in figure.axes if ax.get_visible()]


def _tick_labels(ax) -> list[str]:
    return [label.get_text() for label in ax.get_xticklabels()]


@pytest.fixture(scope="module")
def moons_data(stores) -> PlotData:
    return _plot_data(stores["moons"], PENALTIES)


@pytest.fixture(scope="module")
def headline_data(stores) -> PlotData:
    return _plot_data(stores["headline"], {})


def _copy_store(monkeypatch, source: Path, target: Path) -> None:
    copy_sqlite_store(source / "mlflow.db", target / "mlflow.db")
    _use_store(monkeypatch, target)


def _table(markdown: str, *headers: str) -> list[dict[str, str]]:
    """The rows of the first markdown table that has all these column headers."""

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("|") and set(headers) <= set(cells(line)))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(cells(lines[start]), cells(line), strict=True)))
    return rows


def _key_result(markdown: str) -> str:
    line = next(line for line in markdown.splitlines() if line.startswith("**Key result.** "))
    return line.removeprefix("**Key result.** ").removesuffix(" *(Computed.)*")


def test_load_runs_casts_params_by_the_schema(stores, monkeypatch):
    _use_store(monkeypatch, stores["headline"])
    runs = load_runs("nnlab")
    assert len(runs) == 6
    dtypes = runs.dtypes.astype(str)
    assert dtypes["seed"] == "Int64" and dtypes["batch_size"] == "Int64"
    assert dtypes["lr"] == "float64" and dtypes["init.std"] == "float64"
    assert dtypes["activation"] == "string" and dtypes["hidden"] == "string"
    assert dtypes["dataset.n_samples"] == "Int64" and dtypes["test_loss"] == "float64"
    assert str(dtypes["start_time"]).startswith("datetime64")
    assert set(runs["hidden"]) == {"[16]"} and set(runs["init.std"]) == {0.1}
    assert set(runs["dataset.n_samples"]) == {640} and runs["dataset.n_train"].isna().all()
    assert sorted(runs["seed"]) == [0, 0, 1, 1, 2, 2]


def test_a_diverged_run_is_listed_and_counts_as_a_failure(stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["diverging"])
    analysis = parse_analysis({"success": {"metric": "test_loss", "below": 1.0,
                                           "label": "converged"}})
    written = write_report("nnlab", analysis=analysis, out_dir=tmp_path)
    markdown = written.path.read_text()
    assert "| arms | `lr`: lr=1 (baseline), lr=1e+06 |" in markdown
    success = {row["arm"]: row for row in _table(markdown, "arm", "successes")}
    assert success["lr=1"]["successes"] == "2/2" and success["lr=1e+06"]["successes"] == "0/2"
    outcomes = {row["arm"]: row for row in _table(markdown, "arm", "diverged")}
    assert outcomes["lr=1e+06"]["diverged"] == "2" and outcomes["lr=1"]["finished"] == "2"
    listed = _table(markdown, "run", "reason")
    assert len(listed) == 2 and all(r["reason"].startswith("diverged at step ") for r in listed)
    # Two seeds, both discordant: McNemar's exact p is 0.5, so no difference is claimed.
    rates = _table(markdown, "arm", "McNemar exact p")[0]
    assert (rates["arm"], rates["lr=1 only"], rates["McNemar exact p"]) == ("lr=1e+06", "2",
                                                                            "0.5")
    assert "lr=1e+06 against lr=1 in success rate: no difference detected" in markdown
    assert "No comparison of test_loss between lr=1e+06 and lr=1: 0 seed(s)" in markdown
    assert "2 run(s) diverged: counted as failures" in markdown
    csv = pd.read_csv(tmp_path / "nnlab" / "runs.csv")
    assert sorted(csv["outcome"]) == ["diverged", "diverged", "finished", "finished"]
    assert (tmp_path / "nnlab" / "distributions.png").is_file()


def test_latest_complete_sweep_skips_a_sweep_still_running(stores, monkeypatch, tmp_path):
    _copy_store(monkeypatch, stores["headline"], tmp_path)
    experiment_id = store.ensure_experiment("nnlab")
    # Its process (this one) runs: the report leaves it running.
    store.start_run(experiment_id, "late-s0", {"seed": "0"},
                    {"nnlab.sweep_id": LATE_SWEEP, "nnlab.config_hash": "late",
                     **liveness.runner_tags(liveness.this_process(), time.time())})
    runs, selection = select_runs("nnlab")
    assert len(runs) == 6 and LATE_SWEEP not in selection.sweep_ids
    assert selection.skipped == (LATE_SWEEP,)
    running = load_runs("nnlab", sweep=LATE_SWEEP)
    assert list(running["outcome"]) == ["running"]


def test_a_config_that_ran_twice_counts_once_its_latest_finished_run(stores, monkeypatch,
                                                                     tmp_path):
    _copy_store(monkeypatch, stores["headline"], tmp_path)
    first = next(r for r in store.find_runs("nnlab") if r.run_name == "relu-s0")
    again = store.start_run(store.ensure_experiment("nnlab"), "relu-s0", first.params,
                               {k: v for k, v in first.tags.items() if k.startswith("nnlab.")})
    store.end_run(again, contract.FINISHED, {"test_loss": 123.0}, {}, {})
    runs, selection = select_runs("nnlab")
    assert len(runs) == 6 and selection.superseded == 1
    kept = runs[runs["config_hash"] == first.tags["nnlab.config_hash"]]
    assert list(kept["run_id"]) == [again] and list(kept["test_loss"]) == [123.0]


def test_reading_a_missing_store_is_an_error_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ReportError, match="no MLflow store at sqlite:///"):
        load_runs("nnlab")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_experiment_fails_with_one_line_naming_those_there_are(stores, monkeypatch):
    _use_store(monkeypatch, stores["headline"])
    with pytest.raises(SystemExit) as exit_info:
        main(["no_such_experiment"])
    message = str(exit_info.value.code)
    assert message.startswith("nnlab: report error: no MLflow experiment 'no_such_experiment'")
    assert "nnlab" in message.split("experiments there: ")[1] and "\n" not in message


def test_several_names_write_one_report_each_in_one_process(stores, monkeypatch, tmp_path,
                                                            capsys):
    _use_store(monkeypatch, stores["headline"])
    main(["nnlab", "nnlab", "--out", str(tmp_path)])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(
        f"{tmp_path / 'nnlab.md'}: experiment 'nnlab'")]
    assert len(lines) == 2 and (tmp_path / "nnlab.md").is_file()


def test_several_names_with_a_per_report_option_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["relu_vs_sigmoid", "init_shift", "--sweep", "all"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--sweep with several NAMEs (relu_vs_sigmoid init_shift)" in error


def test_by_and_metric_options_choose_the_arm_and_the_primary_metric(stores, monkeypatch,
                                                                    tmp_path):
    _use_store(monkeypatch, stores["headline"])
    main(["--by", "activation", "--metric", "test_mae,test_loss", "--baseline", "sigmoid",
          "--out", str(tmp_path)])
    markdown = (tmp_path / "nnlab.md").read_text()
    assert "| arms | `activation`: sigmoid (baseline), relu |" in markdown
    assert "test_mae (lower is better, primary), test_loss (lower is better)" in markdown
    assert _key_result(markdown).startswith("test_mae against sigmoid: ")
    assert "relu against sigmoid in test_mae: no difference detected at n=3" in markdown


def test_question_and_discussion_come_from_the_analysis_the_discussion_under_the_verdict(
        stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["headline"])
    analysis = parse_analysis({
        "question": "Which is lower?", "plots": [],
        "answer": {"text": "ReLU's median is {median(test_loss) @ relu}.", "verdict": "bounded"},
        "discussion": "Dead units: {count(dead_units_frac>0) @ relu} of {n(test_loss) @ relu}."})
    markdown = write_report("nnlab", analysis=analysis, out_dir=tmp_path).path.read_text()
    runs = load_runs("nnlab")
    relu = runs[runs["activation"] == "relu"]
    lines = markdown.splitlines()
    assert lines[2] == "**Question.** Which is lower?"
    assert lines[4].startswith(f"**Answer.** ReLU's median is "
                               f"{fmt(float(relu['test_loss'].median()))}. *(Hand-written")
    assert lines[6].startswith("**Key result.** test_loss against relu: ")
    verdict, discussion = markdown.index("## Verdict"), markdown.index("## Discussion")
    dead = f"Dead units: {int((relu['dead_units_frac'] > 0).sum())} of 3."
    assert verdict < discussion < markdown.index(dead)
    assert "Hand-written" in markdown[discussion:] and "![" not in markdown


def test_each_deviation_is_a_row_of_the_setup_table_its_numbers_filled_in(
        stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["headline"])
    analysis = parse_analysis({"plots": [], "deviations": [
        {"what": "length", "why": "{param(epochs)} epoch(s), not the tutorial's | 300 steps"},
        {"what": "activation", "why": "both arms"}]})
    markdown = write_report("nnlab", analysis=analysis, out_dir=tmp_path).path.read_text()
    setup = markdown[markdown.index("## Setup"):markdown.index("## Results")]
    lines = [line for line in setup.splitlines() if line.startswith("| deviation")]
    epochs = load_runs("nnlab")["epochs"].iloc[0]
    assert lines == [f"| deviation: length | {epochs} epoch(s), not the tutorial's \\| 300 "
                     "steps |", "| deviation: activation | both arms |"]
    undeclared = write_report("nnlab", analysis=parse_analysis({"plots": []}),
                              out_dir=tmp_path / "none").path.read_text()
    assert "| deviations from the tutorial | none declared |" in undeclared
    bad = parse_analysis({"plots": [], "deviations": [{"what": "x", "why": "{param(epoch)}"}]})
    with pytest.raises(ReportError, match=re.escape("analysis.deviations[0]: {param(epoch)} "
                                                    "names a value the report does not")):
        write_report("nnlab", analysis=bad, out_dir=tmp_path / "bad")


def test_an_answer_whose_verdict_the_runs_no_longer_support_fails_the_report(
        stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["headline"])
    analysis = parse_analysis({"plots": [], "answer": {"text": "Equal.",
                                                        "verdict": "equivalent"}})
    with pytest.raises(ReportError, match="the answer was written for verdict 'equivalent' "
                                          "for sigmoid against relu, but the report computes"):
        write_report("nnlab", analysis=analysis, out_dir=tmp_path)
    assert not (tmp_path / "nnlab.md").exists()


def test_an_ad_hoc_report_is_never_indexed(stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["headline"])
    written = write_report("nnlab", analysis=parse_analysis({"plots": []}), out_dir=tmp_path)
    assert written.index is None and not (tmp_path / "README.md").exists()


@pytest.mark.parametrize("name", list(PLOTS))
def test_each_plot_draws_a_png_of_a_faceted_sweep(name, moons_data, stores, monkeypatch,
                                                  tmp_path):
    _use_store(monkeypatch, stores["moons"])
    path = tmp_path / f"{name}.png"
    drawn, caption = render(name, moons_data, path)
    assert drawn and caption.startswith(PLOTS[name].caption)
    assert matplotlib.image.imread(path).std() > 0.05  # a picture, not a blank canvas
    # A panel per facet value, each with something drawn in it.
    with matplotlib.rc_context(STYLE):
        figure = PLOTS[name].draw(moons_data).figure
    assert figure is not None
    titles = {ax.get_title(): ax for ax in figure.axes}
    assert len(moons_data.comparisons) > 1  # the sweep is faceted: a title names each value
    for comparison in moons_data.comparisons:
        panels = [ax for title, ax in titles.items() if comparison.short_title in title]
        assert panels and all(ax.has_data() for ax in panels), (name, comparison.short_title)
    if name == "decision_boundaries":
        assert caption.endswith("Seed 0: the lowest seed whose run finished in every arm and "
                                "dataset.n_train value.")


@pytest.mark.parametrize(("name", "reason"), [
    ("success_rates", "the analysis sets no success criterion"),
    ("train_vs_test", "no finished run logged train_accuracy, test_accuracy"),
    ("accuracy_vs_time", "no finished run logged test_accuracy"),
    ("metric_by_strength", "the arms (activation) are not penalty strengths (l1, l2)"),
    ("decision_boundaries", "the dataset, sincos, is not a 2-D classification"),
])
def test_a_plot_that_does_not_fit_the_sweep_says_why_instead(name, reason, headline_data,
                                                             stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["headline"])
    drawn, caption = render(name, headline_data, tmp_path / f"{name}.png")
    assert not drawn and caption.startswith(f"{name}: not drawn: {reason}")
    assert not (tmp_path / f"{name}.png").exists()


def test_loss_vs_dead_units_draws_the_arms_that_have_dead_units(headline_data, tmp_path):
    # Only ReLU nets log dead_units_frac: the sigmoid arm has no point to draw.
    drawn, _ = render("loss_vs_dead_units", headline_data, tmp_path / "dead.png")
    assert drawn
    with matplotlib.rc_context(STYLE):
        figure = PLOTS["loss_vs_dead_units"].draw(headline_data).figure
    assert figure is not None
    # matplotlib's stub types get_offsets() as ArrayLike; it returns the (N, 2) array of offsets.
    points = sum(len(c.get_offsets()) for ax in figure.axes for c in ax.collections)  # pyright: ignore[reportArgumentType]
    finished = headline_data.finished
    relu = int(finished["dead_units_frac"].notna().sum())
    # One point per finished ReLU run, none for the sigmoid runs.
    assert points == relu and 0 < relu < len(finished)


def test_arm_ticks_stack_the_values_of_several_keys_in_the_sorted_order(moons_data):
    # The axis title names the keys (l1, l2): the ticks give their values only, a line each.
    for ax in _drawn_axes("distributions", moons_data):
        assert _tick_labels(ax) == ["0\n0", "0\n0.01", "0.01\n0"] and ax.get_xlabel() == "l1, l2"
    for ax in _drawn_axes("paired_differences", moons_data):
        assert _tick_labels(ax) == ["0\n0.01", "0.01\n0"]


def test_runs_without_a_metric_are_counted_and_a_metric_without_pairs_is_named(headline_data,
                                                                             tmp_path):
    # As steps_to_threshold of runs that never reach the threshold: no value, though finished.
    runs = headline_data.runs.copy()
    runs.loc[runs["activation"] == "sigmoid", "test_mae"] = np.nan
    data = _resolved(runs, {"metrics": ["test_loss", "test_mae"]})
    loss, mae = _drawn_axes("distributions", data)
    assert _tick_labels(loss) == ["relu", "sigmoid"]
    assert _tick_labels(mae) == ["relu", "sigmoid\n(3 no value)"]
    drawn, caption = render("paired_differences", data, tmp_path / "paired.png")
    assert drawn and caption.endswith("Not drawn: test_mae, as no seed has a value in both an "
                                      "arm and the baseline.")


def test_paired_differences_of_very_different_sizes_get_a_symlog_axis(headline_data):
    runs = headline_data.runs.copy()
    relu, sigmoid = (runs["activation"] == name for name in ("relu", "sigmoid"))
    runs.loc[relu, "test_loss"] = 0.1
    # Two seeds a hair from relu, one far: on a linear axis, the two would sit on 0.
    runs.loc[sigmoid, "test_loss"] = 0.1 + runs.loc[sigmoid, "seed"].map({0: 2e-4, 1: 3e-4,
                                                                         2: 0.5})
    ax = _drawn_axes("paired_differences", _resolved(runs, {"metrics": ["test_loss"]}))[0]
    assert ax.get_yscale() == "symlog" and "symlog" in ax.get_ylabel()
    # Linear up to the typical difference (the median, 3e-4), down to a power of ten.
    assert ax.yaxis.get_transform().linthresh == pytest.approx(1e-4)
    low, high = ax.get_ylim()
    assert low < 0 < 1e-4 < 0.5 < high


def test_a_facet_compares_the_arms_within_each_value(stores, monkeypatch, tmp_path):
    _use_store(monkeypatch, stores["moons"])
    analysis = parse_analysis({**PENALTIES, "plots": ["success_rates"]})
    markdown = write_report("nnlab", analysis=analysis, out_dir=tmp_path).path.read_text()
    assert "| facet | `dataset.n_train`: 50, 100; the arms are compared within each value |" in (
        markdown)
    assert "| seeds | 2 per arm and dataset.n_train value (0, 1) |" in markdown
    sections = {name: markdown[markdown.index(name):] for name in (
        "## Results per arm", "## Paired comparison with l1=0, l2=0", "## Verdict")}
    for section in sections.values():
        assert section.index("### dataset.n_train = 50") < section.index(
            "### dataset.n_train = 100")
    for value in (50, 100):
        results, paired = (section[section.index(f"### dataset.n_train = {value}"):]
                           for section in list(sections.values())[:2])
        means = _table(results, "metric", "mean")
        assert len(means) == 2 * 3 and {row["n"] for row in means} == {"2"}
        # Each value pairs its own seeds with its own baseline: 2 pairs, not 4 and not none.
        pairs = _table(paired[paired.index("Over all seeds:"):], "metric", "pairs")
        assert len(pairs) == 2 * 2 and {row["pairs"] for row in pairs} == {"2"}
    key = _key_result(markdown)
    assert key.startswith("beats chance") and ", against l1=0, l2=0, per n_train. " in key
    assert "50" in key and "100" in key and "![success_rates]" in markdown
    assert len(key) <= 200 and not (tmp_path / "README.md").exists()


def test_relu_vs_sigmoid_declares_a_valid_analysis_block():
    found = read_experiment("relu_vs_sigmoid")
    assert found is not None
    experiment, analysis = found
    assert experiment == "relu_vs_sigmoid"
    assert analysis.arm == ("activation",) and analysis.baseline == "relu"
    assert analysis.metrics is not None
    assert analysis.metrics[0].name == "test_loss" and analysis.metrics[0].lower_is_better
    assert analysis.success is not None
    assert analysis.success.metric == "test_loss" and analysis.success.below
    assert set(analysis.plots) <= set(PLOTS)
    assert analysis.question is not None and analysis.discussion is not None
    assert analysis.question.endswith("?") and "ReLU" in analysis.discussion


def test_report_without_a_name_finds_activation_as_the_arm_of_the_latest_sweep(cli_report):
    out, done = cli_report()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("reports/adhoc/nnlab.md: experiment 'nnlab', sweep ")
    assert "not in the index reports/README.md; reports/adhoc/ is git-ignored" in done.stdout
    markdown = (out / "adhoc" / "nnlab.md").read_text()
    assert "| arms | `activation`: relu (baseline), sigmoid |" in markdown
    assert "| seeds | 3 per arm (0–2) |" in markdown
    assert ("`python -m nnlab.run -m 'seed=range(3)' activation=relu,sigmoid` then "
            "`python -m nnlab.report`") in markdown


def test_report_writes_markdown_linked_figures_csv_and_the_index(cli_report):
    reports, _ = cli_report()
    out = reports / "adhoc"
    markdown = (out / "nnlab.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert sorted(linked) == sorted(f"nnlab/{name}.png" for name in DEFAULT_PLOTS)
    for path in linked:
        assert (out / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = pd.read_csv(out / "nnlab" / "runs.csv")
    assert len(runs) == 6 and set(runs["arm"]) == {"relu", "sigmoid"}
    assert set(runs["outcome"]) == {"finished"} and sorted(runs["seed"]) == [0, 0, 1, 1, 2, 2]
    # Ad-hoc: beside the question reports never, in their index never.
    assert sorted(path.name for path in reports.iterdir()) == ["adhoc"]
    assert not (out / "README.md").exists()


def test_per_arm_table_gives_mean_and_t_interval_of_the_runs_in_the_csv(cli_report):
    reports, _ = cli_report()
    out = reports / "adhoc"
    runs = pd.read_csv(out / "nnlab" / "runs.csv")
    rows = _table((out / "nnlab.md").read_text(), "metric", "mean")
    for arm, group in runs.groupby("arm"):
        values = group["test_loss"].to_numpy()
        low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                           scale=scipy_stats.sem(values))
        row = next(r for r in rows if r["metric"] == "test_loss" and r["arm"] == arm)
        assert row["n"] == "3" and row["mean"] == fmt(values.mean())
        assert row["95% CI"] == f"[{fmt(low)}, {fmt(high)}]"
        assert row["median"] == fmt(float(np.median(values)))


def test_verdict_claims_a_difference_only_where_the_paired_table_supports_it(cli_report):
    reports, _ = cli_report()
    markdown = (reports / "adhoc" / "nnlab.md").read_text()
    row = next(r for r in _table(markdown, "metric", "pairs") if r["metric"] == "test_loss")
    low, high = (float(v) for v in row["95% CI"].strip("[]").split(", "))
    supported = float(row["Holm p"]) < 0.05 and (low > 0 or high < 0)
    assert (row["verdict"] in ("better", "worse")) == supported
    # Three pairs cannot reach p < 0.05 with Wilcoxon (the smallest two-sided p is 0.25), and
    # no margin is declared: the verdict bounds the difference.
    assert not supported and row["verdict"] == "bounded"
    assert _key_result(markdown) == (f"test_loss against relu: no difference detected, within: "
                                     f"sigmoid {row['95% CI']}")
    assert ("sigmoid against relu in test_loss: no difference detected at n=3 (Holm-adjusted "
            f"Wilcoxon p={row['Holm p']}); the data rule out differences beyond {row['95% CI']}"
            ) in markdown
    assert "IQM 95% CI" in markdown and "P(improvement) [95% CI]" in markdown
    assert not re.search(r"\bnan\b", markdown, re.IGNORECASE)


def test_report_without_a_name_leads_with_rates_given_a_success_criterion(stores, monkeypatch,
                                                                         tmp_path):
    _use_store(monkeypatch, stores["headline"])
    monkeypatch.chdir(tmp_path)
    main(["--success", "test_loss<0.05"])
    markdown = (tmp_path / "reports" / "adhoc" / "nnlab.md").read_text()
    assert _key_result(markdown).startswith("success (test_loss < 0.05), against relu: relu ")
    verdict = markdown[markdown.index("## Verdict"):]
    assert verdict.index("Success (test_loss < 0.05): relu ") < verdict.index(
        "McNemar exact p=") < verdict.index("Over all seeds, successes and failures together")
    assert sorted(path.name for path in (tmp_path / "reports").iterdir()) == ["adhoc"]
