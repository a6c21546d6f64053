"""The `analysis` block of an experiment file, parsed and checked (its format: nnlab.report).

No pandas and no MLflow here: what a report should compare is decided before any run is read.
"""

import math
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from nnlab import tuning
from nnlab.tuning import Tune, TuneError, lower_is_better

DEFAULT_METRICS = ("test_loss",)
# The metrics that mean the same whatever cost a run trained with (DESIGN §3).
YARDSTICKS = ("test_mse", "test_mae", "test_accuracy", "train_accuracy", "test_logloss")
DEFAULT_SUCCESS_LABEL = "success"
DEFAULT_PLOTS = ("distributions", "training_curves", "paired_differences")
KEYS = ("question", "short_question", "answer", "arm", "facet", "baseline", "metrics",
        "success", "tune", "plots", "discussion", "deviations")
# The forms a comparison ends in (nnlab.report.stats.Form), as an answer declares them.
VERDICTS = ("better", "worse", "equivalent", "inconclusive", "bounded", "not compared")


class ReportError(ValueError):
    """A report that cannot be made as asked: one line a user can act on."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    lower_is_better: bool
    margin: float | None = None  # the smallest difference that matters; None: bounds only


@dataclass(frozen=True)
class Success:
    metric: str
    threshold: float
    below: bool  # success when metric < threshold; else when metric > threshold
    label: str

    def criterion(self) -> str:
        return f"{self.metric} {'<' if self.below else '>'} {self.threshold:g}"

    def describe(self) -> str:
        return self.criterion() if self.label == DEFAULT_SUCCESS_LABEL else (
            f"{self.label}: {self.criterion()}")


@dataclass(frozen=True)
class Deviation:
    """A difference from the tutorial's recipe, and why the experiment makes it."""

    what: str
    why: str


@dataclass(frozen=True)
class Answer:
    """The hand-written answer and the verdict it was written for: one word for every
    comparison, or per arm (an arm's label as the report writes it), and per facet value."""

    text: str
    verdict: str | dict[str, str | dict[str, str]]

    def expected(self, arm: str, facet_value: str | None) -> str | None:
        """The verdict declared for this arm (and facet value); None if none is."""
        if isinstance(self.verdict, str):
            return self.verdict
        declared = self.verdict.get(arm)
        if isinstance(declared, dict):
            return declared.get(facet_value) if facet_value is not None else None
        return declared

    def arms(self) -> list[str]:
        return [] if isinstance(self.verdict, str) else list(self.verdict)


@dataclass(frozen=True)
class Analysis:
    question: str | None = None
    short_question: str | None = None  # for the index; default: the question
    answer: Answer | None = None
    arm: tuple[str, ...] | None = None  # None: the keys that vary across the runs, seed aside
    facet: str | None = None  # a param key: the arms are compared within each of its values
    baseline: Any = None  # an arm's value, or {key: value} for several arm keys
    metrics: tuple[MetricSpec, ...] | None = None  # None: test_loss, then the yardsticks
    success: Success | None = None
    tune: Tune | None = None  # each arm at its own best value of a key (nnlab.tuning)
    plots: tuple[str, ...] = DEFAULT_PLOTS
    discussion: str | None = None
    deviations: tuple[Deviation, ...] = ()  # from the tutorial's recipe, in the setup table
    source: str | None = field(default=None, compare=False)  # the file the block came from


def _metric(entry: Any) -> MetricSpec:
    if isinstance(entry, str):
        return MetricSpec(entry, lower_is_better(entry))
    if (isinstance(entry, dict) and set(entry) <= {"name", "lower_is_better", "margin"}
            and "name" in entry):
        margin = entry.get("margin")
        if margin is not None:
            try:
                margin = float(margin)
            except (TypeError, ValueError):
                margin = math.nan
            if not margin > 0 or not math.isfinite(margin):
                raise ReportError(f"analysis.metrics: {entry['name']}'s margin "
                                  f"{entry['margin']!r} is not a positive number")
        return MetricSpec(str(entry["name"]),
                          bool(entry.get("lower_is_better", lower_is_better(entry["name"]))),
                          margin)
    raise ReportError(f"analysis.metrics: {entry!r} is not a metric name or "
                        "{name: ..., lower_is_better: true|false, margin: X}")


def _verdict_word(value: Any, where: str) -> str:
    if value not in VERDICTS:
        raise ReportError(f"analysis.answer.verdict{where}: {value!r} is not one of "
                          f"{', '.join(VERDICTS)}")
    return value


def _answer(block: Any) -> Answer:
    if (not isinstance(block, dict) or set(block) != {"text", "verdict"}
            or not isinstance(block["text"], str) or not block["text"].strip()):
        raise ReportError(f"analysis.answer: {block!r} is not {{text: ONE OR TWO SENTENCES, "
                          "verdict: WORD | {ARM: WORD | {FACET VALUE: WORD}}}")
    declared = block["verdict"]
    if not isinstance(declared, dict):
        return Answer(block["text"], _verdict_word(declared, ""))
    verdict: dict[str, str | dict[str, str]] = {}
    for arm, value in declared.items():
        if isinstance(value, dict):
            verdict[str(arm)] = {str(facet): _verdict_word(word, f".{arm}.{facet}")
                                 for facet, word in value.items()}
        else:
            verdict[str(arm)] = _verdict_word(value, f".{arm}")
    return Answer(block["text"], verdict)


def parse_success(text: str) -> Success:
    """A criterion from the command line: `test_loss<0.01` or `test_accuracy>0.9`."""
    for sign, below in (("<", True), (">", False)):
        metric, found, threshold = text.partition(sign)
        if found and metric.strip() and threshold.strip():
            try:
                return Success(metric.strip(), float(threshold), below, DEFAULT_SUCCESS_LABEL)
            except ValueError:
                break
    raise ReportError(f"--success {text!r} is not METRIC<X or METRIC>X (e.g. 'test_loss<0.01')")


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
    label = str(block.get("label", DEFAULT_SUCCESS_LABEL))
    return Success(str(block["metric"]), threshold, below, label)


def _deviations(block: Any) -> tuple[Deviation, ...]:
    if not isinstance(block, list):
        raise ReportError(f"analysis.deviations: {block!r} is not a list of "
                          "{what: TEXT, why: TEXT}")
    for entry in block:
        if (not isinstance(entry, dict) or set(entry) != {"what", "why"}
                or not all(isinstance(entry[k], str) and entry[k].strip() for k in entry)):
            raise ReportError(f"analysis.deviations: {entry!r} is not {{what: TEXT, why: TEXT}} "
                              "(a list of them: each difference from the tutorial's recipe "
                              "and its reason)")
    return tuple(Deviation(" ".join(e["what"].split()), " ".join(e["why"].split()))
                 for e in block)


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


def _tune(block: Any, arm: tuple[str, ...] | None, facet: Any, metrics: Any) -> Tune:
    try:
        tune = tuning.parse_tune(block, metrics)
    except TuneError as error:
        raise ReportError(str(error)) from None
    if arm and tune.key in arm:
        raise ReportError(f"analysis.tune.key: {tune.key} is also in analysis.arm: each arm is "
                          "tuned over it, so it cannot be both")
    if facet is not None:
        raise ReportError(f"analysis.facet: {facet} together with analysis.tune is not "
                          "supported (the tuned report's facet is its setting: tutorial, tuned)")
    return tune


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
    parsed_metrics = tuple(_metric(m) for m in metrics) if metrics else None
    return Analysis(
        question=block.get("question"),
        short_question=block.get("short_question"),
        answer=_answer(block["answer"]) if block.get("answer") is not None else None,
        arm=arm,
        facet=_facet(block["facet"], arm) if block.get("facet") is not None else None,
        baseline=block.get("baseline"),
        metrics=parsed_metrics,
        success=_success(block["success"]) if block.get("success") is not None else None,
        tune=_tune(block["tune"], arm, block.get("facet"), metrics)
        if block.get("tune") is not None else None,
        plots=_names("plots", block["plots"], allow_empty=True) if "plots" in block
        else DEFAULT_PLOTS,
        discussion=block.get("discussion"),
        deviations=_deviations(block["deviations"]) if block.get("deviations") is not None
        else (),
        source=source,
    )


def experiment_file(name: str) -> Path:
    """Where `+experiment=NAME` reads from: the installed package's conf/experiment/."""
    return Path(str(files("nnlab") / "conf" / "experiment" / f"{name}.yaml"))


def experiment_names() -> list[str]:
    """Every experiment of experiments/ (conf/experiment/), sorted."""
    return sorted(path.stem for path in experiment_file("x").parent.glob("*.yaml"))


def read_experiment(name: str) -> tuple[str, Analysis] | None:
    """The MLflow experiment an experiment file writes to, and its analysis; None if no file."""
    path = experiment_file(name)
    if not path.is_file():
        return None
    content = yaml.safe_load(path.read_text()) or {}
    source = f"experiments/{path.name}"
    try:
        analysis = parse_analysis(content.get("analysis"), source)
        if analysis.tune is not None:
            _check_tuning_seeds(analysis.tune, content)
    except ReportError as error:
        raise ReportError(f"{source}: {error}") from None
    return str(content.get("experiment_name", name)), analysis


def _check_tuning_seeds(tune: Tune, content: dict) -> None:
    """The tuning seeds apart from the seeds the file's sweep compares (hydra.sweeper.params)."""
    swept = ((content.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    if "seed" not in swept:
        return
    try:
        tuning.check_seeds_apart(tune, tuning.parse_seeds(swept["seed"],
                                                          "hydra.sweeper.params.seed"))
    except TuneError as error:
        raise ReportError(str(error)) from None
