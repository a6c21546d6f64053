"""The `analysis` block of an experiment file, parsed and checked (its format: nnlab.report).

No pandas and no MLflow here: what a report should compare is decided before any run is read.
"""

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

DEFAULT_METRICS = ("test_loss",)
# The metrics that mean the same whatever cost a run trained with (DESIGN §3).
YARDSTICKS = ("test_mse", "test_mae", "test_accuracy", "train_accuracy", "test_logloss")
DEFAULT_PLOTS = ("distributions", "training_curves", "paired_differences")
KEYS = ("question", "arm", "facet", "baseline", "metrics", "success", "plots", "discussion")


class ReportError(ValueError):
    """A report that cannot be made as asked: one line a user can act on."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    lower_is_better: bool


@dataclass(frozen=True)
class Success:
    metric: str
    threshold: float
    below: bool  # success when metric < threshold; else when metric > threshold
    label: str

    def describe(self) -> str:
        return f"{self.label}: {self.metric} {'<' if self.below else '>'} {self.threshold:g}"


@dataclass(frozen=True)
class Analysis:
    question: str | None = None
    arm: tuple[str, ...] | None = None  # None: the keys that vary across the runs, seed aside
    facet: str | None = None  # a param key: the arms are compared within each of its values
    baseline: Any = None  # an arm's value, or {key: value} for several arm keys
    metrics: tuple[MetricSpec, ...] | None = None  # None: test_loss, then the yardsticks
    success: Success | None = None
    plots: tuple[str, ...] = DEFAULT_PLOTS
    discussion: str | None = None
    source: str | None = field(default=None, compare=False)  # the file the block came from


def lower_is_better(metric: str) -> bool:
    """The default direction: accuracies go up, everything else (losses, times) goes down."""
    return "accuracy" not in metric


def _metric(entry: Any) -> MetricSpec:
    if isinstance(entry, str):
        return MetricSpec(entry, lower_is_better(entry))
    if isinstance(entry, dict) and set(entry) <= {"name", "lower_is_better"} and "name" in entry:
        return MetricSpec(str(entry["name"]),
                          bool(entry.get("lower_is_better", lower_is_better(entry["name"]))))
    raise ReportError(f"analysis.metrics: {entry!r} is not a metric name or "
                        "{name: ..., lower_is_better: true|false}")


def _success(block: Any) -> Success:
    if not isinstance(block, dict) or "metric" not in block or set(block) - {
            "metric", "below", "above", "label"} or ("below" in block) == ("above" in block):
        raise ReportError(f"analysis.success: {block!r} is not "
                            "{metric: NAME, below: X | above: X, label: TEXT}")
    below = "below" in block
    threshold = block["below" if below else "above"]
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ReportError(f"analysis.success: threshold {threshold!r} is not a number") from None
    label = str(block.get("label", "success"))
    return Success(str(block["metric"]), threshold, below, label)


def _names(key: str, value: Any, allow_empty: bool = False) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if (not isinstance(names, list) or not (names or allow_empty)
            or not all(isinstance(n, str) for n in names)):
        raise ReportError(f"analysis.{key}: {value!r} is not a name or a list of names")
    return tuple(names)


def _facet(value: Any, arm: tuple[str, ...] | None) -> str:
    if not isinstance(value, str) or not value:
        raise ReportError(f"analysis.facet: {value!r} is not a param name (e.g. dataset.n_train)")
    if arm and value in arm:
        raise ReportError(f"analysis.facet: {value} is also in analysis.arm: the arms are "
                          "compared within each facet value, so it cannot be both")
    return value


def parse_analysis(block: dict | None, source: str | None = None) -> Analysis:
    """Check an `analysis` block and fill in its defaults; ReportError names what is wrong."""
    block = block or {}
    if not isinstance(block, dict):
        raise ReportError(f"analysis: {block!r} is not a mapping (keys: {', '.join(KEYS)})")
    unknown = sorted(set(block) - set(KEYS))
    if unknown:
        raise ReportError(f"analysis: unknown key {', '.join(unknown)} "
                            f"(allowed: {', '.join(KEYS)})")
    metrics = block.get("metrics")
    if metrics is not None and (not isinstance(metrics, list) or not metrics):
        raise ReportError(f"analysis.metrics: {metrics!r} is not a non-empty list")
    arm = _names("arm", block["arm"]) if block.get("arm") is not None else None
    return Analysis(
        question=block.get("question"),
        arm=arm,
        facet=_facet(block["facet"], arm) if block.get("facet") is not None else None,
        baseline=block.get("baseline"),
        metrics=tuple(_metric(m) for m in metrics) if metrics else None,
        success=_success(block["success"]) if block.get("success") is not None else None,
        plots=_names("plots", block["plots"], allow_empty=True) if "plots" in block
        else DEFAULT_PLOTS,
        discussion=block.get("discussion"),
        source=source,
    )


def experiment_file(name: str) -> Path:
    """Where `+experiment=NAME` reads from: the installed package's conf/experiment/."""
    return Path(str(files("nnlab") / "conf" / "experiment" / f"{name}.yaml"))


def read_experiment(name: str) -> tuple[str, Analysis] | None:
    """The MLflow experiment an experiment file writes to, and its analysis; None if no file."""
    path = experiment_file(name)
    if not path.is_file():
        return None
    content = yaml.safe_load(path.read_text()) or {}
    source = f"experiments/{path.name}"
    try:
        analysis = parse_analysis(content.get("analysis"), source)
    except ReportError as error:
        raise ReportError(f"{source}: {error}") from None
    return str(content.get("experiment_name", name)), analysis
