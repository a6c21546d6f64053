"""distributions: per metric, every seed's value over a box per arm."""

import warnings

import matplotlib
import seaborn as sns

from nnlab.report.compare import ARM
from nnlab.report.plots.layout import arm_grid, legend_below, panel_title
from nnlab.report.plots.marks import jittered, success_line
from nnlab.report.plots.plot_data import Drawn, PlotData
from nnlab.report.plots.scales import log_if_spread
from nnlab.report.plots.style import POINT_SIZE, metric_label

BOX_WIDTH = 0.5  # of an arm's slot
SWARM_WIDTH = 0.8  # of an arm's slot: seaborn's swarm width, beyond which points pile up

CAPTION = ("Each point is one seed's finished run (spread sideways at random where many values "
           "tie); boxes show the quartiles per arm; runs with no value to plot, diverged or "
           "finished without the metric, are counted under the arm's name.")


def draw(data: PlotData) -> Drawn:
    """Per metric: every seed's value over a box per arm, the success threshold if any."""
    arms = list(data.design.sorted_arms)
    figure, cells = arm_grid(data, data.design.metrics, arms, lambda metric: metric.name)
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
            jittered(ax, points, metric.name, arms, 0.0, SWARM_WIDTH / 2, color="0.15",
                     alpha=0.6)
        else:
            sns.swarmplot(**common, color="0.15", size=POINT_SIZE, alpha=0.8)
        log_if_spread(ax, points[metric.name])
        if success_line(ax, data, metric.name):
            with_threshold = ax
        arm_axis.draw(ax)
        ax.set_ylabel(metric_label(metric.name))
        better = "lower" if metric.lower_is_better else "higher"
        ax.set_title(panel_title(f"{metric.name} ({better} is better)", comparison))
    if with_threshold is not None:
        legend_below(figure, with_threshold)
    return Drawn(figure)
