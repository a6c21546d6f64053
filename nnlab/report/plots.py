"""The report's figures: seaborn on matplotlib's Agg canvas, one style for every report (STYLE).

An experiment lists its plots by name (`analysis.plots`); each name is a row of PLOTS. Adding a
plot is one function (PlotData -> Drawn: a figure and a note for its caption, or no figure and
why) and one row. With a facet, a plot draws a panel per facet value, side by side.
"""

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath
from matplotlib.ticker import (
    FixedLocator,
    LogLocator,
    MaxNLocator,
    NullLocator,
    PercentFormatter,
    StrMethodFormatter,
)

from nnlab import contract, figures
from nnlab.data import Dataset
from nnlab.engine import Network
from nnlab.report.compare import ARM, Comparison, Design, metric_table, paired_values, value_text
from nnlab.report.runs import Outcome

# The one place the look of the reports is set; render() applies it around every figure, so
# nothing leaks into the matplotlib state of a notebook that imports the report. The figures are
# shown scaled to the page's width (a 1440 px figure at about 60%): text smaller than this scale's
# would be hard to read there.
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.9)}
PALETTE = "colorblind"
# Two series that are not arms (train and test, L1 and L2): greys and markers, as colours mean
# arms in every other figure of a report.
NON_ARM_STYLES = ({"color": "0.1", "marker": "o"}, {"color": "0.55", "marker": "s"})
LINE_STYLES = ("-", "--", ":", "-.")  # one per value of an arm's second key
DPI = 120
PANEL_SIZE = (4.0, 3.6)  # inches per metric panel; wider when the arms' labels need it
PANELS_PER_ROW = 3
MAX_FIGURE_WIDTH = 12.8  # inches: arm panels widen up to this in all; beyond, labels slant
AXIS_MARGIN = 0.8  # inches of an arm panel taken by the y axis's labels
ARM_GAP = 0.08  # inches between the tick labels of two arms
# Inches a legend entry takes besides its label: handle, padding, the space between columns.
LEGEND_ENTRY = 0.7
WIDE_PANEL = (8.0, 4.2)  # inches: the one panel of an unfaceted figure with many lines
BOUNDARY_PANEL = (3.2, 3.0)  # inches per decision-boundary panel
BOUNDARIES_PER_ROW = 4
# Values spread over more than this factor are drawn on a log axis.
LOG_SPREAD = 30.0
# A symlog axis spans at most this many decades: smaller differences are as good as 0 beside the
# largest, and sit in its linear part.
SYMLOG_DECADES = 3
# A log axis over at most this many decades (per axis: x labels are wider than tall) is labelled
# at 1, 2 and 5 x 10^k, over more at 10^k only: labels at 3, 4, 6... x 10^k collide, and a single
# labelled tick reads badly.
LABEL_125_DECADES = {"x": 2.5, "y": 3.0}
POINT_SIZE = 3.5  # points: a run's marker over the boxes
BOX_WIDTH = 0.5  # of an arm's slot
SWARM_WIDTH = 0.8  # of an arm's slot: seaborn's swarm width, beyond which points pile up
# paired_differences, in arm slots: the seeds' points jittered over the slot's left part, the
# mean and its CI clear of them on the right.
PAIRED_POINTS, PAIRED_JITTER, MEAN_OFFSET = -0.12, 0.2, 0.3
DODGE = 0.1  # how far two series at the same arm sit left and right of it
LOG_DODGE = 0.04  # decades: the same on a log axis (metric_by_strength)
# Of the dead-units axis: a quarter of 1/16 (one unit of 16), so that runs of neighbouring
# fractions stay apart.
DEAD_JITTER = 0.015
MANY_ARMS = 4  # beyond this, training_curves draws its seeds and bands fainter
ARMS_PER_LEGEND_ROW = 3
PENALTIES = {"l1": "L1", "l2": "L2"}  # the arm keys that are penalty strengths, as drawn
LOSS_KEY = "loss"  # the param that chooses the training loss
METRIC_LABELS = {
    "test_loss": "test loss (per sample)",
    "final_train_loss": "final train loss (per sample)",
    contract.TRAIN_LOSS_SERIES: "train loss (batch, per sample)",
    "test_mse": "test MSE",
    "test_mae": "test MAE",
    "test_accuracy": "test accuracy (fraction)",
    "train_accuracy": "train accuracy (fraction)",
    "test_logloss": "test log-loss (nats)",
    "train_time_s": "training time (s)",
    "steps": "steps (updates)",
    "time_per_step_ms": "time per step (ms)",
    "steps_to_threshold": "steps to the loss threshold (updates)",
    "dead_units_frac": "dead hidden units (fraction)",
}

Row = TypeVar("Row")


@dataclass
class PlotData:
    runs: pd.DataFrame  # the selected runs, with their arm
    design: Design
    comparisons: list[Comparison]  # one per facet value; one of all runs without a facet
    load_curves: Callable[[list[str]], pd.DataFrame]  # run ids -> run_id, step, value
    load_fit: Callable[[str], tuple[Network, Dataset]]  # run id -> trained net, its data

    @cached_property
    def palette(self) -> dict[str, tuple]:
        arms = self.design.sorted_arms
        return dict(zip(arms, sns.color_palette(PALETTE, len(arms)), strict=True))

    @cached_property
    def arm_values(self) -> dict[str, tuple[str, ...]]:
        """Each arm's value of each arm key, as text: its label without the keys' names."""
        keys = list(self.design.arm_keys)
        if not keys:
            return {arm: (arm,) for arm in self.design.arms}
        first = self.runs.drop_duplicates(ARM).set_index(ARM)[keys]
        return {arm: tuple(map(value_text, first.loc[arm])) for arm in self.design.arms}

    def short_label(self, arm: str) -> str:
        """The arm's values, for a legend or axis whose title names the keys."""
        return ", ".join(self.arm_values[arm])

    @cached_property
    def finished(self) -> pd.DataFrame:
        return self.runs[self.runs["outcome"] == Outcome.FINISHED]

    @cached_property
    def curves(self) -> pd.DataFrame:
        """train_loss per step of the finished runs, with their arm (fetched on first use)."""
        curves = self.load_curves(list(self.finished["run_id"]))
        return curves.merge(self.finished[["run_id", ARM]], on="run_id")


@dataclass(frozen=True)
class Drawn:
    """What a plot function returns: its figure, or None and why there is nothing to draw."""

    figure: Figure | None
    note: str = ""  # added to the caption (which run it shows, what it leaves out)


@dataclass(frozen=True)
class Plot:
    draw: Callable[[PlotData], Drawn]
    caption: str


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _panels(count: int, columns: int = PANELS_PER_ROW,
            size: tuple[float, float] = PANEL_SIZE) -> tuple[Figure, list[Axes]]:
    columns = min(count, columns)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(size[0] * columns, size[1] * rows), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def _columns(data: PlotData, count: int) -> int:
    """A column per facet value; without a facet, `count` panels wrap at PANELS_PER_ROW."""
    return len(data.comparisons) if data.design.facet else min(count, PANELS_PER_ROW)


def _facet_grid(data: PlotData, rows: Sequence[Row], size: tuple[float, float] = PANEL_SIZE,
                ) -> tuple[Figure, list[tuple[Axes, Comparison, Row]]]:
    """A panel per row item (a metric, say) and facet value: a column per facet value; without
    a facet, the row items wrap at PANELS_PER_ROW."""
    cells = [(comparison, row) for row in rows for comparison in data.comparisons]
    figure, axes = _panels(len(cells), _columns(data, len(cells)), size)
    return figure, [(ax, comparison, row) for ax, (comparison, row)
                    in zip(axes, cells, strict=True)]


def _title(text: str, comparison: Comparison) -> str:
    return f"{text}\n{comparison.short_title}" if comparison.short_title else text


def _log_scale(ax: Axes, which: str, low: float, high: float) -> None:
    """A log axis over [low, high] (the data's range), labelled in plain numbers: mathtext's
    10^-3 doubles the time to save. Every label is a major tick's, so all sit level."""
    if which == "y":
        ax.set_yscale("log")
        axis = ax.yaxis
    else:
        ax.set_xscale("log")
        axis = ax.xaxis
    few = math.log10(high / low) <= LABEL_125_DECADES[which]
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if few else (1.0,)))
    _plain_labels(axis)


def _plain_labels(axis: Axis) -> None:
    """Plain-number labels on the major ticks of a log or symlog axis, none on minor ones."""
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    # Unlabelled, the minor ticks are invisible in this style: dozens of artists for nothing.
    axis.set_minor_locator(NullLocator())


def _log_if_spread(ax: Axes, values: pd.Series) -> None:
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > LOG_SPREAD:
        _log_scale(ax, "y", values.min(), values.max())


def _symlog_if_spread(ax: Axes, pairs: pd.DataFrame) -> bool:
    """A symmetric log y axis where the largest difference dwarfs an arm's typical one (its
    median nonzero size), which a linear axis would flatten onto 0: linear within that typical
    size (down to a power of ten, SYMLOG_DECADES below the largest at most), 0 included,
    logarithmic beyond. Whether it did."""
    size = pairs["difference"].abs()
    typical = size[size > 0].groupby(pairs[ARM]).median()
    if typical.empty or size.max() / typical.min() <= LOG_SPREAD:
        return False
    linear = max(typical.min(), size.max() / 10 ** SYMLOG_DECADES)
    ax.set_yscale("symlog", linthresh=10 ** math.floor(math.log10(linear)))
    _plain_labels(ax.yaxis)
    return True


def _text_width(text: str, size: float) -> float:
    """Inches the text's longest line takes at this font size (points), in the style's font."""
    font = FontProperties(size=size)
    return max(TextToPath().get_text_width_height_descent(line, font, ismath=False)[0]
               for line in text.split("\n")) / 72


def _legend_below(figure: Figure, ax: Axes, columns: int = 1) -> None:
    """The legend of one panel under the figure: inside, it would cover some seed's point."""
    figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=columns)


def _arm_legend(figure: Figure, data: PlotData, arms: list[str],
                extra: Sequence[Line2D] = ()) -> None:
    """A marker per arm in its colour, and any extra handles, under the panels: beside them,
    the legend would take half the width of a one-panel figure."""
    handles = [*(Line2D([], [], ls="", marker="o", color=data.palette[arm],
                        label=data.short_label(arm)) for arm in arms), *extra]
    # Up to ARMS_PER_LEGEND_ROW columns, as many as fit the figure's width: the legend is cut
    # where it is wider. Filled column by column, each as wide as its widest label.
    widths = [_text_width(handle.get_label(), matplotlib.rcParams["legend.fontsize"])
              for handle in handles]
    columns = min(len(handles), ARMS_PER_LEGEND_ROW)
    while columns > 1:
        rows = math.ceil(len(handles) / columns)
        width = sum(LEGEND_ENTRY + max(widths[i:i + rows]) for i in range(0, len(handles), rows))
        if width <= figure.get_figwidth():
            break
        columns -= 1
    figure.legend(handles=handles, loc="outside lower center", title=data.design.arm_title,
                  ncols=columns)


@dataclass(frozen=True)
class _ArmAxis:
    """A panel's arms on x, a slot each: their values (the axis title names the keys) and what
    has no value to plot, stacked on lines under the tick, or on one slanted line if they do not
    fit side by side."""

    values: list[tuple[str, ...]]
    notes: list[str]  # per arm: "(2 diverged)", or ""
    title: str
    slanted: bool
    slot: float  # inches per arm

    def draw(self, ax: Axes) -> None:
        # Slanted, a label of several lines would run into its neighbour's: one line each.
        between_values, before_note = (", ", " ") if self.slanted else ("\n", "\n")
        labels = [before_note.join(filter(None, [between_values.join(values), note]))
                  for values, note in zip(self.values, self.notes, strict=True)]
        ticks = range(len(labels))
        if self.slanted:
            ax.set_xticks(ticks, labels, rotation=30, ha="right", rotation_mode="anchor")
        else:
            ax.set_xticks(ticks, labels)
        ax.set_xlim(-0.5, len(self.values) - 0.5)
        ax.xaxis.grid(False)  # as seaborn's categorical axes: a line per arm would cut its slot
        ax.set_xlabel(self.title)


def _no_value_notes(runs: pd.DataFrame, arms: list[str], metric: str | None) -> list[str]:
    """Per arm, its runs that have no value to plot: diverged, or finished without `metric`
    (steps_to_threshold, say, of a run that never reached the threshold)."""
    diverged = runs[runs["outcome"] == Outcome.DIVERGED].groupby(ARM).size()
    finished = runs[runs["outcome"] == Outcome.FINISHED]
    missing = (finished[finished[metric].isna()].groupby(ARM).size() if metric
               else pd.Series(dtype=int))
    notes = []
    for arm in arms:
        counts = [f"{count} {what}" for count, what in ((diverged.get(arm, 0), "diverged"),
                                                        (missing.get(arm, 0), "no value"))
                  if count]
        notes.append(f"({', '.join(counts)})" if counts else "")
    return notes


def _arm_grid(data: PlotData, rows: Sequence[Row], arms: list[str],
              metric: Callable[[Row], str | None] = lambda row: None,
              ) -> tuple[Figure, list[tuple[Axes, Comparison, Row, _ArmAxis]]]:
    """A _facet_grid of panels with the arms on x, each panel as wide as its arms' tick labels
    need side by side (the figure up to MAX_FIGURE_WIDTH), each with its _ArmAxis to draw once
    the panel is plotted (seaborn sets its own ticks). metric(row): the metric whose missing
    values the labels count."""
    cells = [(comparison, row) for row in rows for comparison in data.comparisons]
    values = [data.arm_values[arm] for arm in arms]
    notes = [_no_value_notes(comparison.runs, arms, metric(row)) for comparison, row in cells]
    size = matplotlib.rcParams["xtick.labelsize"]
    # Each arm's widest label line in any panel; two neighbours' labels, centred on their
    # ticks, meet half of each of them away from the slot's edge.
    widths = [max(_text_width(line, size) for line in [*arm_values, *arm_notes])
              for arm_values, *arm_notes in zip(values, *notes, strict=True)]
    half_pairs = [(left + right) / 2 for left, right in pairwise(widths)] or widths
    needed = AXIS_MARGIN + len(arms) * (max(half_pairs) + ARM_GAP)
    width = max(PANEL_SIZE[0], min(needed, MAX_FIGURE_WIDTH / _columns(data, len(cells))))
    figure, grid = _facet_grid(data, rows, (width, PANEL_SIZE[1]))
    slot = (width - AXIS_MARGIN) / len(arms)
    return figure, [(ax, comparison, row,
                     _ArmAxis(values, panel, data.design.arm_title, needed > width, slot))
                    for (ax, comparison, row), panel in zip(grid, notes, strict=True)]


def _jittered(ax: Axes, points: pd.DataFrame, y: str, arms: list[str], offset: float,
              half_width: float, **style) -> None:
    """Each point at its arm's slot + offset, spread sideways at random within ±half_width (of a
    slot), so that tied values show."""
    x = points[ARM].map({arm: i for i, arm in enumerate(arms)}).to_numpy(dtype=float)
    ax.scatter(x + offset + _spread(len(points), half_width), points[y], s=POINT_SIZE ** 2,
               lw=0, zorder=3, **style)


def _spread(count: int, half_width: float) -> np.ndarray:
    """Sideways offsets within ±half_width, seeded: a report redrawn is the same picture."""
    return np.random.default_rng(0).uniform(-half_width, half_width, count)


def _missing(data: PlotData, metrics: Sequence[str]) -> list[str]:
    """The metrics no finished run logged."""
    return [m for m in metrics if m not in data.finished or data.finished[m].isna().all()]


def _success_line(ax: Axes, data: PlotData, metric: str) -> bool:
    """The success threshold across a panel of `metric`, if success is judged on it: over the
    points, as it often sits a hair from many of them (0.99 against accuracies of 1)."""
    success = data.design.success
    if success is None or success.metric != metric:
        return False
    ax.axhline(success.threshold, color="0.3", ls="--", lw=1.2, zorder=4,
               label=f"success: {success.describe()}")
    return True


def distributions(data: PlotData) -> Drawn:
    """Per metric: every seed's value over a box per arm, the success threshold if any."""
    arms = list(data.design.sorted_arms)
    figure, cells = _arm_grid(data, data.design.metrics, arms, lambda metric: metric.name)
    with_threshold = None
    for ax, comparison, metric, arm_axis in cells:
        points = comparison.finished[[ARM, metric.name]].dropna()
        common = {"data": points, "x": ARM, "y": metric.name, "order": arms, "ax": ax}
        with warnings.catch_warnings():
            # seaborn 0.13 passes boxplot's `vert`, which matplotlib 3.11 deprecates.
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(**common, hue=ARM, hue_order=arms, palette=data.palette,
                        showfliers=False, width=BOX_WIDTH, legend=False,
                        boxprops={"alpha": 0.6})
        # A swarm lays tied values side by side: more than its slot holds (accuracies of 1, say)
        # pile up or spill into the next arm's, so those are jittered within the slot instead.
        ties = points.groupby([ARM, metric.name]).size()
        if len(ties) and ties.max() * POINT_SIZE > SWARM_WIDTH * arm_axis.slot * 72:
            _jittered(ax, points, metric.name, arms, 0.0, SWARM_WIDTH / 2, color="0.15",
                      alpha=0.6)
        else:
            sns.swarmplot(**common, color="0.15", size=POINT_SIZE, alpha=0.8)
        _log_if_spread(ax, points[metric.name])
        if _success_line(ax, data, metric.name):
            with_threshold = ax
        arm_axis.draw(ax)
        ax.set_ylabel(metric_label(metric.name))
        ax.set_title(_title(f"{metric.name} ({'lower' if metric.lower_is_better else 'higher'} "
                            "is better)", comparison))
    if with_threshold is not None:
        _legend_below(figure, with_threshold)
    return Drawn(figure)


def _line_styles(data: PlotData, arms: list[str]) -> dict[str, str]:
    """A line style per value of the second arm key (solid, dashed...), so that arms of two keys
    differ by more than a colour; solid for all with one key."""
    if len(data.design.arm_keys) < 2:
        return dict.fromkeys(arms, "-")
    seconds = list(dict.fromkeys(data.arm_values[arm][1] for arm in arms))
    return {arm: LINE_STYLES[seconds.index(data.arm_values[arm][1]) % len(LINE_STYLES)]
            for arm in arms}


def training_curves(data: PlotData) -> Drawn:
    """train_loss per step: every seed faintly, the median and the interquartile band per arm."""
    curves = data.curves
    if curves.empty:
        return Drawn(None, f"no finished run logged {contract.TRAIN_LOSS_SERIES}")
    arms = [arm for arm in data.design.sorted_arms if arm in set(curves[ARM])]
    styles = _line_styles(data, arms)
    # Many arms' seeds and bands, drawn as for a few, would bury the medians.
    faint = min(1.0, MANY_ARMS / len(arms))
    ylabel = metric_label(contract.TRAIN_LOSS_SERIES)
    if LOSS_KEY in data.design.arm_keys:
        ylabel += ":\neach arm's own loss, not comparable across arms"
    figure, cells = _facet_grid(data, [None], WIDE_PANEL if len(data.comparisons) == 1
                                else PANEL_SIZE)
    counts: dict[str, list[str]] = {arm: [] for arm in arms}  # seeds per panel
    for ax, comparison, _ in cells:
        panel = curves[curves["run_id"].isin(comparison.finished["run_id"])]
        sns.lineplot(data=panel, x="step", y="value", hue=ARM, hue_order=arms,
                     palette=data.palette, units="run_id", estimator=None, lw=0.5,
                     alpha=0.15 * faint, legend=False, zorder=1, ax=ax)
        # Quantiles in one groupby: seaborn's own estimator runs Python per step (1 s for 300).
        bands = panel.groupby([ARM, "step"])["value"].quantile([0.25, 0.5, 0.75]).unstack()
        seeds = panel.groupby(ARM)["run_id"].nunique()
        for arm in arms:
            counts[arm].append(str(seeds.get(arm, 0)))
            if arm not in seeds:
                continue
            band = bands.loc[arm]
            ax.fill_between(band.index, band[0.25], band[0.75], color=data.palette[arm],
                            alpha=0.25 * faint, lw=0, zorder=2)
            # Every median over every band: a band drawn later would veil the medians before.
            ax.plot(band.index, band[0.5], color=data.palette[arm], ls=styles[arm], lw=2,
                    zorder=3)
        _log_if_spread(ax, panel["value"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step (optimizer update)")
        ax.set_ylabel(ylabel)
        diverged = int((comparison.runs["outcome"] == Outcome.DIVERGED).sum())
        ax.set_title(_title("Training curves" + (f" ({diverged} diverged runs not drawn)"
                                                 if diverged else ""), comparison))
    handles = [Line2D([], [], color=data.palette[arm], ls=styles[arm], lw=2,
                      label=f"{data.short_label(arm)} (n={'/'.join(counts[arm])})")
               for arm in arms]
    figure.legend(handles=handles, loc="outside right upper",
                  title=f"{data.design.arm_title}:\nmedian, IQR band"
                  + ("\n(n per panel)" if data.design.facet else ""))
    return Drawn(figure)


def paired_differences(data: PlotData) -> Drawn:
    """Per metric: each seed's difference from the baseline, with the mean and its 95% CI."""
    others = [arm for arm in data.design.sorted_arms if arm != data.design.baseline]
    if not others:
        return Drawn(None, "one arm only: nothing to pair")
    pairs = {(comparison.value, metric): paired_values(comparison.runs, data.design,
                                                       metric.name)
             for comparison in data.comparisons for metric in data.design.metrics}
    metrics = [metric for metric in data.design.metrics
               if any(not pairs[c.value, metric].empty for c in data.comparisons)]
    if not metrics:
        return Drawn(None, "no seed has a finished run in an arm and in the baseline")
    figure, cells = _arm_grid(data, metrics, others)
    for ax, comparison, metric, arm_axis in cells:
        panel = pairs[comparison.value, metric]
        _jittered(ax, panel, "difference", others, PAIRED_POINTS, PAIRED_JITTER,
                  c=[data.palette[arm] for arm in panel[ARM]], alpha=0.8)
        ax.axhline(0, color="0.3", lw=1)
        table = comparison.paired[comparison.paired["metric"] == metric.name].set_index(ARM)
        positions = [others.index(arm) + MEAN_OFFSET for arm in table.index]
        ax.errorbar(positions, table["mean_difference"],
                    yerr=[table["mean_difference"] - table["ci_low"],
                          table["ci_high"] - table["mean_difference"]],
                    fmt="D", color="k", ms=5, capsize=4, label="mean, 95% CI")
        symlog = _symlog_if_spread(ax, panel)
        arm_axis.draw(ax)
        ax.set_ylabel(f"arm − baseline{', symlog scale' if symlog else ''}:\n"
                      f"{metric_label(metric.name)}")
        ax.set_title(_title(f"{metric.name}, paired by seed", comparison))
    figure.suptitle(f"Each arm minus the baseline, {data.design.baseline}, seed by seed")
    _legend_below(figure, cells[0][0])
    dropped = [metric.name for metric in data.design.metrics if metric not in metrics]
    return Drawn(figure, f"Not drawn: {', '.join(dropped)}, as no seed has a value in both "
                         "an arm and the baseline." if dropped else "")


def success_rates(data: PlotData) -> Drawn:
    """Per arm: the success rate with its Wilson 95% interval, and the count it comes from."""
    success = data.design.success
    if success is None:
        return Drawn(None, "the analysis sets no success criterion")
    arms = list(data.design.sorted_arms)
    figure, cells = _arm_grid(data, [None], arms)
    for ax, comparison, _, arm_axis in cells:
        table = comparison.success.set_index(ARM)
        for position, arm in enumerate(arms):
            row = table.loc[arm]
            if not row["n"]:
                continue
            ax.errorbar(position, row["rate"], yerr=[[row["rate"] - row["ci_low"]],
                                                     [row["ci_high"] - row["rate"]]],
                        fmt="o", color=data.palette[arm], ms=7, capsize=5, lw=1.5)
            ax.annotate(f"{int(row['successes'])}/{int(row['n'])}", (position, row["rate"]),
                        xytext=(7, 0), textcoords="offset points", va="center")
        ax.set_ylim(-0.05, 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        arm_axis.draw(ax)
        ax.set_xlim(right=len(arms))  # room for the last arm's count, right of its point
        ax.set_ylabel("success rate (% of runs)")
        ax.set_title(_title(f"Success: {success.describe()}", comparison))
    # A neutral glyph for the legend: every arm has its own colour.
    proxy = cells[0][0].errorbar([np.nan], [np.nan], yerr=[[np.nan], [np.nan]], fmt="o",
                                 color="0.3", capsize=5,
                                 label="rate (successes/runs), Wilson 95% interval")
    figure.legend(handles=[proxy], loc="outside lower center")
    return Drawn(figure)


def _mean_with_ci(ax: Axes, x: np.ndarray, table: pd.DataFrame, **style) -> None:
    """Means (table: metric_table rows) at x with their 95% CIs as error bars."""
    ax.errorbar(x, table["mean"], yerr=[table["mean"] - table["ci_low"],
                                        table["ci_high"] - table["mean"]],
                capsize=3, lw=1.2, ms=6, **style)


def train_vs_test(data: PlotData) -> Drawn:
    """Per arm in sorted order: mean train and test accuracy over seeds, with 95% CIs."""
    metrics = ["train_accuracy", "test_accuracy"]
    missing = _missing(data, metrics)
    if missing:
        return Drawn(None, f"no finished run logged {', '.join(missing)} (classification only)")
    arms = list(data.design.sorted_arms)
    figure, cells = _arm_grid(data, [None], arms)
    for ax, comparison, _, arm_axis in cells:
        table = metric_table(comparison.runs, data.design, metrics).set_index(ARM)
        for offset, metric, style in zip((-DODGE, DODGE), metrics, NON_ARM_STYLES, strict=True):
            rows = table[table["metric"] == metric].reindex(arms)
            _mean_with_ci(ax, np.arange(len(arms)) + offset, rows, **style,
                          label=f"{metric.replace('_', ' ')}: mean, 95% CI")
        arm_axis.draw(ax)
        ax.set_ylabel("accuracy (fraction correct)")
        ax.set_title(_title("Train vs test accuracy", comparison))
    _legend_below(figure, cells[0][0])
    return Drawn(figure)


def accuracy_vs_time(data: PlotData) -> Drawn:
    """Every finished run: test accuracy against training time, each arm's median larger."""
    x, y = "train_time_s", "test_accuracy"
    missing = _missing(data, [x, y])
    if missing:
        return Drawn(None, f"no finished run logged {', '.join(missing)}")
    arms = list(data.design.sorted_arms)
    times = data.finished[x][data.finished[x] > 0]
    # A decade at least, so that 1, 2 and 5 x 10^k label it at both ends and between. The same
    # for every panel, so that the facet values compare.
    pad = max(1.15, math.sqrt(10 * times.min() / times.max()))
    low, high = times.min() / pad, times.max() * pad
    figure, cells = _facet_grid(data, [None])
    for ax, comparison, _ in cells:
        points = comparison.finished
        sns.scatterplot(data=points, x=x, y=y, hue=ARM, hue_order=arms, palette=data.palette,
                        s=22, alpha=0.6, legend=False, ax=ax)
        medians = points.groupby(ARM)[[x, y]].median().reindex(arms).dropna()
        ax.scatter(medians[x], medians[y], s=120, marker="D", zorder=3, edgecolors="k",
                   linewidths=1.2, c=[data.palette[arm] for arm in medians.index])
        _log_scale(ax, "x", low, high)
        ax.set_xlim(low, high)
        ax.set_xlabel(f"{metric_label(x)}, log scale")
        ax.set_ylabel(metric_label(y))
        ax.set_title(_title("Test accuracy vs training time", comparison))
    median = Line2D([], [], ls="", marker="D", ms=9, markerfacecolor="w",
                    markeredgecolor="k", label="the arm's median\n(time, accuracy)")
    _arm_legend(figure, data, arms, [median])
    return Drawn(figure)


def loss_vs_dead_units(data: PlotData) -> Drawn:
    """Every finished run: the primary metric against its fraction of dead hidden units."""
    x, metric = "dead_units_frac", data.design.primary.name
    if _missing(data, [x]):
        return Drawn(None, "no finished run logged dead_units_frac (ReLU hidden layers only)")
    arms = list(data.design.sorted_arms)
    figure, cells = _facet_grid(data, [None])
    for ax, comparison, _ in cells:
        # Dead fractions are multiples of 1/units: runs of the same fraction and a similar
        # metric would hide one another, unjittered and opaque.
        spread = _spread(len(comparison.finished), DEAD_JITTER)
        sns.scatterplot(data=comparison.finished.assign(**{x: comparison.finished[x] + spread}),
                        x=x, y=metric, hue=ARM, hue_order=arms, palette=data.palette, s=28,
                        alpha=0.6, edgecolor="0.2", linewidth=0.5, legend=False, ax=ax)
        _log_if_spread(ax, comparison.finished[metric])
        _success_line(ax, data, metric)
        ax.set_xlim(-0.04, 1.04)
        ax.set_xlabel(metric_label(x))
        ax.set_ylabel(metric_label(metric))
        ax.set_title(_title(f"{metric} vs dead units", comparison))
    shown = [arm for arm in arms if arm in set(data.finished.dropna(subset=[x])[ARM])]
    # The handles of the first panel: the success threshold, if it is drawn.
    _arm_legend(figure, data, shown, cells[0][0].get_legend_handles_labels()[0])
    return Drawn(figure)


def _penalties(data: PlotData) -> tuple[dict[str, tuple[str, float]], list[str], list[str]]:
    """Each arm of one penalty: its kind (l1, l2) and strength; the arms of none; of both."""
    values = data.runs.groupby(ARM)[list(data.design.arm_keys)].first()
    single, none, both = {}, [], []
    for arm in data.design.arms:
        strengths = {key: float(v) for key, v in values.loc[arm].items()
                     if pd.notna(v) and v != 0}
        if not strengths:
            none.append(arm)
        elif len(strengths) == 1:
            single[arm] = next(iter(strengths.items()))
        else:
            both.append(arm)
    return single, none, both


def metric_by_strength(data: PlotData) -> Drawn:
    """The primary metric's mean against the penalty strength: a line per kind, the
    no-penalty arm as a reference line."""
    keys = set(data.design.arm_keys)
    if not keys or not keys <= set(PENALTIES):
        return Drawn(None, f"the arms ({data.design.arm_title}) are not penalty strengths "
                           f"({', '.join(PENALTIES)})")
    single, none, both = _penalties(data)
    if not single:
        return Drawn(None, "no arm has a single penalty")
    metric = data.design.primary.name
    strengths = sorted({strength for _, strength in single.values()})
    # Each kind a little left or right of its strengths: at the same strength, they overlap.
    dodges = (-LOG_DODGE, LOG_DODGE)
    figure, cells = _facet_grid(data, [None])
    for ax, comparison, _ in cells:
        table = comparison.metrics[comparison.metrics["metric"] == metric].set_index(ARM)
        for (kind, name), style, dodge in zip(PENALTIES.items(), NON_ARM_STYLES, dodges,
                                              strict=True):
            arms = sorted((arm for arm, (k, _) in single.items() if k == kind),
                          key=lambda arm: single[arm][1])
            if arms:
                _mean_with_ci(ax, np.array([single[arm][1] for arm in arms]) * 10 ** dodge,
                              table.loc[arms], **style, label=f"{name}: mean, 95% CI")
        for arm in none:
            row = table.loc[arm]
            ax.axhline(row["mean"], color="0.3", ls="--", lw=1.2, label="none")
            if row["n"] > 1:
                ax.axhspan(row["ci_low"], row["ci_high"], color="0.5", alpha=0.15, lw=0,
                           label="none: 95% CI")
        _log_scale(ax, "x", strengths[0], strengths[-1])
        # Ticks at the strengths swept, the values the points stand for.
        ax.xaxis.set_major_locator(FixedLocator(strengths))
        _log_if_spread(ax, table[["mean", "ci_low", "ci_high"]].stack())
        ax.set_xlabel("penalty strength (λ), log scale")
        ax.set_ylabel(metric_label(metric))
        ax.set_title(comparison.short_title or f"{metric} by penalty strength")
    if data.design.facet:
        figure.suptitle(f"{metric} by penalty strength")
    _legend_below(figure, cells[0][0], columns=2)
    return Drawn(figure, f"Arms with both penalties, not drawn: {', '.join(both)}."
                 if both else "")


def decision_boundaries(data: PlotData) -> Drawn:
    """One seed's trained net per arm: its decision regions and its training points."""
    arms = list(data.design.sorted_arms)
    cells = [(comparison, arm) for comparison in data.comparisons for arm in arms]
    seeds = set.intersection(*(set(c.finished.loc[c.finished[ARM] == arm, "seed"])
                               for c, arm in cells))
    if not seeds:
        return Drawn(None, "no seed finished in every arm")
    seed = min(seeds)
    run_ids = [c.finished.loc[(c.finished[ARM] == arm) & (c.finished["seed"] == seed),
                              "run_id"].iloc[0] for c, arm in cells]
    first = data.load_fit(run_ids[0])
    if first[1].task != "classification" or first[1].n_features != 2:
        return Drawn(None, f"the dataset, {first[1].name}, is not a 2-D classification")
    # Each facet value starts a row of its own; its rows as even as can be (5 arms: 3 + 2, not
    # 4 + 1).
    columns = math.ceil(len(arms) / math.ceil(len(arms) / BOUNDARIES_PER_ROW))
    per_value = math.ceil(len(arms) / columns) * columns
    figure, grid = _panels(len(data.comparisons) * per_value, columns, BOUNDARY_PANEL)
    axes = [grid[value * per_value + i] for value in range(len(data.comparisons))
            for i in range(len(arms))]
    for unused in set(grid) - set(axes):
        unused.set_visible(False)
    for ax, (comparison, arm), run_id in zip(axes, cells, run_ids, strict=True):
        net, dataset = first if run_id == run_ids[0] else data.load_fit(run_id)
        # A saturated unit overflows exp() on the far corners of the grid: harmless there.
        with np.errstate(all="ignore"):
            figures.decision_boundary(net, dataset, ax)
        ax.grid(False)
        ax.set_title(_title(arm, comparison))
    legend = axes[0].get_legend()
    figure.legend(legend.legend_handles, [text.get_text() for text in legend.texts],
                  title=legend.get_title().get_text(), loc="outside right upper")
    for ax in axes:
        ax.get_legend().remove()
    figure.suptitle(f"Decision regions, seed {seed}")
    every = f"every arm and {data.design.facet} value" if data.design.facet else "every arm"
    return Drawn(figure, f"Seed {seed}: the lowest seed whose run finished in {every}.")


PLOTS: dict[str, Plot] = {
    "distributions": Plot(distributions, "Each point is one seed's finished run (spread "
                          "sideways at random where many values tie); boxes show the quartiles "
                          "per arm; runs with no value to plot, diverged or finished without "
                          "the metric, are counted under the arm's name."),
    "training_curves": Plot(training_curves, f"{contract.TRAIN_LOSS_SERIES} per step: each "
                            "seed faintly, the median over seeds in bold, the interquartile "
                            "range shaded; with two arm keys, the line style tells the second "
                            "one's value."),
    "paired_differences": Plot(paired_differences, "Per seed, the arm's value minus the "
                               "baseline's (same data; same initial weights where their layer "
                               "sizes and init agree), spread sideways at random; diamond: mean "
                               "difference with its 95% CI. A symlog axis is linear near 0, "
                               "logarithmic beyond."),
    "success_rates": Plot(success_rates, "Per arm, the share of runs that succeed (a diverged "
                          "run fails), with its Wilson 95% interval and the count it comes "
                          "from; the rates differ only where the intervals do not overlap."),
    "train_vs_test": Plot(train_vs_test, "Per arm, in the order of its values: mean train and "
                          "test accuracy over the finished seeds, with 95% CIs. Train above "
                          "test: over-fitting; both low: under-fitting."),
    "accuracy_vs_time": Plot(accuracy_vs_time, "Each small point is one seed's finished run; "
                             "the large diamond is the arm's median training time and median "
                             "test accuracy. Up and left is better."),
    "loss_vs_dead_units": Plot(loss_vs_dead_units, "Each point is one seed's finished run: "
                               "the primary metric against the fraction of hidden ReLU units "
                               "that output 0 for every training input (spread sideways by "
                               f"up to ±{DEAD_JITTER:g}, so that equal fractions show)."),
    "metric_by_strength": Plot(metric_by_strength, "The primary metric's mean over the "
                               "finished seeds, with its 95% CI, against the penalty "
                               "strength, a line per penalty (a little apart, so that they do "
                               "not overlap at equal strengths); dashed: the arm without a "
                               "penalty (\"none\"), its 95% CI shaded."),
    "decision_boundaries": Plot(decision_boundaries, "One trained net per arm, all of the same "
                                "seed (so the arms share their data, and their initial weights "
                                "where their layer sizes and init agree): the shaded regions "
                                "are the class it predicts, the points its training set."),
}


def render(name: str, data: PlotData, path: Path) -> tuple[bool, str]:
    """Draw plot `name` into path (PNG) in the report style: whether it drew, and its caption
    or why there was nothing to draw."""
    with matplotlib.rc_context(STYLE):
        drawn = PLOTS[name].draw(data)
        if drawn.figure is None:
            return False, f"{name}: not drawn: {drawn.note}."
        FigureCanvasAgg(drawn.figure)
        drawn.figure.savefig(path, dpi=DPI)
    return True, " ".join(filter(None, [PLOTS[name].caption, drawn.note]))
