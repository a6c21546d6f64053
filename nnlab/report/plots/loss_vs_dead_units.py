"""loss_vs_dead_units: every run's primary metric against its fraction of dead hidden units."""

import seaborn as sns

from nnlab.report.compare import ARM
from nnlab.report.plots.layout import arm_legend, facet_grid, panel_title
from nnlab.report.plots.marks import spread, success_line
from nnlab.report.plots.plot_data import Drawn, PlotData, unlogged
from nnlab.report.plots.scales import log_if_spread
from nnlab.report.plots.style import metric_label

# Of the dead-units axis: a quarter of 1/16 (one unit of 16), so that runs of neighbouring
# fractions stay apart.
DEAD_JITTER = 0.015

CAPTION = ("Each point is one seed's finished run: the primary metric against the fraction of "
           "hidden ReLU units that output 0 for every training input (spread sideways by up to "
           f"±{DEAD_JITTER:g}, so that equal fractions show).")


def draw(data: PlotData) -> Drawn:
    """Every finished run: the primary metric against its fraction of dead hidden units."""
    x, metric = "dead_units_frac", data.design.primary.name
    if unlogged(data, [x]):
        return Drawn(None, "no finished run logged dead_units_frac (ReLU hidden layers only)")
    arms = list(data.design.sorted_arms)
    figure, cells = facet_grid(data, [None])
    for ax, comparison, _ in cells:
        # Dead fractions are multiples of 1/units: runs of the same fraction and a similar
        # metric would hide one another, unjittered and opaque.
        offsets = spread(len(comparison.finished), DEAD_JITTER)
        sns.scatterplot(data=comparison.finished.assign(**{x: comparison.finished[x] + offsets}),
                        x=x, y=metric, hue=ARM, hue_order=arms, palette=data.palette, s=28,
                        alpha=0.6, edgecolor="0.2", linewidth=0.5, legend=False, ax=ax)
        log_if_spread(ax, comparison.finished[metric])
        success_line(ax, data, metric)
        ax.set_xlim(-0.04, 1.04)
        ax.set_xlabel(metric_label(x))
        ax.set_ylabel(metric_label(metric))
        ax.set_title(panel_title(f"{metric} vs dead units", comparison))
    shown = [arm for arm in arms if arm in set(data.finished.dropna(subset=[x])[ARM])]
    # The handles of the first panel: the success threshold, if it is drawn.
    arm_legend(figure, data, shown, cells[0][0].get_legend_handles_labels()[0])
    return Drawn(figure)
