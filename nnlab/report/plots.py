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
from pathlib import Path
from typing import TypeVar

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter, MaxNLocator, PercentFormatter

from nnlab import figures
from nnlab.data import Dataset
from nnlab.engine import Network
from nnlab.report.compare import ARM, Comparison, Setup, metric_table, paired_values
from nnlab.report.runs import DIVERGED, FINISHED

# The one place the look of the reports is set; render() applies it around every figure, so
# nothing leaks into the matplotlib state of a notebook that imports the report.
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
PALETTE = "colorblind"
DPI = 120
PANEL_SIZE = (4.0, 3.6)  # inches per metric panel
PANELS_PER_ROW = 3
WIDE_PANEL = (8.0, 4.2)  # inches: the one panel of an unfaceted figure with many lines
BOUNDARY_PANEL = (3.2, 3.0)  # inches per decision-boundary panel
BOUNDARIES_PER_ROW = 4
# Values spread over more than this factor are drawn on a log axis.
LOG_SPREAD = 30.0
LONG_LABEL = 12  # characters: longer arm names are slanted so that they do not collide
MEAN_OFFSET = 0.3  # where the mean and its CI sit, right of an arm's points
DODGE = 0.1  # how far two series at the same arm sit left and right of it
ARMS_PER_LEGEND_ROW = 3
PENALTIES = {"l1": "L1", "l2": "L2"}  # the arm keys that are penalty strengths, as drawn
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
    "time_per_step_ms": "time per step (ms)",
    "steps_to_threshold": "steps to the loss threshold (updates)",
    "dead_units_frac": "dead hidden units (fraction)",
}

Row = TypeVar("Row")


@dataclass
class PlotData:
    runs: pd.DataFrame  # the selected runs, with their arm
    setup: Setup
    comparisons: list[Comparison]  # one per facet value; one of all runs without a facet
    load_curves: Callable[[list[str]], pd.DataFrame]  # run ids -> run_id, step, value
    load_fit: Callable[[str], tuple[Network, Dataset]]  # run id -> trained net, its data

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


def _facet_grid(data: PlotData, rows: Sequence[Row], size: tuple[float, float] = PANEL_SIZE,
                ) -> tuple[Figure, list[tuple[Axes, Comparison, Row]]]:
    """A panel per row item (a metric, say) and facet value: a column per facet value; without
    a facet, the row items wrap at PANELS_PER_ROW."""
    cells = [(comparison, row) for row in rows for comparison in data.comparisons]
    columns = len(data.comparisons) if data.setup.facet else PANELS_PER_ROW
    figure, axes = _panels(len(cells), columns, size)
    return figure, [(ax, comparison, row) for ax, (comparison, row)
                    in zip(axes, cells, strict=True)]


def _title(text: str, comparison: Comparison) -> str:
    return f"{text}\n{comparison.short_title}" if comparison.short_title else text


class _PlainLogFormatter(LogFormatter):
    """Log-axis labels as plain numbers (0.001): mathtext's 10^-3 doubles the time to save.

    sparse: label only 1, 2 and 5 times a power of ten (labels side by side on x collide).
    """

    def __init__(self, *args, sparse: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sparse = sparse

    def __call__(self, x: float, pos: int | None = None) -> str:
        if self.sparse and round(x / 10 ** math.floor(math.log10(x)), 6) not in (1, 2, 5):
            return ""
        return f"{x:g}" if super().__call__(x, pos) else ""


def _log_scale(ax: Axes, which: str = "y") -> None:
    if which == "y":
        ax.set_yscale("log")
        axis, minor = ax.yaxis, _PlainLogFormatter(labelOnlyBase=False,
                                                   minor_thresholds=(2, 0.5))
    else:
        ax.set_xscale("log")
        axis, minor = ax.xaxis, _PlainLogFormatter(labelOnlyBase=False,
                                                   minor_thresholds=(2, 1.5), sparse=True)
    axis.set_major_formatter(_PlainLogFormatter())
    # Within two decades, label some minor ticks too: one labelled tick reads badly.
    axis.set_minor_formatter(minor)


def _log_if_spread(ax: Axes, values: pd.Series) -> None:
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > LOG_SPREAD:
        _log_scale(ax)


def _legend_below(figure: Figure, ax: Axes, columns: int = 1) -> None:
    """The legend of one panel under the figure: inside, it would cover some seed's point."""
    figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize="small",
                  ncols=columns)


def _arm_legend(figure: Figure, data: PlotData, arms: list[str],
                extra: Sequence[Line2D] = ()) -> None:
    """A marker per arm in its colour, and any extra handles, under the panels: beside them,
    the legend would take half the width of a one-panel figure."""
    handles = [Line2D([], [], ls="", marker="o", color=data.palette[arm], label=arm)
               for arm in arms]
    figure.legend(handles=[*handles, *extra], loc="outside lower center",
                  title=data.setup.arm_title, fontsize="small",
                  ncols=min(len(handles) + len(extra), ARMS_PER_LEGEND_ROW))


def _arm_axis(ax: Axes, runs: pd.DataFrame, setup: Setup, arms: list[str]) -> None:
    """Arms on x, each with its count of diverged runs (which have no value to plot)."""
    diverged = runs[runs["outcome"] == DIVERGED].groupby(ARM).size()
    slanted = max(map(len, arms)) > LONG_LABEL
    # A slanted label of two lines runs into its neighbour: slanted, the count follows the arm.
    separator = " " if slanted else "\n"
    labels = [f"{arm}{separator}({diverged[arm]} diverged)" if diverged.get(arm) else arm
              for arm in arms]
    if slanted:
        ax.set_xticks(range(len(arms)), labels, rotation=30, ha="right",
                      rotation_mode="anchor")
    else:
        ax.set_xticks(range(len(arms)), labels)
    ax.set_xlabel(setup.arm_title)


def _missing(data: PlotData, metrics: Sequence[str]) -> list[str]:
    """The metrics no finished run logged."""
    return [m for m in metrics if m not in data.finished or data.finished[m].isna().all()]


def _success_line(ax: Axes, data: PlotData, metric: str) -> bool:
    """The success threshold across a panel of `metric`, if success is judged on it."""
    success = data.setup.success
    if success is None or success.metric != metric:
        return False
    ax.axhline(success.threshold, color="0.3", ls="--", lw=1,
               label=f"success: {success.describe()}")
    return True


def distributions(data: PlotData) -> Drawn:
    """Per metric: every seed's value over a box per arm, the success threshold if any."""
    arms = list(data.setup.arms)
    figure, cells = _facet_grid(data, data.setup.metrics)
    with_threshold = None
    for ax, comparison, metric in cells:
        common = {"data": comparison.finished, "x": ARM, "y": metric.name, "order": arms,
                  "ax": ax}
        with warnings.catch_warnings():
            # seaborn 0.13 passes boxplot's `vert`, which matplotlib 3.11 deprecates.
            warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(**common, hue=ARM, hue_order=arms, palette=data.palette,
                        showfliers=False, width=0.5, legend=False, boxprops={"alpha": 0.6})
        sns.swarmplot(**common, color="0.15", size=3.5, alpha=0.8)
        _log_if_spread(ax, comparison.finished[metric.name])
        if _success_line(ax, data, metric.name):
            with_threshold = ax
        _arm_axis(ax, comparison.runs, data.setup, arms)
        ax.set_ylabel(metric_label(metric.name))
        ax.set_title(_title(f"{metric.name} ({'lower' if metric.lower_is_better else 'higher'} "
                            "is better)", comparison))
    if with_threshold is not None:
        _legend_below(figure, with_threshold)
    return Drawn(figure)


def training_curves(data: PlotData) -> Drawn:
    """train_loss per step: every seed faintly, the median and the interquartile band per arm."""
    curves = data.curves
    if curves.empty:
        return Drawn(None, "no finished run logged train_loss")
    arms = [arm for arm in data.setup.arms if arm in set(curves[ARM])]
    figure, cells = _facet_grid(data, [None], WIDE_PANEL if len(data.comparisons) == 1
                                else PANEL_SIZE)
    counts: dict[str, list[str]] = {arm: [] for arm in arms}  # seeds per panel
    for ax, comparison, _ in cells:
        panel = curves[curves["run_id"].isin(comparison.finished["run_id"])]
        sns.lineplot(data=panel, x="step", y="value", hue=ARM, hue_order=arms,
                     palette=data.palette, units="run_id", estimator=None, lw=0.5, alpha=0.15,
                     legend=False, ax=ax)
        # Quantiles in one groupby: seaborn's own estimator runs Python per step (1 s for 300).
        bands = panel.groupby([ARM, "step"])["value"].quantile([0.25, 0.5, 0.75]).unstack()
        seeds = panel.groupby(ARM)["run_id"].nunique()
        for arm in arms:
            counts[arm].append(str(seeds.get(arm, 0)))
            if arm not in seeds:
                continue
            band = bands.loc[arm]
            ax.fill_between(band.index, band[0.25], band[0.75], color=data.palette[arm],
                            alpha=0.25, lw=0)
            ax.plot(band.index, band[0.5], color=data.palette[arm], lw=2)
        _log_if_spread(ax, panel["value"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step (optimizer update)")
        ax.set_ylabel(metric_label("train_loss"))
        diverged = int((comparison.runs["outcome"] == DIVERGED).sum())
        ax.set_title(_title("Training curves" + (f" ({diverged} diverged runs not drawn)"
                                                 if diverged else ""), comparison))
    handles = [Line2D([], [], color=data.palette[arm], lw=2,
                      label=f"{arm} (n={'/'.join(counts[arm])})") for arm in arms]
    figure.legend(handles=handles, loc="outside right upper", fontsize="small",
                  title=f"{data.setup.arm_title}:\nmedian, IQR band"
                  + ("\n(n per panel)" if data.setup.facet else ""))
    return Drawn(figure)


def paired_differences(data: PlotData) -> Drawn:
    """Per metric: each seed's difference from the baseline, with the mean and its 95% CI."""
    others = list(data.setup.arms[1:])
    if not others:
        return Drawn(None, "one arm only: nothing to pair")
    pairs = {(comparison.value, metric): paired_values(comparison.runs, data.setup,
                                                       metric.name)
             for comparison in data.comparisons for metric in data.setup.metrics}
    metrics = [metric for metric in data.setup.metrics
               if any(not pairs[c.value, metric].empty for c in data.comparisons)]
    if not metrics:
        return Drawn(None, "no seed has a finished run in an arm and in the baseline")
    figure, cells = _facet_grid(data, metrics)
    for ax, comparison, metric in cells:
        panel = pairs[comparison.value, metric]
        sns.swarmplot(data=panel, x=ARM, y="difference", order=others, hue=ARM,
                      hue_order=others, palette=data.palette, size=4, alpha=0.8, legend=False,
                      ax=ax)
        ax.axhline(0, color="0.3", lw=1)
        table = comparison.paired[comparison.paired["metric"] == metric.name].set_index(ARM)
        # Beside each arm's points, not over them.
        positions = [others.index(arm) + MEAN_OFFSET for arm in table.index]
        ax.errorbar(positions, table["mean_difference"],
                    yerr=[table["mean_difference"] - table["ci_low"],
                          table["ci_high"] - table["mean_difference"]],
                    fmt="D", color="k", ms=5, capsize=4, label="mean, 95% CI")
        ax.set_xlim(-0.5, len(others) - 0.5)
        _arm_axis(ax, comparison.runs, data.setup, others)
        ax.set_ylabel(f"arm − baseline:\n{metric_label(metric.name)}")
        ax.set_title(_title(f"{metric.name}, paired by seed", comparison))
    figure.suptitle(f"Each arm minus the baseline, {data.setup.baseline}, seed by seed")
    _legend_below(figure, cells[0][0])
    return Drawn(figure)


def success_rates(data: PlotData) -> Drawn:
    """Per arm: the success rate with its Wilson 95% interval, and the count it comes from."""
    success = data.setup.success
    if success is None:
        return Drawn(None, "the analysis sets no success criterion")
    arms = list(data.setup.arms)
    # Wide enough for the slanted arm names not to run into each other (xor_width has 8).
    width = max(PANEL_SIZE[0], 0.9 * len(arms))
    figure, cells = _facet_grid(data, [None], size=(width, PANEL_SIZE[1]))
    for ax, comparison, _ in cells:
        table = comparison.success.set_index(ARM)
        for position, arm in enumerate(arms):
            row = table.loc[arm]
            if not row["n"]:
                continue
            ax.errorbar(position, row["rate"], yerr=[[row["rate"] - row["ci_low"]],
                                                     [row["ci_high"] - row["rate"]]],
                        fmt="o", color=data.palette[arm], ms=7, capsize=5, lw=1.5)
            ax.annotate(f"{int(row['successes'])}/{int(row['n'])}", (position, row["rate"]),
                        xytext=(7, 0), textcoords="offset points", va="center",
                        fontsize="small")
        ax.set_ylim(-0.05, 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlim(-0.5, len(arms) - 0.5)
        _arm_axis(ax, comparison.runs, data.setup, arms)
        ax.set_ylabel("success rate (% of runs)")
        ax.set_title(_title(f"Success: {success.describe()}", comparison))
    # A neutral glyph for the legend: every arm has its own colour.
    proxy = cells[0][0].errorbar([np.nan], [np.nan], yerr=[[np.nan], [np.nan]], fmt="o",
                                 color="0.3", capsize=5,
                                 label="rate (successes/runs), Wilson 95% interval")
    figure.legend(handles=[proxy], loc="outside lower center", fontsize="small")
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
    arms = list(data.setup.sorted_arms)
    figure, cells = _facet_grid(data, [None], (max(PANEL_SIZE[0], 0.8 * len(arms)),
                                               PANEL_SIZE[1]))
    colors = sns.color_palette(PALETTE, len(metrics))
    for ax, comparison, _ in cells:
        table = metric_table(comparison.runs, data.setup, metrics).set_index(ARM)
        for offset, metric, color, marker in zip((-DODGE, DODGE), metrics, colors, "os",
                                                 strict=True):
            rows = table[table["metric"] == metric].reindex(arms)
            _mean_with_ci(ax, np.arange(len(arms)) + offset, rows, fmt=f"{marker}-",
                          color=color, label=f"{metric.replace('_', ' ')}: mean, 95% CI")
        _arm_axis(ax, comparison.runs, data.setup, arms)
        ax.set_xlim(-0.5, len(arms) - 0.5)
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
    arms = list(data.setup.arms)
    times = data.finished[x][data.finished[x] > 0]
    # A decade at least: a log axis over less has no log ticks to label. The same for every
    # panel, so that the facet values compare.
    pad = max(1.15, math.sqrt(10 * times.min() / times.max()))
    figure, cells = _facet_grid(data, [None])
    for ax, comparison, _ in cells:
        points = comparison.finished
        sns.scatterplot(data=points, x=x, y=y, hue=ARM, hue_order=arms, palette=data.palette,
                        s=22, alpha=0.6, legend=False, ax=ax)
        medians = points.groupby(ARM)[[x, y]].median().reindex(arms).dropna()
        ax.scatter(medians[x], medians[y], s=120, marker="D", zorder=3, edgecolors="k",
                   linewidths=1.2, c=[data.palette[arm] for arm in medians.index])
        _log_scale(ax, "x")
        ax.set_xlim(times.min() / pad, times.max() * pad)
        ax.set_xlabel(f"{metric_label(x)}, log scale")
        ax.set_ylabel(metric_label(y))
        ax.set_title(_title("Test accuracy vs training time", comparison))
    median = Line2D([], [], ls="", marker="D", ms=9, markerfacecolor="w",
                    markeredgecolor="k", label="the arm's median\n(time, accuracy)")
    _arm_legend(figure, data, arms, [median])
    return Drawn(figure)


def loss_vs_dead_units(data: PlotData) -> Drawn:
    """Every finished run: the primary metric against its fraction of dead hidden units."""
    x, metric = "dead_units_frac", data.setup.primary.name
    if _missing(data, [x]):
        return Drawn(None, "no finished run logged dead_units_frac (ReLU hidden layers only)")
    arms = list(data.setup.arms)
    figure, cells = _facet_grid(data, [None])
    for ax, comparison, _ in cells:
        sns.scatterplot(data=comparison.finished, x=x, y=metric, hue=ARM, hue_order=arms,
                        palette=data.palette, s=28, alpha=0.7, legend=False, ax=ax)
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
    values = data.runs.groupby(ARM)[list(data.setup.arm_keys)].first()
    single, none, both = {}, [], []
    for arm in data.setup.arms:
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
    keys = set(data.setup.arm_keys)
    if not keys or not keys <= set(PENALTIES):
        return Drawn(None, f"the arms ({data.setup.arm_title}) are not penalty strengths "
                           f"({', '.join(PENALTIES)})")
    single, none, both = _penalties(data)
    if not single:
        return Drawn(None, "no arm has a single penalty")
    metric = data.setup.primary.name
    colors = dict(zip(PENALTIES, sns.color_palette(PALETTE, len(PENALTIES)), strict=True))
    figure, cells = _facet_grid(data, [None])
    for ax, comparison, _ in cells:
        table = comparison.metrics[comparison.metrics["metric"] == metric].set_index(ARM)
        for kind, name in PENALTIES.items():
            arms = sorted((arm for arm, (k, _) in single.items() if k == kind),
                          key=lambda arm: single[arm][1])
            if arms:
                _mean_with_ci(ax, np.array([single[arm][1] for arm in arms]), table.loc[arms],
                              fmt="o-", color=colors[kind], label=f"{name}: mean, 95% CI")
        for arm in none:
            row = table.loc[arm]
            ax.axhline(row["mean"], color="0.3", ls="--", lw=1.2, label="none")
            if row["n"] > 1:
                ax.axhspan(row["ci_low"], row["ci_high"], color="0.5", alpha=0.15, lw=0,
                           label="none: 95% CI")
        _log_scale(ax, "x")
        _log_if_spread(ax, table[["mean", "ci_low", "ci_high"]].stack())
        ax.set_xlabel("penalty strength (λ), log scale")
        ax.set_ylabel(metric_label(metric))
        ax.set_title(comparison.short_title or f"{metric} by penalty strength")
    if data.setup.facet:
        figure.suptitle(f"{metric} by penalty strength")
    _legend_below(figure, cells[0][0], columns=2)
    return Drawn(figure, f"Arms with both penalties, not drawn: {', '.join(both)}."
                 if both else "")


def decision_boundaries(data: PlotData) -> Drawn:
    """One seed's trained net per arm: its decision regions and its training points."""
    arms = list(data.setup.arms)
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
    # Each facet value starts a row of its own.
    columns = min(len(arms), BOUNDARIES_PER_ROW)
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
                  title=legend.get_title().get_text(), loc="outside right upper",
                  fontsize="small")
    for ax in axes:
        ax.get_legend().remove()
    figure.suptitle(f"Decision regions, seed {seed}")
    every = f"every arm and {data.setup.facet} value" if data.setup.facet else "every arm"
    return Drawn(figure, f"Seed {seed}: the lowest seed whose run finished in {every}.")


PLOTS: dict[str, Plot] = {
    "distributions": Plot(distributions, "Each point is one seed's finished run; boxes show "
                          "the quartiles per arm; diverged runs have no value, their count "
                          "is under the arm's name."),
    "training_curves": Plot(training_curves, "train_loss per step: each seed faintly, the "
                            "median over seeds in bold, the interquartile range shaded."),
    "paired_differences": Plot(paired_differences, "Per seed, the arm's value minus the "
                               "baseline's (same data and initial weights); diamond: mean "
                               "difference with its 95% CI."),
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
                               "that output 0 for every training input."),
    "metric_by_strength": Plot(metric_by_strength, "The primary metric's mean over the "
                               "finished seeds, with its 95% CI, against the penalty "
                               "strength, a line per penalty; dashed: the arm without a "
                               "penalty (\"none\"), its 95% CI shaded."),
    "decision_boundaries": Plot(decision_boundaries, "One trained net per arm, all of the same "
                                "seed (so the arms share data and initial weights): the shaded "
                                "regions are the class it predicts, the points its training "
                                "set."),
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
