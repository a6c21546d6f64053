"""decision_boundaries: one seed's trained net per arm, its decision regions over its data."""

import math

import numpy as np

from nnlab import figures
from nnlab.report.compare import ARM
from nnlab.report.plots.layout import panel_title, panels
from nnlab.report.plots.plot_data import Drawn, PlotData

BOUNDARY_PANEL = (3.2, 3.0)  # inches per decision-boundary panel
BOUNDARIES_PER_ROW = 4

CAPTION = ("One trained net per arm, all of the same seed (so the arms share their data, and "
           "their initial weights where their layer sizes and init agree): the shaded regions "
           "are the class it predicts, the points its training set.")


def draw(data: PlotData) -> Drawn:
    """One seed's trained net per arm: its decision regions and its training points."""
    arms = list(data.design.sorted_arms)
    cells = [(comparison, arm) for comparison in data.comparisons for arm in arms]
    seeds = set.intersection(*(set(c.finished.loc[c.finished[ARM] == arm, "seed"])
                               for c, arm in cells))
    if not seeds:
        return Drawn(None, "no seed finished in every arm")
    seed = min(seeds)
    run_ids = [c.finished.loc[(c.finished[ARM] == arm) & (c.finished["seed"] == seed),
                              "run_id"].iloc[0] for c, arm in cells]
    first = data.load_fit(run_ids[0])
    if first[1].task != "classification" or first[1].n_features != 2:
        return Drawn(None, f"the dataset, {first[1].name}, is not a 2-D classification")
    # Each facet value starts a row of its own; its rows as even as can be (5 arms: 3 + 2, not
    # 4 + 1).
    columns = math.ceil(len(arms) / math.ceil(len(arms) / BOUNDARIES_PER_ROW))
    per_value = math.ceil(len(arms) / columns) * columns
    figure, grid = panels(len(data.comparisons) * per_value, columns, BOUNDARY_PANEL)
    axes = [grid[value * per_value + i] for value in range(len(data.comparisons))
            for i in range(len(arms))]
    for unused in set(grid) - set(axes):
        unused.set_visible(False)
    for ax, (comparison, arm), run_id in zip(axes, cells, run_ids, strict=True):
        net, dataset = first if run_id == run_ids[0] else data.load_fit(run_id)
        # A saturated unit overflows exp() on the far corners of the grid: harmless there.
        with np.errstate(all="ignore"):
            figures.decision_boundary(net, dataset, ax)
        ax.grid(False)
        ax.set_title(panel_title(arm, comparison))
    legends = [ax.get_legend() for ax in axes]
    first = legends[0]
    assert first is not None  # figures.decision_boundary draws one on every panel
    figure.legend([handle for handle in first.legend_handles if handle is not None],
                  [text.get_text() for text in first.texts],
                  title=first.get_title().get_text(), loc="outside right upper")
    for legend in legends:
        if legend is not None:
            legend.remove()
    figure.suptitle(f"Decision regions, seed {seed}")
    every = f"every arm and {data.design.facet} value" if data.design.facet else "every arm"
    return Drawn(figure, f"Seed {seed}: the lowest seed whose run finished in {every}.")
