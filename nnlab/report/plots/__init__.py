"""The report's figures: seaborn on matplotlib's Agg canvas, one style for every report (STYLE).

An experiment lists its plots by name (`analysis.plots`); each name is a row of PLOTS and a
module of this package, which holds its caption (CAPTION) beside its drawing function (`draw`:
PlotData -> Drawn, a figure and a note for its caption, or no figure and why). Adding a plot is
one such module, listed below. With a facet, a plot draws a panel per facet value, side by side.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg

from nnlab.report.plots import (
    accuracy_vs_time,
    decision_boundaries,
    distributions,
    loss_vs_dead_units,
    metric_by_strength,
    paired_differences,
    success_rates,
    train_vs_test,
    training_curves,
    tuning_curves,
)
from nnlab.report.plots.plot_data import Drawn, PlotData
from nnlab.report.plots.style import DPI, STYLE, metric_label

__all__ = ["PLOTS", "SECTION_PLOTS", "STYLE", "TUNING_PLOT", "Drawn", "Plot", "PlotData",
           "metric_label", "render"]


@dataclass(frozen=True)
class Plot:
    draw: Callable[[PlotData], Drawn]
    caption: str


# A plot is named after its module.
PLOTS: dict[str, Plot] = {
    module.__name__.rpartition(".")[2]: Plot(module.draw, module.CAPTION)
    for module in (distributions, training_curves, paired_differences, success_rates,
                   train_vs_test, accuracy_vs_time, loss_vs_dead_units, metric_by_strength,
                   decision_boundaries)
}


# A tuned report's tuning runs (analysis.tune), drawn in its Tuning section: not a plot that
# analysis.plots lists.
TUNING_PLOT = "tuning_curves"
SECTION_PLOTS = {TUNING_PLOT: Plot(tuning_curves.draw, tuning_curves.CAPTION)}


def render(name: str, data: PlotData, path: Path) -> tuple[bool, str]:
    """Draw plot `name` (of PLOTS or SECTION_PLOTS) into path (PNG) in the report style:
    whether it drew, and its caption or why there was nothing to draw."""
    plot = PLOTS[name] if name in PLOTS else SECTION_PLOTS[name]
    with matplotlib.rc_context(STYLE):
        drawn = plot.draw(data)
        if drawn.figure is None:
            return False, f"{name}: not drawn: {drawn.note}."
        FigureCanvasAgg(drawn.figure)
        drawn.figure.savefig(path, dpi=DPI)
    return True, " ".join(filter(None, [plot.caption, drawn.note]))
