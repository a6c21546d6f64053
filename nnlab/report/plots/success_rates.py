"""success_rates: each arm's success rate with its Wilson interval."""

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from nnlab.report.compare import ARM
from nnlab.report.plots.layout import arm_grid, panel_title
from nnlab.report.plots.plot_data import Drawn, PlotData

CAPTION = ("Per arm, the share of runs that succeed (a diverged run fails), with its Wilson 95% "
           "interval and the count it comes from; the rates differ only where the intervals do "
           "not overlap.")


def draw(data: PlotData) -> Drawn:
    """Per arm: the success rate with its Wilson 95% interval, and the count it comes from."""
    success = data.design.success
    if success is None:
        return Drawn(None, "the analysis sets no success criterion")
    arms = list(data.design.sorted_arms)
    figure, cells = arm_grid(data, [None], arms)
    for ax, comparison, _, arm_axis in cells:
        # success_table makes a table exactly when the design has a success criterion.
        assert comparison.success is not None
        table = comparison.success.set_index(ARM)
        for position, arm in enumerate(arms):
            row = table.loc[arm]
            # success_table has one row per arm: an arm's label finds its row, not a frame.
            assert isinstance(row, pd.Series)
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
        ax.set_title(panel_title(f"Success: {success.describe()}", comparison))
    # A neutral glyph for the legend: every arm has its own colour.
    proxy = cells[0][0].errorbar([np.nan], [np.nan], yerr=[[np.nan], [np.nan]], fmt="o",
                                 color="0.3", capsize=5,
                                 label="rate (successes/runs), Wilson 95% interval")
    figure.legend(handles=[proxy], loc="outside lower center")
    return Drawn(figure)
