"""train_vs_test: each arm's mean train and test accuracy, side by side."""

import numpy as np

from nnlab.report.compare import ARM, metric_table
from nnlab.report.plots.layout import arm_grid, legend_below, panel_title
from nnlab.report.plots.marks import mean_with_ci
from nnlab.report.plots.plot_data import Drawn, PlotData, unlogged
from nnlab.report.plots.style import NON_ARM_STYLES

DODGE = 0.1  # how far two series at the same arm sit left and right of it

CAPTION = ("Per arm, in the order of its values: mean train and test accuracy over the finished "
           "seeds, with 95% CIs. Train above test: over-fitting; both low: under-fitting.")


def draw(data: PlotData) -> Drawn:
    """Per arm in sorted order: mean train and test accuracy over seeds, with 95% CIs."""
    metrics = ["train_accuracy", "test_accuracy"]
    missing = unlogged(data, metrics)
    if missing:
        return Drawn(None, f"no finished run logged {', '.join(missing)} (classification only)")
    arms = list(data.design.sorted_arms)
    figure, cells = arm_grid(data, [None], arms)
    for ax, comparison, _, arm_axis in cells:
        table = metric_table(comparison.runs, data.design, metrics).set_index(ARM)
        for offset, metric, style in zip((-DODGE, DODGE), metrics, NON_ARM_STYLES, strict=True):
            rows = table[table["metric"] == metric].reindex(arms)
            mean_with_ci(ax, np.arange(len(arms)) + offset, rows, **style,
                         label=f"{metric.replace('_', ' ')}: mean, 95% CI")
        arm_axis.draw(ax)
        ax.set_ylabel("accuracy (fraction correct)")
        ax.set_title(panel_title("Train vs test accuracy", comparison))
    legend_below(figure, cells[0][0])
    return Drawn(figure)
