"""metric_by_strength: the primary metric's mean against the L1 or L2 penalty's strength."""

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator

from nnlab.report.compare import ARM
from nnlab.report.plots.layout import facet_grid, legend_below
from nnlab.report.plots.marks import mean_with_ci
from nnlab.report.plots.plot_data import Drawn, PlotData
from nnlab.report.plots.scales import log_if_spread, log_scale
from nnlab.report.plots.style import NON_ARM_STYLES, metric_label

LOG_DODGE = 0.04  # decades: how far each penalty's points sit left or right of a strength
PENALTIES = {"l1": "L1", "l2": "L2"}  # the arm keys that are penalty strengths, as drawn


def _penalties(data: PlotData) -> tuple[dict[str, tuple[str, float]], list[str], list[str]]:
    """Each arm of one penalty: its kind (l1, l2) and strength; the arms of none; of both."""
    values = data.runs.groupby(ARM)[list(data.design.arm_keys)].first()
    single, none, both = {}, [], []
    for arm in data.design.arms:
        row = values.loc[arm]
        # Grouped by arm, one row each: an arm's label finds its row, not a frame.
        assert isinstance(row, pd.Series)
        strengths = {key: float(v) for key, v in row.items() if pd.notna(v) and v != 0}
        if not strengths:
            none.append(arm)
        elif len(strengths) == 1:
            single[arm] = next(iter(strengths.items()))
        else:
            both.append(arm)
    return single, none, both


CAPTION = ("The primary metric's mean over the finished seeds, with its 95% CI, against the "
           "penalty strength, a line per penalty (a little apart, so that they do not overlap at "
           "equal strengths); dashed: the arm without a penalty (\"none\"), its 95% CI shaded.")


def draw(data: PlotData) -> Drawn:
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
    figure, cells = facet_grid(data, [None])
    for ax, comparison, _ in cells:
        table = comparison.metrics[comparison.metrics["metric"] == metric].set_index(ARM)
        for (kind, name), style, dodge in zip(PENALTIES.items(), NON_ARM_STYLES, dodges,
                                              strict=True):
            arms = sorted((arm for arm, (k, _) in single.items() if k == kind),
                          key=lambda arm: single[arm][1])
            if arms:
                mean_with_ci(ax, np.array([single[arm][1] for arm in arms]) * 10 ** dodge,
                             table.loc[arms], **style, label=f"{name}: mean, 95% CI")
        for arm in none:
            row = table.loc[arm]
            # metric_table has one row per metric and arm: the arm's row of this metric.
            assert isinstance(row, pd.Series)
            ax.axhline(row["mean"], color="0.3", ls="--", lw=1.2, label="none")
            if row["n"] > 1:
                ax.axhspan(row["ci_low"], row["ci_high"], color="0.5", alpha=0.15, lw=0,
                           label="none: 95% CI")
        log_scale(ax, "x", strengths[0], strengths[-1])
        # Ticks at the strengths swept, the values the points stand for.
        ax.xaxis.set_major_locator(FixedLocator(strengths))
        bounds = table[["mean", "ci_low", "ci_high"]].stack()
        # Columns of one level stack into a Series (of several, into a frame).
        assert isinstance(bounds, pd.Series)
        log_if_spread(ax, bounds)
        ax.set_xlabel("penalty strength (λ), log scale")
        ax.set_ylabel(metric_label(metric))
        ax.set_title(comparison.short_title or f"{metric} by penalty strength")
    if data.design.facet:
        figure.suptitle(f"{metric} by penalty strength")
    legend_below(figure, cells[0][0], columns=2)
    return Drawn(figure, f"Arms with both penalties, not drawn: {', '.join(both)}."
                 if both else "")
