"""The scale policy: which axes are logarithmic (log, symlog) and how their ticks are labelled."""

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.ticker import LogLocator, NullLocator, StrMethodFormatter

from nnlab.report.compare import ARM

# Values spread over more than this factor are drawn on a log axis.
LOG_SPREAD = 30.0
# A symlog axis spans at most this many decades: smaller differences are as good as 0 beside the
# largest, and sit in its linear part.
SYMLOG_DECADES = 3
# A log axis over at most this many decades (per axis: x labels are wider than tall) is labelled
# at 1, 2 and 5 x 10^k, over more at 10^k only: labels at 3, 4, 6... x 10^k collide, and a single
# labelled tick reads badly.
LABEL_125_DECADES = {"x": 2.5, "y": 3.0}


def log_scale(ax: Axes, which: str, low: float, high: float) -> None:
    """A log axis over [low, high] (the data's range), labelled in plain numbers: mathtext's
    10^-3 doubles the time to save. Every label is a major tick's, so all sit level."""
    if which == "y":
        ax.set_yscale("log")
        axis = ax.yaxis
    else:
        ax.set_xscale("log")
        axis = ax.xaxis
    few = math.log10(high / low) <= LABEL_125_DECADES[which]
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if few else (1.0,)))
    _plain_labels(axis)


def _plain_labels(axis: Axis) -> None:
    """Plain-number labels on the major ticks of a log or symlog axis, none on minor ones."""
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    # Unlabelled, the minor ticks are invisible in this style: dozens of artists for nothing.
    axis.set_minor_locator(NullLocator())


def log_if_spread(ax: Axes, values: pd.Series) -> None:
    """A log y axis where the finite values are positive and spread over more than LOG_SPREAD."""
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > LOG_SPREAD:
        log_scale(ax, "y", values.min(), values.max())


def symlog_if_spread(ax: Axes, pairs: pd.DataFrame) -> bool:
    """A symmetric log y axis where the largest difference dwarfs an arm's typical one (its
    median nonzero size), which a linear axis would flatten onto 0: linear within that typical
    size (down to a power of ten, SYMLOG_DECADES below the largest at most), 0 included,
    logarithmic beyond. Whether it did."""
    size = pairs["difference"].abs()
    typical = size[size > 0].groupby(pairs[ARM]).median()
    if typical.empty or size.max() / typical.min() <= LOG_SPREAD:
        return False
    linear = max(typical.min(), size.max() / 10 ** SYMLOG_DECADES)
    ax.set_yscale("symlog", linthresh=10 ** math.floor(math.log10(linear)))
    _plain_labels(ax.yaxis)
    return True
