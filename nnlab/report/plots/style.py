"""The look of every report figure (STYLE, which render applies) and the sizes the layout
works in."""

from typing import Any

import seaborn as sns

from nnlab import contract

# The one place the look of the reports is set; render() applies it around every figure, so
# nothing leaks into the matplotlib state of a notebook that imports the report. The figures are
# shown scaled to the page's width (a 1440 px figure at about 60%): text smaller than this scale's
# would be hard to read there.
STYLE: dict[Any, Any] = {**sns.axes_style("whitegrid"),
                         **sns.plotting_context("notebook", font_scale=0.9)}
PALETTE = "colorblind"
# Two series that are not arms (train and test, L1 and L2): greys and markers, as colours mean
# arms in every other figure of a report.
NON_ARM_STYLES = ({"color": "0.1", "marker": "o"}, {"color": "0.55", "marker": "s"})
DPI = 120
PANEL_SIZE = (4.0, 3.6)  # inches per metric panel; wider when the arms' labels need it
PANELS_PER_ROW = 3
MAX_FIGURE_WIDTH = 12.8  # inches: arm panels widen up to this in all; beyond, labels slant
AXIS_MARGIN = 0.8  # inches of an arm panel taken by the y axis's labels
ARM_GAP = 0.08  # inches between the tick labels of two arms
# Inches a legend entry takes besides its label: handle, padding, the space between columns.
LEGEND_ENTRY = 0.7
ARMS_PER_LEGEND_ROW = 3
POINT_SIZE = 3.5  # points: a run's marker over the boxes
METRIC_LABELS = {
    "test_loss": "test loss (per sample)",
    "final_train_loss": "final train loss (per sample)",
    contract.TRAIN_LOSS_SERIES: "train loss (batch, per sample)",
    "test_mse": "test MSE",
    "test_mae": "test MAE",
    "test_accuracy": "test accuracy (fraction)",
    "train_accuracy": "train accuracy (fraction)",
    "test_logloss": "test log-loss (nats)",
    "train_time_s": "training time (s)",
    "steps": "steps (updates)",
    "time_per_step_ms": "time per step (ms)",
    "steps_to_threshold": "steps to the loss threshold (updates)",
    "dead_units_frac": "dead hidden units (fraction)",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)
