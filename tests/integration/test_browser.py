"""The MLflow UI in a real browser: `python -m nnlab.ui` over a small sweep and its report,
the page it prints rendered by headless chromium (Debian's package) and read as a user reads
it. Needs chromium (`make test-integration` installs it)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import rendered_text
from conftest import SHORT, all_runs, parent_runs, run_module, run_nnlab
from tracking_server import running

NAMES = [f"{activation}-s{seed}" for activation in ("relu", "sigmoid") for seed in (0, 1)]


@dataclass
class Browsed:
    base_url: str
    printed: list[str]  # what nnlab.ui printed
    cwd: Path


@pytest.fixture(scope="module")
def browsed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browsed]:
    cwd = tmp_path_factory.mktemp("browsed").resolve()
    done = run_nnlab(cwd, "-m", "seed=0,1", "activation=relu,sigmoid", *SHORT)
    assert done.returncode == 0, done.stderr
    report = run_module(cwd, "nnlab.report", "--out", str(cwd / "reports"))
    assert report.returncode == 0, report.stderr
    with running("nnlab.ui", [], cwd) as ui:
        yield Browsed(ui.base_url, ui.stdout.read_text().splitlines(), cwd)


def _printed_url(browsed: Browsed) -> str:
    (line,) = [line for line in browsed.printed if line.startswith("Runs of experiment 'nnlab'")]
    return line.split(": ", 1)[1]


def test_the_printed_url_lists_the_sweeps_runs_grouped_by_arm(browsed: Browsed):
    url = _printed_url(browsed)
    assert url.startswith(f"{browsed.base_url}/#/experiments/")
    text = rendered_text(url)
    # The model-training view, not the GenAI overview.
    assert "Token Usage" not in text and "Traces 0" not in text
    assert "Group by: nnlab.arm" in text
    assert "Group: activation=relu 2" in text and "Group: activation=sigmoid 2" in text
    for name in NAMES:
        assert name in text
    # The key metrics and the dataset input are columns.
    assert "test_loss" in text and "(average)" in text
    assert re.search(r"sincos \([0-9a-f]{10}\) training", text)
    assert "5 matching runs" in text  # the four runs and the sweep's parent


def test_the_parent_run_shows_its_children(browsed: Browsed):
    (parent,) = parent_runs(browsed.cwd)
    text = rendered_text(f"{browsed.base_url}/#/experiments/{parent.info.experiment_id}/runs/"
                         f"{parent.info.run_id}?workflowType=machine_learning")
    assert parent.info.run_name in text
    children = text.split("Child runs", 1)[1][:400]
    for name in NAMES:
        assert name in children


def test_the_runs_carry_their_arm(browsed: Browsed):
    run = next(run for run in all_runs(browsed.cwd) if run.info.run_name == "sigmoid-s1")
    text = rendered_text(f"{browsed.base_url}/#/experiments/{run.info.experiment_id}/runs/"
                         f"{run.info.run_id}?workflowType=machine_learning")
    assert "nnlab.arm : activation=sigmoid" in text or "nnlab.arm: activation=sigmoid" in text
    assert "nnlab.env.blas_kernel" in text


def test_the_report_artifact_opens_on_the_parent_run(browsed: Browsed):
    (parent,) = parent_runs(browsed.cwd)
    text = rendered_text(f"{browsed.base_url}/#/experiments/{parent.info.experiment_id}/runs/"
                         f"{parent.info.run_id}/artifacts/report/nnlab.md"
                         "?workflowType=machine_learning")
    (question,) = re.findall(r"^\*\*Question\.\*\* (.+)$",
                             (browsed.cwd / "reports" / "nnlab.md").read_text(), re.M)
    assert "report/nnlab.md" in text
    # Rendered, not shown as markdown source.
    assert f"Question. {question}" in text and "**Question.**" not in text
