"""The report's figures: seaborn on matplotlib's Agg canvas, one style for every report (STYLE).

An experiment lists its plots by name (`analysis.plots`); each name is a row of PLOTS. Adding a
plot is one function (PlotData -> Figure, or None when there is nothing to draw) and one row.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from nnlab.report.compare import ARM, Setup, paired_values
from nnlab.report.runs import DIVERGED, FINISHED

# The one place the look of the reports is set; render() applies it around every figure, so
# nothing leaks into the matplotlib state of a notebook that imports the report.
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
PALETTE = "colorblind"
DPI = 120
PANEL_SIZE = (4.0, 3.6)  # inches per metric panel
PANELS_PER_ROW = 3
# Values spread over more than this factor are drawn on a log axis.
LOG_SPREAD = 30.0
LONG_LABEL = 12  # characters: longer arm names are slanted so that they do not collide
MEAN_OFFSET = 0.3  # where the mean and its CI sit, right of an arm's points
METRIC_LABELS = {
    "test_loss": "test loss (per sample)",
    "final_train_loss": "final train loss (per sample)",
    "train_loss": "train loss (batch, per sample)",
    "test_mse": "test MSE",
    "test_mae": "test MAE",
    "test_accuracy": "test accuracy (fraction)",
    "train_accuracy": "train accuracy (fraction)",
    "test_logloss": "test log-loss (nats)",
    "train_time_s": "training time (s)",
    "steps": "steps (updates)",
    "dead_units_frac": "dead hidden units (fraction)",
}


@dataclass
class PlotData:
    runs: pd.DataFrame  # the selected runs, with their arm
    setup: Setup
    paired: pd.DataFrame  # compare.paired_table
    load_curves: Callable[[list[str]], pd.DataFrame]  # run ids -> run_id, step, value

    @cached_property
    def palette(self) -> dict[str, tuple]:
        return dict(zip(self.setup.arms, sns.color_palette(PALETTE, len(self.setup.arms)),
                        strict=True))

    @cached_property
    def finished(self) -> pd.DataFrame:
        return self.runs[self.runs["outcome"] == FINISHED]

    @cached_property
    def curves(self) -> pd.DataFrame:
        """train_loss per step of the finished runs, with their arm (fetched on first use)."""
        curves = self.load_curves(list(self.finished["run_id"]))
        return curves.merge(self.finished[["run_id", ARM]], on="run_id")


@dataclass(frozen=True)
class Plot:
    draw: Callable[[PlotData], Figure | None]
    caption: str


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _panels(count: int) -> tuple[Figure, list[Axes]]:
    columns = min(count, PANELS_PER_ROW)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows),
                    layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


class _PlainLogFormatter(LogFormatter):
    """Log-axis labels as plain numbers (0.001): mathtext's 10^-3 doubles the time to save."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _log_if_spread(ax: Axes, values: pd.Series) -> None:
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > LOG_SPREAD:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PlainLogFormatter())
        # Within two decades, label some minor ticks too: one labelled tick reads badly.
        ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False,
                                                        minor_thresholds=(2, 0.5)))


def _legend_below(figure: Figure, ax: Axes) -> None:
    """The legend of one panel under the figure: inside, it would cover some seed's point."""
    figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize="small")


def _arm_axis(ax: Axes, data: PlotData, arms: list[str]) -> None:
    """Arms on x, each with its count of diverged runs (which have no value to plot)."""
    diverged = data.runs[data.runs["outcome"] == DIVERGED].groupby(ARM).size()
    labels = [f"{arm}\n({diverged[arm]} diverged)" if diverged.get(arm) else arm
              for arm in arms]
    if max(map(len, arms)) > LONG_LABEL:
        ax.set_xticks(range(len(arms)), labels, rotation=30, ha="right",
                      rotation_mode="anchor")
    else:
        ax.set_xticks(range(len(arms)), labels)
    ax.set_xlabel(data.setup.arm_title)


def distributions(data: PlotData) -> Figure | None:
    """Per metric: every seed's value over a box per arm, the success threshold if any."""
    arms = list(data.setup.arms)
    figure, axes = _panels(len(data.setup.metrics))
    for ax, metric in zip(axes, data.setup.metrics, strict=True):
        common = {"data": data.finished, "x": ARM, "y": metric.name, "order": arms, "ax": ax}
        with warnings.catch_warnings():
            # seaborn 0.13 passes boxplot's `vert`, which matplotlib 3.11 deprecates.
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(**common, hue=ARM, hue_order=arms, palette=data.palette,
                        showfliers=False, width=0.5, legend=False, boxprops={"alpha": 0.6})
        sns.swarmplot(**common, color="0.15", size=3.5, alpha=0.8)
        _log_if_spread(ax, data.finished[metric.name])
        success = data.setup.success
        if success is not None and success.metric == metric.name:
            ax.axhline(success.threshold, color="0.3", ls="--", lw=1,
                       label=f"success: {success.describe()}")
            _legend_below(figure, ax)
        _arm_axis(ax, data, arms)
        ax.set_ylabel(metric_label(metric.name))
        ax.set_title(f"{metric.name} ({'lower' if metric.lower_is_better else 'higher'} "
                     "is better)")
    return figure


def training_curves(data: PlotData) -> Figure | None:
    """train_loss per step: every seed faintly, the median and the interquartile band per arm."""
    curves = data.curves
    if curves.empty:
        return None
    arms = [arm for arm in data.setup.arms if arm in set(curves[ARM])]
    figure = Figure(figsize=(8, 4.2), layout="constrained")
    ax = figure.add_subplot()
    sns.lineplot(data=curves, x="step", y="value", hue=ARM, hue_order=arms,
                 palette=data.palette, units="run_id", estimator=None, lw=0.5, alpha=0.15,
                 legend=False, ax=ax)
    # Quantiles in one groupby: seaborn's own estimator runs Python per step (1 s for 300).
    bands = curves.groupby([ARM, "step"])["value"].quantile([0.25, 0.5, 0.75]).unstack()
    seeds = curves.groupby(ARM)["run_id"].nunique()
    for arm in arms:
        band = bands.loc[arm]
        ax.fill_between(band.index, band[0.25], band[0.75], color=data.palette[arm], alpha=0.25,
                        lw=0)
        ax.plot(band.index, band[0.5], color=data.palette[arm], lw=2,
                label=f"{arm} (n={seeds[arm]})")
    _log_if_spread(ax, curves["value"])
    figure.legend(*ax.get_legend_handles_labels(), loc="outside right upper",
                  title=f"{data.setup.arm_title}:\nmedian, IQR band", fontsize="small")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step (optimizer update)")
    ax.set_ylabel(metric_label("train_loss"))
    diverged = int((data.runs["outcome"] == DIVERGED).sum())
    ax.set_title("Training curves" + (f" ({diverged} diverged runs not drawn)" if diverged
                                      else ""))
    return figure


def paired_differences(data: PlotData) -> Figure | None:
    """Per metric: each seed's difference from the baseline, with the mean and its 95% CI."""
    others = list(data.setup.arms[1:])
    paired = {metric: paired_values(data.runs, data.setup, metric.name)
              for metric in data.setup.metrics}
    paired = {metric: pairs for metric, pairs in paired.items() if not pairs.empty}
    if not others or not paired:
        return None
    figure, axes = _panels(len(paired))
    for ax, (metric, pairs) in zip(axes, paired.items(), strict=True):
        sns.swarmplot(data=pairs, x=ARM, y="difference", order=others, hue=ARM,
                      hue_order=others, palette=data.palette, size=4, alpha=0.8, legend=False,
                      ax=ax)
        ax.axhline(0, color="0.3", lw=1)
        table = data.paired[data.paired["metric"] == metric.name].set_index(ARM)
        # Beside each arm's points, not over them.
        positions = [others.index(arm) + MEAN_OFFSET for arm in table.index]
        ax.errorbar(positions, table["mean_difference"],
                    yerr=[table["mean_difference"] - table["ci_low"],
                          table["ci_high"] - table["mean_difference"]],
                    fmt="D", color="k", ms=5, capsize=4, label="mean, 95% CI")
        ax.set_xlim(-0.5, len(others) - 0.5)
        _arm_axis(ax, data, others)
        ax.set_ylabel(f"arm − baseline:\n{metric_label(metric.name)}")
        ax.set_title(f"{metric.name}, paired by seed")
    figure.suptitle(f"Each arm minus the baseline, {data.setup.baseline}, seed by seed")
    _legend_below(figure, axes[0])
    return figure


PLOTS: dict[str, Plot] = {
    "distributions": Plot(distributions, "Each point is one seed's finished run; boxes show "
                          "the quartiles per arm; diverged runs have no value, their count "
                          "is under the arm's name."),
    "training_curves": Plot(training_curves, "train_loss per step: each seed faintly, the "
                            "median over seeds in bold, the interquartile range shaded."),
    "paired_differences": Plot(paired_differences, "Per seed, the arm's value minus the "
                               "baseline's (same data and initial weights); diamond: mean "
                               "difference with its 95% CI."),
}


def render(name: str, data: PlotData, path: Path) -> bool:
    """Draw plot `name` into path (PNG) in the report style; False when there is nothing to draw."""
    with matplotlib.rc_context(STYLE):
        figure = PLOTS[name].draw(data)
        if figure is None:
            return False
        FigureCanvasAgg(figure)
        figure.savefig(path, dpi=DPI)
    return True
