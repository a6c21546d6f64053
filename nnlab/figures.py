"""The per-run figure: the fit (prediction vs truth, or the decision boundary of a 2-D
classifier), the one picture of a run the MLflow UI cannot draw from its logged series (it draws
the training curve from `train_loss`). Plain matplotlib on the Agg canvas: no pyplot state, no
display.

A sweep's worker draws the same figure for every run, so it keeps one Figure per size and
only replaces what it plots: a new Figure builds its axes, ticks and text layouts again, about a
third of the time a figure takes. The picture is the same as on a new Figure (tests check it).
"""

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nnlab import process
from nnlab.data import Dataset
from nnlab.engine import Network, class_probabilities, predict

# This process's cache (nnlab.process): one Figure and its axes per size.
FIGURE_CACHE = "per-run figures"


def _figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    kept = process.cache(FIGURE_CACHE)
    if size not in kept:
        figure = Figure(figsize=size)
        FigureCanvasAgg(figure)
        # Fixed margins: tight_layout draws the figure twice, and the figures are a large share
        # of the time a short run takes.
        figure.subplots_adjust(left=0.16, bottom=0.14, right=0.97, top=0.9)
        kept[size] = figure, figure.add_subplot()
    return kept[size]


def _blank_axes(size: tuple[float, float]) -> tuple[Figure, Axes]:
    """This process's figure of that size and its axes, as a new Figure's would be once the
    labels are set."""
    figure, ax = _figure(size)
    for artist in [*ax.lines, *ax.collections]:
        artist.remove()
    if ax.legend_ is not None:
        ax.legend_.remove()
    ax.set_prop_cycle(None)  # the next line is C0 again
    ax.set_yscale("linear")
    ax.relim()
    ax.set_autoscale_on(True)
    return figure, ax


def _regression_fit(net: Network, data: Dataset, ax: Axes) -> None:
    order = np.argsort(data.x_test[:, 0])
    x = data.x_test[order]
    prediction = predict(net, x)
    for k in range(data.y_test.shape[1]):
        ax.plot(x[:, 0], data.y_test[order, k], color=f"C{k}", lw=3, alpha=0.35,
                label=f"truth, output {k}")
        ax.plot(x[:, 0], prediction[:, k], color=f"C{k}", lw=1, ls="--",
                label=f"prediction, output {k}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)


def decision_boundary(net: Network, data: Dataset, ax: Axes) -> None:
    """The class each point of the plane gets (shaded regions) and the training points."""
    points = np.vstack([data.x_train, data.x_test])
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    classes = class_probabilities(net, grid).argmax(axis=1).reshape(gx.shape)
    n_classes = data.n_classes
    assert n_classes is not None  # a classification dataset
    # viridis, not a diverging map: the middle class of three would be the background's grey.
    ax.contourf(gx, gy, classes, levels=np.arange(n_classes + 1) - 0.5, cmap="viridis",
                vmin=0, vmax=n_classes - 1, alpha=0.3)
    scatter = ax.scatter(data.x_train[:, 0], data.x_train[:, 1], c=data.y_train, s=12,
                         cmap="viridis", vmin=0, vmax=n_classes - 1, edgecolors="k",
                         linewidths=0.3)
    ax.legend(*scatter.legend_elements(), title="class (train)", fontsize=8)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")


def fit(net: Network, data: Dataset, path: Path, title: str) -> bool:
    """Draw the fit when there is a picture of it (1-D regression, 2-D classification)."""
    if data.task == "regression" and data.n_features == 1:
        draw = _regression_fit
    elif data.task == "classification" and data.n_features == 2:
        draw = decision_boundary
    else:
        return False
    figure, ax = _blank_axes((5, 4))
    with np.errstate(all="ignore"):
        draw(net, data, ax)
    ax.set_title(title, fontsize=10)
    figure.savefig(path, dpi=100)
    return True
