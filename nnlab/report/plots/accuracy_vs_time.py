"""accuracy_vs_time: every run's test accuracy against its training time."""

import math

import seaborn as sns
from matplotlib.lines import Line2D

from nnlab.report.compare import ARM
from nnlab.report.plots.layout import arm_legend, facet_grid, panel_title
from nnlab.report.plots.plot_data import Drawn, PlotData, unlogged
from nnlab.report.plots.scales import log_scale
from nnlab.report.plots.style import metric_label

CAPTION = ("Each small point is one seed's finished run; the large diamond is the arm's median "
           "training time and median test accuracy. Up and left is better.")


def draw(data: PlotData) -> Drawn:
    """Every finished run: test accuracy against training time, each arm's median larger."""
    x, y = "train_time_s", "test_accuracy"
    missing = unlogged(data, [x, y])
    if missing:
        return Drawn(None, f"no finished run logged {', '.join(missing)}")
    arms = list(data.design.sorted_arms)
    times = data.finished[x][data.finished[x] > 0]
    # A decade at least, so that 1, 2 and 5 x 10^k label it at both ends and between. The same
    # for every panel, so that the facet values compare.
    pad = max(1.15, math.sqrt(10 * times.min() / times.max()))
    low, high = times.min() / pad, times.max() * pad
    figure, cells = facet_grid(data, [None])
    for ax, comparison, _ in cells:
        points = comparison.finished
        sns.scatterplot(data=points, x=x, y=y, hue=ARM, hue_order=arms, palette=data.palette,
                        s=22, alpha=0.6, legend=False, ax=ax)
        medians = points.groupby(ARM)[[x, y]].median().reindex(arms).dropna()
        ax.scatter(medians[x], medians[y], s=120, marker="D", zorder=3, edgecolors="k",
                   linewidths=1.2, c=[data.palette[arm] for arm in medians.index])
        log_scale(ax, "x", low, high)
        ax.set_xlim(low, high)
        ax.set_xlabel(f"{metric_label(x)}, log scale")
        ax.set_ylabel(metric_label(y))
        ax.set_title(panel_title("Test accuracy vs training time", comparison))
    median = Line2D([], [], ls="", marker="D", ms=9, markerfacecolor="w",
                    markeredgecolor="k", label="the arm's median\n(time, accuracy)")
    arm_legend(figure, data, arms, [median])
    return Drawn(figure)
