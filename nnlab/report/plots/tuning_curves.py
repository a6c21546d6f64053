"""tuning_curves: each arm's select_on against the tuned key, over the tuning seeds."""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator

from nnlab.report.compare import ARM
from nnlab.report.plots.layout import arm_legend
from nnlab.report.plots.plot_data import Drawn, PlotData
from nnlab.report.plots.scales import log_if_spread, log_scale
from nnlab.report.plots.style import PANEL_SIZE, POINT_SIZE, metric_label
from nnlab.report.runs import param_column

LOG_DODGE = 0.015  # decades between two arms' seeds at one value, so that they do not overlap

CAPTION = ("The tuning runs (their seeds are not compared): each arm's median of the selection "
           "metric over the tuning seeds against the tuned value (a line per arm; a failed run "
           "counts as the worst value, so a median that half the seeds or more failed is not "
           "drawn), each seed's run a point beside it (x: a run that failed, drawn at the top), "
           "and a ring around the value chosen.")


def draw(data: PlotData) -> Drawn:
    """select_on against the key, log x where every value is positive."""
    tuning = data.tuning
    if tuning is None:
        return Drawn(None, "the analysis tunes nothing (no analysis.tune)")
    tune = tuning.tune
    column = param_column(tune.key)
    figure = Figure(figsize=(PANEL_SIZE[0] * 1.4, PANEL_SIZE[1]), layout="constrained")
    ax = figure.subplots()
    positive = min(tune.values) > 0
    arms = [arm for arm in data.design.arms if arm in tuning.chosen]
    finite = tuning.runs["score"].dropna()
    failed_at = (finite.max() if tune.lower_is_better else finite.min()) if len(finite) else 1.0
    dodges = (np.arange(len(arms)) - (len(arms) - 1) / 2) * LOG_DODGE
    for arm, dodge in zip(arms, dodges, strict=True):
        color = data.palette[arm]
        table = tuning.table[tuning.table[ARM] == arm]
        medians = table["statistic"].where(np.isfinite(table["statistic"]))
        ax.plot(table["value"], medians, color=color, lw=1.5, marker="o", ms=5, label=arm)
        runs = tuning.runs[tuning.runs[ARM] == arm]
        shift = 10 ** dodge if positive else 1.0
        done = runs[runs["score"].notna()]
        ax.plot(done[column].astype(float) * shift, done["score"], ls="none", marker="o",
                ms=POINT_SIZE, color=color, alpha=0.45)
        failed = runs[runs["score"].isna()]
        ax.plot(failed[column].astype(float) * shift, np.full(len(failed), failed_at),
                ls="none", marker="x", ms=POINT_SIZE + 2, color=color)
        chosen = table[table["chosen"]]
        ax.plot(chosen["value"], chosen["statistic"].where(np.isfinite(chosen["statistic"])),
                ls="none", marker="o", ms=13, mfc="none", mec=color, mew=1.8)
    if positive and len(tune.values) > 1:
        log_scale(ax, "x", tune.values[0], tune.values[-1])
    ax.xaxis.set_major_locator(FixedLocator(list(tune.values)))
    log_if_spread(ax, finite)
    ax.axvline(tuning.default, color="0.4", ls=":", lw=1.2)
    ax.set_xlabel(f"{tune.key}{', log scale' if positive else ''} (dotted: the tutorial's)")
    ax.set_ylabel(f"{metric_label(tune.select_on)} (tuning seeds)")
    ax.set_title(f"{tune.select_on} by {tune.key}, seeds "
                 f"{', '.join(map(str, tune.seeds))}")
    ring = Line2D([], [], ls="none", marker="o", ms=10, mfc="none", mec="0.2", mew=1.5,
                  label="chosen")
    arm_legend(figure, data, arms, [ring])
    return Drawn(figure, "")
