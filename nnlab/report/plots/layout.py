"""The layout engine: a panel per facet value (and metric), an axis of arms as wide as its
labels need, and the legends under or beside the panels."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

import matplotlib
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath

from nnlab.report.compare import ARM, Comparison
from nnlab.report.plots.plot_data import PlotData
from nnlab.report.plots.style import (
    ARM_GAP,
    ARMS_PER_LEGEND_ROW,
    AXIS_MARGIN,
    LEGEND_ENTRY,
    MAX_FIGURE_WIDTH,
    PANEL_SIZE,
    PANELS_PER_ROW,
)
from nnlab.report.runs import Outcome

Row = TypeVar("Row")


def panels(count: int, columns: int = PANELS_PER_ROW,
           size: tuple[float, float] = PANEL_SIZE) -> tuple[Figure, list[Axes]]:
    columns = min(count, columns)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(size[0] * columns, size[1] * rows), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def _columns(data: PlotData, count: int) -> int:
    """A column per facet value; without a facet, `count` panels wrap at PANELS_PER_ROW."""
    return len(data.comparisons) if data.design.facet else min(count, PANELS_PER_ROW)


def facet_grid(data: PlotData, rows: Sequence[Row], size: tuple[float, float] = PANEL_SIZE,
               ) -> tuple[Figure, list[tuple[Axes, Comparison, Row]]]:
    """A panel per row item (a metric, say) and facet value: a column per facet value; without
    a facet, the row items wrap at PANELS_PER_ROW."""
    cells = [(comparison, row) for row in rows for comparison in data.comparisons]
    figure, axes = panels(len(cells), _columns(data, len(cells)), size)
    return figure, [(ax, comparison, row) for ax, (comparison, row)
                    in zip(axes, cells, strict=True)]


def panel_title(text: str, comparison: Comparison) -> str:
    return f"{text}\n{comparison.short_title}" if comparison.short_title else text


def _text_width(text: str, size: float) -> float:
    """Inches the text's longest line takes at this font size (points), in the style's font."""
    font = FontProperties(size=size)
    return max(TextToPath().get_text_width_height_descent(line, font, ismath=False)[0]
               for line in text.split("\n")) / 72


def legend_below(figure: Figure, ax: Axes, columns: int = 1) -> None:
    """The legend of one panel under the figure: inside, it would cover some seed's point."""
    figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=columns)


def arm_legend(figure: Figure, data: PlotData, arms: list[str],
               extra: Sequence[Artist] = ()) -> None:
    """A marker per arm in its colour, and any extra handles, under the panels: beside them,
    the legend would take half the width of a one-panel figure."""
    handles = [*(Line2D([], [], ls="", marker="o", color=data.palette[arm],
                        label=data.short_label(arm)) for arm in arms), *extra]
    # Up to ARMS_PER_LEGEND_ROW columns, as many as fit the figure's width: the legend is cut
    # where it is wider. Filled column by column, each as wide as its widest label.
    widths = [_text_width(str(handle.get_label()), matplotlib.rcParams["legend.fontsize"])
              for handle in handles]
    columns = min(len(handles), ARMS_PER_LEGEND_ROW)
    while columns > 1:
        rows = math.ceil(len(handles) / columns)
        width = sum(LEGEND_ENTRY + max(widths[i:i + rows]) for i in range(0, len(handles), rows))
        if width <= figure.get_figwidth():
            break
        columns -= 1
    figure.legend(handles=handles, loc="outside lower center", title=data.design.arm_title,
                  ncols=columns)


@dataclass(frozen=True)
class ArmAxis:
    """A panel's arms on x, a slot each: their values (the axis title names the keys) and what
    has no value to plot, stacked on lines under the tick, or on one slanted line if they do not
    fit side by side."""

    values: list[tuple[str, ...]]
    notes: list[str]  # per arm: "(2 diverged)", or ""
    title: str
    slanted: bool
    slot: float  # inches per arm

    def draw(self, ax: Axes) -> None:
        # Slanted, a label of several lines would run into its neighbour's: one line each.
        between_values, before_note = (", ", " ") if self.slanted else ("\n", "\n")
        labels = [before_note.join(filter(None, [between_values.join(values), note]))
                  for values, note in zip(self.values, self.notes, strict=True)]
        ticks = range(len(labels))
        if self.slanted:
            ax.set_xticks(ticks, labels, rotation=30, ha="right", rotation_mode="anchor")
        else:
            ax.set_xticks(ticks, labels)
        ax.set_xlim(-0.5, len(self.values) - 0.5)
        ax.xaxis.grid(False)  # as seaborn's categorical axes: a line per arm would cut its slot
        ax.set_xlabel(self.title)


def _no_value_notes(runs: pd.DataFrame, arms: list[str], metric: str | None) -> list[str]:
    """Per arm, its runs that have no value to plot: diverged, or finished without `metric`
    (steps_to_threshold, say, of a run that never reached the threshold)."""
    diverged = runs[runs["outcome"] == Outcome.DIVERGED].groupby(ARM).size()
    finished = runs[runs["outcome"] == Outcome.FINISHED]
    missing = (finished[finished[metric].isna()].groupby(ARM).size() if metric
               else pd.Series(dtype=int))
    notes = []
    for arm in arms:
        counts = [f"{count} {what}" for count, what in ((diverged.get(arm, 0), "diverged"),
                                                        (missing.get(arm, 0), "no value"))
                  if count]
        notes.append(f"({', '.join(counts)})" if counts else "")
    return notes


def arm_grid(data: PlotData, rows: Sequence[Row], arms: list[str],
             metric: Callable[[Row], str | None] = lambda row: None,
             ) -> tuple[Figure, list[tuple[Axes, Comparison, Row, ArmAxis]]]:
    """A facet_grid of panels with the arms on x, each panel as wide as its arms' tick labels
    need side by side (the figure up to MAX_FIGURE_WIDTH), each with its ArmAxis to draw once
    the panel is plotted (seaborn sets its own ticks). metric(row): the metric whose missing
    values the labels count."""
    cells = [(comparison, row) for row in rows for comparison in data.comparisons]
    values = [data.arm_values[arm] for arm in arms]
    notes = [_no_value_notes(comparison.runs, arms, metric(row)) for comparison, row in cells]
    size = matplotlib.rcParams["xtick.labelsize"]
    # Each arm's widest label line in any panel; two neighbours' labels, centred on their
    # ticks, meet half of each of them away from the slot's edge.
    widths = [max(_text_width(line, size) for line in [*arm_values, *arm_notes])
              for arm_values, *arm_notes in zip(values, *notes, strict=True)]
    half_pairs = [(left + right) / 2 for left, right in pairwise(widths)] or widths
    needed = AXIS_MARGIN + len(arms) * (max(half_pairs) + ARM_GAP)
    width = max(PANEL_SIZE[0], min(needed, MAX_FIGURE_WIDTH / _columns(data, len(cells))))
    figure, grid = facet_grid(data, rows, (width, PANEL_SIZE[1]))
    slot = (width - AXIS_MARGIN) / len(arms)
    return figure, [(ax, comparison, row,
                     ArmAxis(values, panel, data.design.arm_title, needed > width, slot))
                    for (ax, comparison, row), panel in zip(grid, notes, strict=True)]
