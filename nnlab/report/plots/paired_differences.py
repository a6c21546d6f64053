"""paired_differences: per metric, each seed's difference from the baseline, and their mean."""

from nnlab.report.compare import ARM, paired_values
from nnlab.report.plots.layout import arm_grid, legend_below, panel_title
from nnlab.report.plots.marks import jittered
from nnlab.report.plots.plot_data import Drawn, PlotData
from nnlab.report.plots.scales import symlog_if_spread
from nnlab.report.plots.style import metric_label

# In arm slots: the seeds' points jittered over the slot's left part, the mean and its CI clear
# of them on the right.
PAIRED_POINTS, PAIRED_JITTER, MEAN_OFFSET = -0.12, 0.2, 0.3

CAPTION = ("Per seed, the arm's value minus the baseline's (same data; same initial weights "
           "where their layer sizes and init agree), spread sideways at random; diamond: mean "
           "difference with its 95% CI. A symlog axis is linear near 0, logarithmic beyond.")


def draw(data: PlotData) -> Drawn:
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
    figure, cells = arm_grid(data, metrics, others)
    for ax, comparison, metric, arm_axis in cells:
        panel = pairs[comparison.value, metric]
        jittered(ax, panel, "difference", others, PAIRED_POINTS, PAIRED_JITTER,
                 c=[data.palette[arm] for arm in panel[ARM]], alpha=0.8)
        ax.axhline(0, color="0.3", lw=1)
        table = comparison.paired[comparison.paired["metric"] == metric.name].set_index(ARM)
        positions = [others.index(arm) + MEAN_OFFSET for arm in table.index]
        ax.errorbar(positions, table["mean_difference"],
                    yerr=[table["mean_difference"] - table["ci_low"],
                          table["ci_high"] - table["mean_difference"]],
                    fmt="D", color="k", ms=5, capsize=4, label="mean, 95% CI")
        symlog = symlog_if_spread(ax, panel)
        arm_axis.draw(ax)
        ax.set_ylabel(f"arm − baseline{', symlog scale' if symlog else ''}:\n"
                      f"{metric_label(metric.name)}")
        ax.set_title(panel_title(f"{metric.name}, paired by seed", comparison))
    figure.suptitle(f"Each arm minus the baseline, {data.design.baseline}, seed by seed")
    legend_below(figure, cells[0][0])
    dropped = [metric.name for metric in data.design.metrics if metric not in metrics]
    return Drawn(figure, f"Not drawn: {', '.join(dropped)}, as no seed has a value in both "
                         "an arm and the baseline." if dropped else "")
