"""Marks that several figures draw: points spread sideways, the success threshold, means with
their CIs."""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from nnlab.report.compare import ARM
from nnlab.report.plots.plot_data import PlotData
from nnlab.report.plots.style import POINT_SIZE


def jittered(ax: Axes, points: pd.DataFrame, y: str, arms: list[str], offset: float,
             half_width: float, **style) -> None:
    """Each point at its arm's slot + offset, spread sideways at random within ±half_width (of a
    slot), so that tied values show."""
    x = points[ARM].map({arm: i for i, arm in enumerate(arms)}).to_numpy(dtype=float)
    ax.scatter(x + offset + spread(len(points), half_width), points[y], s=POINT_SIZE ** 2,
               lw=0, zorder=3, **style)


def spread(count: int, half_width: float) -> np.ndarray:
    """Sideways offsets within ±half_width, seeded: a report redrawn is the same picture."""
    return np.random.default_rng(0).uniform(-half_width, half_width, count)


def success_line(ax: Axes, data: PlotData, metric: str) -> bool:
    """The success threshold across a panel of `metric`, if success is judged on it: over the
    points, as it often sits a hair from many of them (0.99 against accuracies of 1)."""
    success = data.design.success
    if success is None or success.metric != metric:
        return False
    ax.axhline(success.threshold, color="0.3", ls="--", lw=1.2, zorder=4,
               label=f"success: {success.describe()}")
    return True


def mean_with_ci(ax: Axes, x: np.ndarray, table: pd.DataFrame, **style) -> None:
    """Means (table: metric_table rows) at x with their 95% CIs as error bars."""
    ax.errorbar(x, table["mean"], yerr=[table["mean"] - table["ci_low"],
                                        table["ci_high"] - table["mean"]],
                capsize=3, lw=1.2, ms=6, **style)
