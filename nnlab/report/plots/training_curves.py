"""training_curves: train_loss per step, the median and interquartile band of each arm."""

import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from nnlab import contract
from nnlab.report.compare import ARM
from nnlab.report.plots.layout import facet_grid, panel_title
from nnlab.report.plots.plot_data import Drawn, PlotData
from nnlab.report.plots.scales import log_if_spread
from nnlab.report.plots.style import PANEL_SIZE, metric_label
from nnlab.report.runs import Outcome

LINE_STYLES = ("-", "--", ":", "-.")  # one per value of an arm's second key
WIDE_PANEL = (8.0, 4.2)  # inches: the one panel of an unfaceted figure with many lines
MANY_ARMS = 4  # beyond this many arms, the seeds and bands are drawn fainter
LOSS_KEY = "loss"  # the param that chooses the training loss


def _line_styles(data: PlotData, arms: list[str]) -> dict[str, str]:
    """A line style per value of the second arm key (solid, dashed...), so that arms of two keys
    differ by more than a colour; solid for all with one key."""
    if len(data.design.arm_keys) < 2:
        return dict.fromkeys(arms, "-")
    seconds = list(dict.fromkeys(data.arm_values[arm][1] for arm in arms))
    return {arm: LINE_STYLES[seconds.index(data.arm_values[arm][1]) % len(LINE_STYLES)]
            for arm in arms}


CAPTION = (f"{contract.TRAIN_LOSS_SERIES} per step: each seed faintly, the median over seeds in "
           "bold, the interquartile range shaded; with two arm keys, the line style tells the "
           "second one's value.")


def draw(data: PlotData) -> Drawn:
    """train_loss per step: every seed faintly, the median and the interquartile band per arm."""
    curves = data.curves
    if curves.empty:
        return Drawn(None, f"no finished run logged {contract.TRAIN_LOSS_SERIES}")
    arms = [arm for arm in data.design.sorted_arms if arm in set(curves[ARM])]
    styles = _line_styles(data, arms)
    # Many arms' seeds and bands, drawn as for a few, would bury the medians.
    faint = min(1.0, MANY_ARMS / len(arms))
    ylabel = metric_label(contract.TRAIN_LOSS_SERIES)
    if LOSS_KEY in data.design.arm_keys:
        ylabel += ":\neach arm's own loss, not comparable across arms"
    figure, cells = facet_grid(data, [None], WIDE_PANEL if len(data.comparisons) == 1
                               else PANEL_SIZE)
    counts: dict[str, list[str]] = {arm: [] for arm in arms}  # seeds per panel
    for ax, comparison, _ in cells:
        panel = curves[curves["run_id"].isin(comparison.finished["run_id"])]
        sns.lineplot(data=panel, x="step", y="value", hue=ARM, hue_order=arms,
                     palette=data.palette, units="run_id", estimator=None, lw=0.5,
                     alpha=0.15 * faint, legend=False, zorder=1, ax=ax)
        # Quantiles in one groupby: seaborn's own estimator runs Python per step (1 s for 300).
        quartiles = np.array([0.25, 0.5, 0.75])
        bands = panel.groupby([ARM, "step"])["value"].quantile(quartiles).unstack()
        seeds = panel.groupby(ARM)["run_id"].nunique()
        for arm in arms:
            counts[arm].append(str(seeds.get(arm, 0)))
            if arm not in seeds:
                continue
            band = bands.loc[arm]
            ax.fill_between(band.index, band[0.25], band[0.75], color=data.palette[arm],
                            alpha=0.25 * faint, lw=0, zorder=2)
            # Every median over every band: a band drawn later would veil the medians before.
            ax.plot(band.index, band[0.5], color=data.palette[arm], ls=styles[arm], lw=2,
                    zorder=3)
        log_if_spread(ax, panel["value"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step (optimizer update)")
        ax.set_ylabel(ylabel)
        diverged = int((comparison.runs["outcome"] == Outcome.DIVERGED).sum())
        not_drawn = f" ({diverged} diverged runs not drawn)" if diverged else ""
        ax.set_title(panel_title("Training curves" + not_drawn, comparison))
    handles = [Line2D([], [], color=data.palette[arm], ls=styles[arm], lw=2,
                      label=f"{data.short_label(arm)} (n={'/'.join(counts[arm])})")
               for arm in arms]
    figure.legend(handles=handles, loc="outside right upper",
                  title=f"{data.design.arm_title}:\nmedian, IQR band"
                  + ("\n(n per panel)" if data.design.facet else ""))
    return Drawn(figure)
